import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDebianPackage } from '../apt.ts'
import { type InfraContext, MissingPrerequisiteError } from '../component.ts'
import { componentDir } from '../daemon.ts'
import { run, runChecked } from '../process.ts'
import { credentials } from '../topology.ts'

/** Debian's Postgres 15, the major version compose runs too. */
export const pgBin = '/usr/lib/postgresql/15/bin'
export const pgPackage = 'postgresql-15'
export const postgresExecutable = `${pgBin}/postgres`

export interface OsUser {
  uid: number
  gid: number
}

/**
 * Postgres refuses to run as root: as root we run it (and initdb, pg_basebackup) as Debian's
 * `postgres` user; as anyone else, as ourselves.
 */
export function postgresOsUser(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'))
  const [, , uid, gid] = line?.split(':') ?? []
  if (uid === undefined || gid === undefined) {
    throw new MissingPrerequisiteError(
      'the `postgres` OS user',
      `it comes with \`apt-get install -y ${pgPackage}\``,
    )
  }
  return { uid: Number(uid), gid: Number(gid) }
}

export async function installPostgres(ctx: InfraContext, component: string): Promise<void> {
  await ensureDebianPackage(ctx, component, pgPackage, postgresExecutable)
  postgresOsUser()
}

/** Give a file or dir we (root) created to the postgres user. */
export function chownToPostgres(path: string): void {
  const user = postgresOsUser()
  if (user) chownSync(path, user.uid, user.gid)
}

/** The postgres user must be able to write into `<stateDir>/<name>` (and so traverse every parent). */
export async function assertWritableByPostgres(dir: string): Promise<void> {
  const user = postgresOsUser()
  if (!user) return
  const result = await run('test', ['-w', dir], user)
  if (result.code !== 0) {
    throw new Error(
      `the postgres OS user cannot write to ${dir}: every parent directory must be searchable by it (chmod o+x), e.g. a clone under /root is not`,
    )
  }
}

/**
 * Unix socket dir: the component's state dir, unless the socket path would exceed the 107-byte
 * limit of sockaddr_un (a deep clone); then a short dir under the OS temp dir.
 */
export function socketDir(ctx: InfraContext, name: string, port: number): string {
  const dir = componentDir(ctx, name)
  if (`${dir}/.s.PGSQL.${port}.lock`.length < 100) return dir
  const hash = Buffer.from(dir).toString('base64url').slice(-12)
  return join(tmpdir(), `faultline-${name}-${hash}`)
}

/**
 * Settings of one instance, rewritten at every start and included from postgresql.conf; anything
 * set with ALTER SYSTEM (postgresql.auto.conf) still wins, so an experiment can tune an instance.
 */
export function writeInstanceConf(dataDir: string, port: number, sockets: string): void {
  const conf = join(dataDir, 'postgresql.conf')
  const include = "include_if_exists = 'faultline.conf'"
  if (!readFileSync(conf, 'utf8').includes(include)) {
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}\n# Faultline native topology\n${include}\n`)
  }
  const file = join(dataDir, 'faultline.conf')
  writeFileSync(
    file,
    [
      '# Written by packages/infra at every start: edit the source, not this file.',
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${sockets}'`,
      '# Only the postgres OS user (and root) may use the trust-authenticated socket.',
      'unix_socket_permissions = 0700',
      'max_connections = 200',
      'wal_level = replica',
      'max_wal_senders = 10',
      "wal_keep_size = '256MB'",
      'hot_standby = on',
      'logging_collector = off',
      "log_line_prefix = '%m [%p] %q%u@%d '",
      '',
    ].join('\n'),
  )
  chownToPostgres(file)
}

/** Local socket: trust (admin only). TCP from 127.0.0.1: passwords (scram), replication included. */
export const pgHba = [
  '# Written by packages/infra (Faultline native topology).',
  'local all all trust',
  'host all all 127.0.0.1/32 scram-sha-256',
  'host replication all 127.0.0.1/32 scram-sha-256',
  '',
].join('\n')

export async function pgIsReady(port: number): Promise<boolean> {
  const result = await run(`${pgBin}/pg_isready`, ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '2'], {
    timeoutMs: 4000,
  })
  return result.code === 0
}

/** One SQL statement over the admin socket as the bootstrap superuser; tuples-only output. */
export async function psql(
  sockets: string,
  port: number,
  sql: string,
  database = 'postgres',
): Promise<string> {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', sockets, '-p', String(port)]
  args.push('-U', credentials.postgresUser, '-d', database, '-c', sql)
  return (await runChecked(`${pgBin}/psql`, args, { timeoutMs: 10_000 })).trim()
}

/** `Database system identifier` of a data dir (identifies the cluster a replica was cloned from). */
export async function systemIdentifier(dataDir: string): Promise<string | undefined> {
  if (!existsSync(join(dataDir, 'global', 'pg_control'))) return undefined
  const result = await run(`${pgBin}/pg_controldata`, [dataDir], { env: { ...process.env, LC_ALL: 'C' } })
  return /Database system identifier:\s+(\d+)/.exec(result.stdout)?.[1]
}

export const quoteLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`
export const quoteIdent = (value: string) => `"${value.replaceAll('"', '""')}"`
