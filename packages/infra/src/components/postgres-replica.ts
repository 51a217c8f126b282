import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { InfraContext } from '../component.ts'
import { componentDir, daemonComponent } from '../daemon.ts'
import { runChecked } from '../process.ts'
import { credentials, ports } from '../topology.ts'
import { primaryDataDir } from './postgres.ts'
import {
  assertWritableByPostgres,
  chownToPostgres,
  installPostgres,
  pgBin,
  pgIsReady,
  postgresExecutable,
  postgresOsUser,
  psql,
  socketDir,
  systemIdentifier,
  writeInstanceConf,
} from './postgres-common.ts'

const name = 'postgres-replica'
const port = ports.postgresReplica
const dataDir = (ctx: InfraContext) => join(componentDir(ctx, name), 'data')
const sockets = (ctx: InfraContext) => socketDir(ctx, name, port)

/** Clone the running primary: a streaming standby (`-R` writes standby.signal and primary_conninfo). */
async function baseBackup(ctx: InfraContext): Promise<void> {
  const dir = componentDir(ctx, name)
  rmSync(dataDir(ctx), { recursive: true, force: true })
  chownToPostgres(dir)
  await assertWritableByPostgres(dir)
  ctx.log(`${name}: pg_basebackup from 127.0.0.1:${ports.postgresPrimary}…`)
  await runChecked(
    `${pgBin}/pg_basebackup`,
    ['-h', '127.0.0.1', '-p', String(ports.postgresPrimary), '-U', credentials.replicationUser].concat([
      '-D',
      dataDir(ctx),
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
      '-w',
    ]),
    {
      ...postgresOsUser(),
      cwd: dir,
      env: { ...process.env, PGPASSWORD: credentials.replicationPassword },
    },
  )
}

async function walReceiverStatus(ctx: InfraContext): Promise<string> {
  return psql(sockets(ctx), port, 'SELECT status FROM pg_stat_wal_receiver').catch(() => '')
}

export const postgresReplica = daemonComponent({
  name,
  dependsOn: ['postgres'],
  ports: [port],
  address: `127.0.0.1:${port}`,
  executable: () => postgresExecutable,
  install: (ctx) => installPostgres(ctx, name),
  ownPidFile: (ctx) => join(dataDir(ctx), 'postmaster.pid'),
  async prepare(ctx) {
    const cloned = existsSync(join(dataDir(ctx), 'PG_VERSION'))
    const ours = await systemIdentifier(dataDir(ctx))
    const primary = await systemIdentifier(primaryDataDir(ctx))
    if (cloned && ours !== primary) {
      ctx.log(`${name}: the primary was re-initialised since this replica was cloned; cloning again`)
    }
    if (!cloned || ours !== primary) await baseBackup(ctx)
    mkdirSync(sockets(ctx), { recursive: true })
    chownToPostgres(sockets(ctx))
    writeInstanceConf(dataDir(ctx), port, sockets(ctx))
  },
  command: (ctx) => ({
    command: postgresExecutable,
    args: ['-D', dataDir(ctx)],
    cwd: componentDir(ctx, name),
    env: { PATH: process.env.PATH, LANG: 'C.UTF-8' },
    ...postgresOsUser(),
  }),
  // Accepting read-only connections is not enough: a standby that stopped streaming (primary down,
  // WAL it needs already recycled) serves stale reads forever. Healthy = answering and streaming.
  healthy: async (ctx) => (await pgIsReady(port)) && (await walReceiverStatus(ctx)) === 'streaming',
  async detail(ctx) {
    return `standby, wal receiver: ${(await walReceiverStatus(ctx)) || 'not connected'}`
  },
  stopSignal: 'SIGINT',
  startTimeoutMs: 60_000,
  stopTimeoutMs: 20_000,
})
