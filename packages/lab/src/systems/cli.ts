#!/usr/bin/env node
/**
 * `faultline up <system>` / `down [system]` / `ps`: a system running natively in the background,
 * the twin of `docker compose --profile <system> up -d --wait`. `up` starts the infrastructure
 * (idempotent), then the system's processes on their published ports, waits until each answers
 * /healthz, and prints the URLs, the mitigation switches and the next commands to try.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { infraDown, infraStatus, infraUp, k6Binary } from '@faultline/infra'
import { repoRoot } from '../paths.ts'
import { experimentFiles } from '../registry.ts'
import type { SystemDescriptor } from '../system.ts'
import { systemContext, systemProcesses } from './processes.ts'

const usage = `usage: faultline up <system> | down [system] | ps

  up <system>     start the infrastructure (if needed) and the system's processes in the
                  background on their published ports; wait until healthy; print URLs,
                  switches and what to try next. Idempotent.
  down [system]   stop the system's processes (every system's without an argument); then the
                  infrastructure too, if \`up\` started it and no system is left running
  ps              every system's processes: state, pid, URL, log

systems: ${systemNames().join(', ') || '(none)'}
state and logs: .faultline/systems/<system>/<process>/<process>.log`

const log = (message: string) => process.stderr.write(`\x1b[2m[up]\x1b[0m ${message}\n`)
const out = (text: string) => process.stdout.write(`${text}\n`)

/** Systems are the folders `services/<name>/src/system.ts`. */
export function systemNames(): string[] {
  const dir = join(repoRoot, 'services')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'src', 'system.ts')))
    .sort()
}

export async function loadSystem(name: string): Promise<SystemDescriptor> {
  const file = join(repoRoot, 'services', name, 'src', 'system.ts')
  if (!existsSync(file)) {
    throw new Error(
      `no system "${name}" (no services/${name}/src/system.ts). Known: ${systemNames().join(', ')}`,
    )
  }
  const mod = (await import(pathToFileURL(file).href)) as { default?: SystemDescriptor }
  if (!mod.default?.services)
    throw new Error(`services/${name}/src/system.ts has no default export from defineSystem()`)
  return mod.default
}

/** Marks that `up` started the infrastructure, so the last `down` stops it again. */
const infraMarker = join(repoRoot, '.faultline', 'systems', 'infra-started-by-up')

async function infraHealthy(): Promise<boolean> {
  return (await infraStatus()).every((s) => s.healthy)
}

async function runningSystems(): Promise<string[]> {
  const running: string[] = []
  for (const name of systemNames()) {
    const system = await loadSystem(name)
    const ctx = systemContext(name, log)
    const statuses = await Promise.all(systemProcesses(system).map((p) => p.component.status(ctx)))
    if (statuses.some((s) => s.running)) running.push(name)
  }
  return running
}

async function switchesOf(system: SystemDescriptor, url: string): Promise<string[]> {
  let live: Record<string, boolean> = {}
  try {
    const res = await fetch(`${url}/admin/mitigations`, { signal: AbortSignal.timeout(2000) })
    if (res.ok) live = (await res.json()) as Record<string, boolean>
  } catch {}
  const width = Math.max(...system.switches.names.map((n) => n.length))
  return system.switches.names.map((name) => {
    const spec = system.switches.specs[name]
    const on = live[name] ?? spec?.default
    const defends = spec?.defends.length ? ` [${spec.defends.join(', ')}]` : ''
    return `  ${name.padEnd(width)}  ${on ? 'on ' : 'off'}  ${spec?.description ?? ''}${defends}`
  })
}

function nextSteps(system: SystemDescriptor, apiUrl: string): string[] {
  const loadDir = join(repoRoot, 'loadtests', system.name)
  const scripts = existsSync(loadDir)
    ? readdirSync(loadDir)
        .filter((f) => f.endsWith('.js'))
        .sort()
    : []
  const smoke = scripts.includes('smoke.js') ? 'smoke.js' : scripts[0]
  const experiments = experimentFiles()
    .map((f) => relative(join(repoRoot, 'chaos'), f).replace(/\.ts$/, ''))
    .filter((name) => name.startsWith(`${system.name}/`))
  const lines = [
    `  curl -s ${apiUrl}/healthz`,
    `  curl -s -X PUT ${apiUrl}/admin/mitigations -H 'content-type: application/json' -d '{"${system.switches.names[0] ?? 'switch'}":false}'`,
  ]
  if (smoke) lines.push(`  BASE_URL=${apiUrl} ${k6Binary()} run loadtests/${system.name}/${smoke}`)
  if (experiments[0])
    lines.push(
      `  ./faultline lab run ${experiments[0]}    # (stop the system first: ./faultline down ${system.name})`,
    )
  lines.push(`  ./faultline ps`, `  ./faultline down ${system.name}`)
  return lines
}

async function up(name: string): Promise<void> {
  const system = await loadSystem(name)
  if (!(await infraHealthy())) {
    log('starting the infrastructure (./faultline infra up)')
    const wasRunning = (await infraStatus()).some((s) => s.running)
    await infraUp()
    mkdirSync(dirname(infraMarker), { recursive: true })
    if (!wasRunning) writeFileSync(infraMarker, `${new Date().toISOString()}\n`)
  }
  const ctx = systemContext(name, log)
  const processes = systemProcesses(system)
  for (const p of processes) await p.component.up(ctx)
  out(`\n${name} is up:`)
  for (const p of processes)
    out(`  ${p.service.padEnd(8)} ${p.url}   log: ${relative(repoRoot, p.component.logFile(ctx))}`)
  // The URL to try and the switches to flip: the first process that serves users.
  const api = processes.find((p) => p.role === 'http')
  if (!api) return
  out(`\nmitigation switches (GET/PUT ${api.url}/admin/mitigations):`)
  for (const line of await switchesOf(system, api.url)) out(line)
  out('\nnext:')
  for (const line of nextSteps(system, api.url)) out(line)
}

async function down(names: string[]): Promise<void> {
  for (const name of names) {
    const system = await loadSystem(name)
    const ctx = systemContext(name, log)
    for (const p of systemProcesses(system).reverse()) await p.component.down(ctx)
  }
  if (existsSync(infraMarker) && (await runningSystems()).length === 0) {
    log('stopping the infrastructure that `up` started')
    await infraDown()
    rmSync(infraMarker, { force: true })
  }
}

async function ps(): Promise<void> {
  const rows = [['SYSTEM', 'PROCESS', 'STATE', 'PID', 'URL', 'LOG']]
  for (const name of systemNames()) {
    const system = await loadSystem(name)
    const ctx = systemContext(name, log)
    for (const p of systemProcesses(system)) {
      const s = await p.component.status(ctx)
      const state = s.healthy ? 'healthy' : s.running ? 'unhealthy' : 'stopped'
      rows.push([
        name,
        p.service,
        state,
        s.pid === undefined ? '-' : String(s.pid),
        p.url,
        relative(repoRoot, p.component.logFile(ctx)),
      ])
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  for (const row of rows)
    out(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' } },
  })
  const [command, ...names] = positionals
  if (values.help || !command) {
    out(usage)
    return command || values.help ? 0 : 2
  }
  switch (command) {
    case 'up':
      if (names.length !== 1) throw new Error(`up takes one system: ${systemNames().join(', ')}`)
      await up(names[0] as string)
      return 0
    case 'down':
      await down(names.length > 0 ? names : systemNames())
      return 0
    case 'ps':
      await ps()
      return 0
    default:
      out(usage)
      return 2
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`[faultline] error: ${err.message}\n`)
      process.exit(2)
    },
  )
}
