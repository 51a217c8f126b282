/**
 * Calls a rate limit service the way Envoy does: `ShouldRateLimit` of
 * `envoy.service.ratelimit.v3.RateLimitService`, with a client built only from Envoy's own
 * `rls.proto` (shipped by `@grpc/grpc-js-xds` under `deps/envoy-api`) — nothing from this
 * service's source — so it checks the wire contract, not our idea of it.
 *
 *   node services/ratelimiter/scripts/rls-call.ts --addr 127.0.0.1:8081 --domain api \
 *     --descriptor api_key=alice [--descriptor api_key=alice,path=/x] [--hits 3] [--timeout-ms 2000]
 *
 * Prints the response as JSON (proto field names, enum names) and exits 0; on a gRPC error
 * prints `{"error":{"code","details"}}` to stderr and exits 1; bad arguments exit 2.
 * The test suite imports `createRlsClient` and `callShouldRateLimit` from here, so the client a
 * user runs is the one the tests check.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { type Client, credentials, loadPackageDefinition, type ServiceError, status } from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'

const protoFile = 'envoy/service/ratelimit/v3/rls.proto'

export interface RlsCallRequest {
  domain: string
  descriptors: Array<{ entries: Array<{ key: string; value: string }> }>
  hits_addend?: number
}

/** The response as proto-loader decodes it with the options below (a plain object). */
export type RlsCallResponse = {
  overall_code: string
  statuses: Array<{
    code: string
    current_limit: { name: string; requests_per_unit: number; unit: string } | null
    limit_remaining: number
    duration_until_reset: { seconds: number; nanos: number } | null
  }>
  response_headers_to_add: Array<{ key: string; value: string }>
  [field: string]: unknown
}

type ShouldRateLimit = (
  request: RlsCallRequest,
  options: { deadline: Date },
  callback: (err: ServiceError | null, response?: RlsCallResponse) => void,
) => void

export type RlsClient = Client & { ShouldRateLimit: ShouldRateLimit }

/** Include directories for Envoy's proto and its imports, inside the installed package. */
function includeDirs(): string[] {
  const require = createRequire(import.meta.url)
  const root = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps')
  return ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis']
    .map((d) => join(root, d))
    .filter(existsSync)
}

/** A plaintext client for `addr` (`host:port`), built from Envoy's proto alone. */
export function createRlsClient(addr: string): RlsClient {
  const definition = loadSync(protoFile, {
    keepCase: true,
    longs: Number,
    enums: String,
    // bytes fields (raw_body, a header's raw_value) as base64 text, so the output is plain JSON.
    bytes: String,
    defaults: true,
    oneofs: true,
    includeDirs: includeDirs(),
  })
  // biome-ignore lint/suspicious/noExplicitAny: the package tree is built at run time from the proto.
  const Service = (loadPackageDefinition(definition) as any).envoy.service.ratelimit.v3.RateLimitService
  return new Service(addr, credentials.createInsecure()) as RlsClient
}

/** One call; rejects with the gRPC `ServiceError` (its `code` is a `status`). */
export function callShouldRateLimit(
  client: RlsClient,
  request: RlsCallRequest,
  timeoutMs = 2000,
): Promise<RlsCallResponse> {
  return new Promise((resolve, reject) => {
    client.ShouldRateLimit(request, { deadline: new Date(Date.now() + timeoutMs) }, (err, response) =>
      err || !response ? reject(err ?? new Error('empty response')) : resolve(response),
    )
  })
}

/** `key=value[,key=value…]` → entries; an empty string is a descriptor without entries. */
export function parseDescriptor(text: string): Array<{ key: string; value: string }> {
  if (text === '') return []
  return text.split(',').map((pair) => {
    const at = pair.indexOf('=')
    if (at < 0) throw new Error(`--descriptor: "${pair}" is not key=value`)
    return { key: pair.slice(0, at), value: pair.slice(at + 1) }
  })
}

function parseCli(argv: string[]): { addr: string; request: RlsCallRequest; timeoutMs: number } {
  const { values } = parseArgs({
    args: argv,
    options: {
      addr: { type: 'string' },
      domain: { type: 'string' },
      descriptor: { type: 'string', multiple: true },
      hits: { type: 'string' },
      'timeout-ms': { type: 'string', default: '2000' },
    },
    strict: true,
  })
  if (!values.addr) throw new Error('--addr host:port is required')
  const hits = values.hits === undefined ? 0 : Number(values.hits)
  if (!Number.isInteger(hits) || hits < 0) throw new Error('--hits must be a non-negative integer')
  const timeoutMs = Number(values['timeout-ms'])
  if (!(timeoutMs > 0)) throw new Error('--timeout-ms must be a positive number')
  const descriptors = (values.descriptor ?? []).map((d) => ({ entries: parseDescriptor(d) }))
  // Domain and descriptors are sent as given, even empty, so the server's validation can be seen.
  return {
    addr: values.addr,
    request: { domain: values.domain ?? '', descriptors, hits_addend: hits },
    timeoutMs,
  }
}

async function main(): Promise<number> {
  let cli: ReturnType<typeof parseCli>
  try {
    cli = parseCli(process.argv.slice(2))
  } catch (err) {
    console.error(
      `${(err as Error).message}\nusage: rls-call.ts --addr host:port --domain d --descriptor k=v[,k=v] [--hits N]`,
    )
    return 2
  }
  const client = createRlsClient(cli.addr)
  try {
    const response = await callShouldRateLimit(client, cli.request, cli.timeoutMs)
    console.log(JSON.stringify(response, null, 2))
    return 0
  } catch (err) {
    const e = err as ServiceError
    const code = typeof e.code === 'number' ? (status[e.code] ?? e.code) : 'UNKNOWN'
    console.error(JSON.stringify({ error: { code, details: e.details ?? e.message } }))
    return 1
  } finally {
    client.close()
  }
}

if (import.meta.main) process.exitCode = await main()
