#!/usr/bin/env node
/**
 * `infra up|down|status|logs [component…]`: the native topology as plain processes under
 * `<repo>/.faultline/infra/<component>/`. Progress goes to stderr, tables to stdout.
 */
import { parseArgs } from 'node:util'
import { type ComponentStatus, MissingPrerequisiteError } from './component.ts'
import { defaultContext } from './paths.ts'
import { tailFile } from './process.ts'
import { componentNames, selectComponents } from './registry.ts'
import { infraDown, infraStatus, infraUp } from './runner.ts'
import { ports, proxies } from './topology.ts'

function usage(): string {
  const proxyRows = Object.values(proxies).map(
    (proxy) => `  ${proxy.name.padEnd(18)} ${String(proxy.upstreamPort).padEnd(8)} ${proxy.listenPort}`,
  )
  return [
    'usage: faultline infra <command> [component…] [options]',
    '',
    'commands:',
    '  up      install what is missing, start, wait until healthy (idempotent; dependencies included)',
    '  down    stop (SIGTERM, SIGKILL after a deadline) in reverse order; data is kept',
    '  status  table of every component; exit 0 only when all are healthy',
    "  logs    print the tail of one component's log",
    '',
    'options:',
    '  --quiet       status: print nothing, only the exit code',
    '  --json        status: print JSON instead of a table',
    '  -n, --lines N logs: number of lines (default 100)',
    '  -h, --help    this text',
    '',
    `components (start order): ${componentNames().join(', ')}`,
    'state: <repo>/.faultline/infra/<component>/ (data, config, pidfile, <component>.log)',
    '',
    'ports (services connect through the Toxiproxy port; direct ports are for admin):',
    `  ${'component'.padEnd(18)} ${'direct'.padEnd(8)} via toxiproxy`,
    ...proxyRows,
    `  ${'toxiproxy api'.padEnd(18)} ${ports.toxiproxyApi}`,
    `  ${'kafka controller'.padEnd(18)} ${ports.kafkaController}`,
    `  ${'kafka direct'.padEnd(18)} ${ports.kafkaDirect}`,
  ].join('\n')
}

function table(statuses: ComponentStatus[]): string {
  const rows = statuses.map((s) => [
    s.name,
    s.healthy ? 'healthy' : s.running ? 'unhealthy' : 'stopped',
    s.pid === undefined ? '-' : String(s.pid),
    s.address,
    s.detail ?? '',
  ])
  const header = ['COMPONENT', 'STATE', 'PID', 'ADDRESS', 'DETAIL']
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)))
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quiet: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      lines: { type: 'string', short: 'n', default: '100' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const [command, ...names] = positionals
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${usage()}\n`)
    return command === undefined && !values.help ? 2 : 0
  }
  const ctx = defaultContext()
  switch (command) {
    case 'up': {
      const started = Date.now()
      await infraUp(names, ctx)
      ctx.log(`up: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      return 0
    }
    case 'down':
      await infraDown(names, ctx)
      return 0
    case 'status': {
      const statuses = await infraStatus(names, ctx)
      if (values.json) process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`)
      else if (!values.quiet) process.stdout.write(`${table(statuses)}\n`)
      return statuses.every((s) => s.healthy) ? 0 : 1
    }
    case 'logs': {
      if (names.length !== 1)
        throw new Error(`logs takes exactly one component: ${componentNames().join(', ')}`)
      const [component] = selectComponents(names, false)
      if (component === undefined) return 1
      const file = component.logFile(ctx)
      const text = tailFile(file, Number.parseInt(values.lines, 10) || 100)
      process.stdout.write(text === '' ? `(no log yet at ${file})\n` : `${text}\n`)
      return 0
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${usage()}\n`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: Error) => {
    const prefix = err instanceof MissingPrerequisiteError ? '' : `${err.name}: `
    process.stderr.write(`[infra] error: ${prefix}${err.message}\n`)
    process.exitCode = 1
  },
)
