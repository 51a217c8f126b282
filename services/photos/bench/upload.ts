#!/usr/bin/env node
/**
 * Upload MB/s of 10 MB files streamed through `POST /api/photos` vs a raw S3 PutObject of the same
 * bytes to the same S3 server, in one run on one machine (issue 13: target ≥ 0.8×). A
 * measurement, not a test: it prints whether the target was met and never fails on it.
 *
 * Both paths go DIRECT to S3 (127.0.0.1, versitygw's own port), not through Toxiproxy: the API
 * process is configured with the direct endpoint, and the raw PUTs use it too. The paths take
 * turns round by round (api, proxy-form, proxy-pipe, raw-signed, raw-unsigned, …), so drift on a
 * shared machine falls on all of them alike; the ceiling is the faster raw PUT (see upload-runs.ts).
 * The two proxy paths put a bare Fastify (upload-proxy.ts) in the API's place: what a process in
 * between costs at all, and with the form parsed and hashed, the least the upload contract costs.
 *
 *   flock /tmp/faultline-infra.lock node services/photos/bench/upload.ts
 *   flock /tmp/faultline-infra.lock node services/photos/bench/upload.ts --rounds 20 --concurrency 2
 *
 * Writes results/photos/upload/<timestamp>/{upload.json,upload.md}. The API runs in its own world
 * (schema lab_benchupload, prefixes and bucket lab-benchupload), no worker (the uploads' jobs wait
 * and are removed with the world), emptied at the start and the end.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  cpuSecondsByGroup,
  envPairs,
  linkLatest,
  machineLine,
  markdownTable,
  num,
  parseBenchCli,
  startChild,
  stopChild,
  waitForHttp,
  writeJson,
} from '@faultline/bench'
import { startPhotos } from '../src/bench-target.ts'
import { createS3 } from '../src/storage/s3-client.ts'
import { S3Gate } from '../src/storage/s3-gate.ts'
import { beginRun, openWorld } from './processing-system.ts'
import {
  diagnosticPaths,
  emptyTotals,
  mbPerSecond,
  type PathTotals,
  paths,
  stamp,
  type UploadPath,
  uploadRound,
} from './upload-runs.ts'

const usage = `Usage: node services/photos/bench/upload.ts [options]

Upload MB/s through POST /api/photos (multipart, streamed to S3) vs a raw S3 PutObject of the same
bytes to the same S3 server (both direct, no Toxiproxy), in the same run. Needs the native infra;
run it under the infra lock. About 40 s with the defaults.

  --rounds N        rounds per path (default 10); the paths take turns
  --concurrency N   uploads at once in a round (default 1)
  --size-mb N       file size in MB (10^6 bytes; default 10)
  --port N          the API's port (default 3362); the in-between ceiling (upload-proxy.ts) uses N+1
  --diagnose        also time the service's storage call (putStream) from the bench: as configured
                    (5 MiB parts, signed) and with 16 MiB parts, unsigned (see upload-runs.ts)
  --profile         write CPU profiles of the API and of the proxy (node --cpu-prof) to the results
                    folder
  --env NAME=VALUE  extra env for the API (repeatable), e.g. --env UPLOAD_SINGLE_PUT=0 for the
                    multipart path (5 MiB parts) the API takes when a form's length is unknown
  --out DIR         results root (default <repo>/results)
  -h, --help`

// An unknown or malformed flag: one line naming it and the usage, exit 2 (not a stack trace).
const { values, positive, fail } = parseBenchCli(
  {
    rounds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1' },
    'size-mb': { type: 'string', default: '10' },
    port: { type: 'string', default: '3362' },
    profile: { type: 'boolean', default: false },
    diagnose: { type: 'boolean', default: false },
    env: { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  usage,
)
const rounds = positive('rounds')
const concurrency = positive('concurrency')
const sizeBytes = positive('size-mb') * 1_000_000
const port = positive('port')
const target = 0.8
const extraEnv = envPairs(fail, values.env as string[])

const { out, log, machine, command } = await beginRun('upload', values.out)

// The API's own CPU is what the comparison is about: --profile shows where it goes.
const world = await openWorld('benchupload', {
  ...extraEnv,
  ...(values.profile
    ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${out} --cpu-prof-name=api.cpuprofile` }
    : {}),
})
await world.reset()
const s3Options = {
  endpoint: world.config.s3.endpoint,
  region: world.config.s3.region,
  accessKeyId: world.config.s3.accessKeyId,
  secretAccessKey: world.config.s3.secretAccessKey,
}
const signed = createS3(s3Options)
const unsigned = createS3({ ...s3Options, unsignedPayload: true })
const bucket = world.config.s3.bucket
const targets = {
  baseUrl: '',
  proxyUrl: `http://127.0.0.1:${port + 1}`,
  bucket,
  signed,
  unsigned,
  signedGate: new S3Gate({ client: signed, bucket }),
  unsignedGate: new S3Gate({ client: unsigned, bucket }),
}
const active: readonly UploadPath[] = values.diagnose ? [...paths, ...diagnosticPaths] : paths
// Random bytes: incompressible, like a JPEG. One buffer per slot, restamped per upload.
const buffers = Array.from({ length: concurrency }, () => randomBytes(sizeBytes))
let serial = 0
const restamp = () => buffers.map((b) => stamp(b, ++serial))
const sys = await startPhotos({ port, logDir: out, worker: false }, world.env)
targets.baseUrl = sys.baseUrl
const proxy = startChild({
  name: 'upload-proxy',
  command: process.execPath,
  args: [join(import.meta.dirname, 'upload-proxy.ts')],
  env: {
    PORT: String(port + 1),
    S3_ENDPOINT: s3Options.endpoint,
    S3_REGION: s3Options.region,
    S3_ACCESS_KEY: s3Options.accessKeyId,
    S3_SECRET_KEY: s3Options.secretAccessKey,
    S3_BUCKET: bucket,
    ...(values.profile
      ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${out} --cpu-prof-name=proxy.cpuprofile` }
      : {}),
  },
  logFile: join(out, 'upload-proxy.log'),
})
try {
  await waitForHttp(`${targets.proxyUrl}/health`, { child: proxy })
  const totals = Object.fromEntries(active.map((p) => [p, emptyTotals()])) as Record<UploadPath, PathTotals>
  log('warm-up: one round of each path')
  for (const path of active) await uploadRound(targets, path, restamp(), 'bench-warmup', emptyTotals())
  const known = new Map([
    [process.pid, 'bench (client)'],
    [sys.api?.pid ?? 0, 'api'],
    [proxy.pid, 'proxy'],
  ])
  // CPU seconds by process group, summed over each path's rounds: where each path's cost lies.
  const cpu = Object.fromEntries(active.map((p) => [p, new Map<string, number>()])) as Record<
    UploadPath,
    Map<string, number>
  >
  log(`${rounds} rounds × ${concurrency} × ${sizeBytes / 1e6} MB per path`)
  for (let round = 0; round < rounds; round++) {
    for (const path of active) {
      const before = cpuSecondsByGroup(known)
      await uploadRound(targets, path, restamp(), `bench-${round}`, totals[path])
      for (const [group, seconds] of cpuSecondsByGroup(known)) {
        const used = seconds - (before.get(group) ?? 0)
        if (used > 0) cpu[path].set(group, (cpu[path].get(group) ?? 0) + used)
      }
    }
  }
  const rates = Object.fromEntries(active.map((p) => [p, mbPerSecond(totals[p])])) as Record<
    UploadPath,
    number | null
  >
  const raws = [rates['raw-signed'], rates['raw-unsigned']].filter((v): v is number => v !== null)
  const ceiling = raws.length > 0 ? Math.max(...raws) : null
  const ratio = ceiling && rates.api !== null ? rates.api / ceiling : null
  const result = {
    schema: 'faultline.photos-upload/1',
    finishedAt: new Date().toISOString(),
    machine,
    command,
    s3: `direct, ${world.config.s3.endpoint} (no Toxiproxy on either path)`,
    rounds,
    concurrency,
    sizeBytes,
    totals,
    mbPerSecond: rates,
    ceilingMBps: ceiling,
    ratio,
    ratioVsSigned: rates['raw-signed'] && rates.api !== null ? rates.api / rates['raw-signed'] : null,
    // The in-between ceilings against the same raw PUT, and the API against the least a process
    // in between does: how much of the gap is the hop and the contract, how much the API's own.
    proxyRatios: {
      pipe: ratioOf(rates['proxy-pipe'], ceiling),
      form: ratioOf(rates['proxy-form'], ceiling),
      apiVsForm: ratioOf(rates.api, rates['proxy-form']),
    },
    cpuSecondsPerGB: Object.fromEntries(
      active.map((p) => [
        p,
        Object.fromEntries(
          [...cpu[p]]
            .filter(([, s]) => s > 0)
            .sort((a, b) => b[1] - a[1])
            .map(([g, s]) => [
              g,
              totals[p].bytes > 0 ? Math.round((s / (totals[p].bytes / 1e9)) * 100) / 100 : 0,
            ]),
        ),
      ]),
    ) as Record<UploadPath, Record<string, number>>,
    target,
  }
  writeJson(join(out, 'upload.json'), result)
  const md = render(result)
  writeFileSync(join(out, 'upload.md'), md)
  linkLatest(out)
  process.stdout.write(`\n${md}\nResults: ${out}\n`)
} finally {
  await stopChild(proxy)
  await sys.stop()
  targets.signed.destroy()
  targets.unsigned.destroy()
  await world.reset()
  await world.close()
}

function ratioOf(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b > 0 ? a / b : null
}

function render(r: {
  finishedAt: string
  command: string
  s3: string
  totals: Record<UploadPath, PathTotals>
  mbPerSecond: Record<UploadPath, number | null>
  ceilingMBps: number | null
  ratio: number | null
  ratioVsSigned: number | null
  proxyRatios: { pipe: number | null; form: number | null; apiVsForm: number | null }
  cpuSecondsPerGB: Record<UploadPath, Record<string, number>>
}): string {
  const spread = (t: PathTotals) =>
    t.roundMBps.length > 0 ? `${num(Math.min(...t.roundMBps))}–${num(Math.max(...t.roundMBps))}` : '-'
  const what: Record<UploadPath, string> = {
    api: `POST /api/photos multipart → API streams to S3 (${extraEnv.UPLOAD_SINGLE_PUT === '0' ? 'UPLOAD_SINGLE_PUT=0: 5 MiB parts, a multipart upload' : 'one PutObject of the length the form implies'}) → row + job → 201`,
    'proxy-form':
      'the same form to a bare Fastify + @fastify/multipart that hashes the file (SHA-256) and streams it as one PutObject (upload-proxy.ts)',
    'proxy-pipe':
      'the bare bytes PUT to the same proxy, piped as one PutObject (no form, no hash: the extra hop alone)',
    'raw-signed': "PutObject from the bench, the service's S3 client (SigV4, payload hashed)",
    'raw-unsigned': 'PutObject from the bench, UNSIGNED-PAYLOAD',
    'store-5mib-signed': "diagnostic: the service's putStream from the bench, as the API configures it",
    'store-16mib-unsigned':
      'diagnostic: putStream from the bench, 16 MiB parts (one PutObject), UNSIGNED-PAYLOAD',
  }
  return `# Photos: upload MB/s vs a raw S3 PUT (${r.finishedAt})

- Command: \`${r.command}\`
- Machine: ${machineLine(machine)}
- S3: ${r.s3}; ${concurrency} upload(s) at once, ${sizeBytes / 1e6} MB each, ${rounds} rounds per path, paths alternating

${markdownTable(
  ['measure', 'target', 'measured', ''],
  [
    [
      'upload MB/s through the API vs the faster raw S3 PUT, same bytes, same server, same run',
      `≥ ${target}×`,
      `**${num(r.ratio, 2)}×** (${num(r.mbPerSecond.api, 1)} vs ${num(r.ceilingMBps, 1)} MB/s); vs the signed PUT ${num(r.ratioVsSigned, 2)}×`,
      r.ratio !== null && r.ratio >= target ? 'met' : 'NOT met',
    ],
    [
      'a process in between doing only what the contract asks (form, SHA-256) vs the same raw PUT',
      '–',
      `${num(r.proxyRatios.form, 2)}× (${num(r.mbPerSecond['proxy-form'], 1)} MB/s)`,
      'ceiling',
    ],
    [
      'a process in between that only pipes the bytes vs the same raw PUT',
      '–',
      `${num(r.proxyRatios.pipe, 2)}× (${num(r.mbPerSecond['proxy-pipe'], 1)} MB/s)`,
      'ceiling',
    ],
    [
      "the API vs the form-and-hash proxy: the cost of the API's own features",
      '–',
      `${num(r.proxyRatios.apiVsForm, 2)}×`,
      '',
    ],
  ],
)}

${markdownTable(
  ['path', 'files', 'MB/s', 'per round', 'failures', 'what'],
  active.map((p) => [
    p,
    String(r.totals[p].files),
    num(r.mbPerSecond[p], 1),
    spread(r.totals[p]),
    String(r.totals[p].failures.length),
    what[p],
  ]),
)}

Where the machine's CPU went, seconds per GB uploaded, by process (\`other\` is everything this
benchmark did not start: other work on a shared machine):

${markdownTable(
  ['path', 'CPU s per GB by process'],
  active.map((p) => [
    p,
    Object.entries(r.cpuSecondsPerGB[p])
      .map(([group, s]) => `${group} ${num(s, 2)}`)
      .join(', '),
  ]),
)}
`
}
