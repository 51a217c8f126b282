import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { InfraContext } from '../component.ts'
import { componentDir, daemonComponent } from '../daemon.ts'
import { runChecked } from '../process.ts'
import { credentials, ports } from '../topology.ts'
import {
  assertWritableByPostgres,
  chownToPostgres,
  installPostgres,
  pgBin,
  pgHba,
  pgIsReady,
  postgresExecutable,
  postgresOsUser,
  psql,
  quoteIdent,
  quoteLiteral,
  socketDir,
  writeInstanceConf,
} from './postgres-common.ts'

const name = 'postgres'
const port = ports.postgresPrimary
export const primaryDataDir = (ctx: InfraContext) => join(componentDir(ctx, name), 'data')
const sockets = (ctx: InfraContext) => socketDir(ctx, name, port)

async function initdb(ctx: InfraContext): Promise<void> {
  const dir = componentDir(ctx, name)
  const data = primaryDataDir(ctx)
  // A data dir without PG_VERSION is what a failed initdb leaves: start over.
  rmSync(data, { recursive: true, force: true })
  chownToPostgres(dir)
  await assertWritableByPostgres(dir)
  // Like the official image, the configured user is the bootstrap superuser (there is no `postgres` role).
  const pwfile = join(dir, '.initdb-password')
  writeFileSync(pwfile, `${credentials.postgresPassword}\n`, { mode: 0o600 })
  chownToPostgres(pwfile)
  ctx.log(`${name}: initdb…`)
  try {
    await runChecked(
      `${pgBin}/initdb`,
      [
        '-D',
        data,
        '-U',
        credentials.postgresUser,
        `--pwfile=${pwfile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--no-locale',
      ],
      { ...postgresOsUser(), cwd: dir },
    )
  } finally {
    rmSync(pwfile, { force: true })
  }
  writeFileSync(join(data, 'pg_hba.conf'), pgHba)
  chownToPostgres(join(data, 'pg_hba.conf'))
}

/** The application database and the replication role, created once and checked on every `up`. */
async function ensureRolesAndDatabase(ctx: InfraContext): Promise<void> {
  const c = credentials
  await psql(
    sockets(ctx),
    port,
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(c.replicationUser)}) THEN ` +
      `CREATE ROLE ${quoteIdent(c.replicationUser)} WITH REPLICATION LOGIN PASSWORD ${quoteLiteral(c.replicationPassword)}; ` +
      'END IF; END $$',
  )
  const exists = await psql(
    sockets(ctx),
    port,
    `SELECT 1 FROM pg_database WHERE datname = ${quoteLiteral(c.postgresDb)}`,
  )
  if (exists !== '1') {
    ctx.log(`${name}: creating database ${c.postgresDb}`)
    await psql(
      sockets(ctx),
      port,
      `CREATE DATABASE ${quoteIdent(c.postgresDb)} OWNER ${quoteIdent(c.postgresUser)}`,
    )
  }
}

export const postgres = daemonComponent({
  name,
  dependsOn: [],
  ports: [port],
  address: `127.0.0.1:${port}`,
  executable: () => postgresExecutable,
  install: (ctx) => installPostgres(ctx, name),
  ownPidFile: (ctx) => join(primaryDataDir(ctx), 'postmaster.pid'),
  async prepare(ctx) {
    if (!existsSync(join(primaryDataDir(ctx), 'PG_VERSION'))) await initdb(ctx)
    mkdirSync(sockets(ctx), { recursive: true })
    chownToPostgres(sockets(ctx))
    writeInstanceConf(primaryDataDir(ctx), port, sockets(ctx))
  },
  command: (ctx) => ({
    command: postgresExecutable,
    args: ['-D', primaryDataDir(ctx)],
    cwd: componentDir(ctx, name),
    env: { PATH: process.env.PATH, LANG: 'C.UTF-8' },
    ...postgresOsUser(),
  }),
  healthy: () => pgIsReady(port),
  afterHealthy: ensureRolesAndDatabase,
  async detail(ctx) {
    const replicas = await psql(sockets(ctx), port, 'SELECT count(*) FROM pg_stat_replication')
    return `primary, ${replicas} streaming replica(s)`
  },
  // SIGINT is Postgres' "fast" shutdown: SIGTERM ("smart") would wait for every pooled client to leave.
  stopSignal: 'SIGINT',
  startTimeoutMs: 60_000,
  stopTimeoutMs: 20_000,
})
