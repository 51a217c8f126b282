import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { InfraContext } from '../component.ts'
import { componentDir, daemonComponent } from '../daemon.ts'
import { type GoBinary, goBinaryPath, goInstall } from '../go.ts'
import { credentials, ports } from '../topology.ts'
import { httpAnswers } from '../wait.ts'

const name = 's3'

export const versitygwBinary: GoBinary = {
  module: 'github.com/versity/versitygw',
  pkg: 'github.com/versity/versitygw/cmd/versitygw',
  version: 'v1.8.0',
  builtName: 'versitygw',
  target: 'versitygw',
}

/** Buckets are directories under here; object metadata lives in extended attributes (ext4, xfs …). */
const bucketsDir = (ctx: InfraContext) => join(componentDir(ctx, name), 'buckets')

/** An S3 API (versitygw, posix backend) with the root keys of the port table's credentials. */
export const s3 = daemonComponent({
  name,
  dependsOn: [],
  ports: [ports.s3],
  address: `127.0.0.1:${ports.s3}`,
  executable: (ctx) => goBinaryPath(ctx, versitygwBinary),
  install: async (ctx) => {
    await goInstall(ctx, name, versitygwBinary)
  },
  async prepare(ctx) {
    mkdirSync(bucketsDir(ctx), { recursive: true })
  },
  command: (ctx) => ({
    command: goBinaryPath(ctx, versitygwBinary),
    // --quiet: no line per request (a load test would fill the log). --keep-alive: versitygw
    // closes every connection after its response unless told otherwise (S3 itself keeps them),
    // and a new TCP connection per request cost the photo worker ≈ 6 % of its main thread.
    args: ['--port', `127.0.0.1:${ports.s3}`, '--quiet', '--keep-alive', 'posix', bucketsDir(ctx)],
    cwd: componentDir(ctx, name),
    // Keys through the environment so they do not show in `ps`.
    env: {
      ...process.env,
      ROOT_ACCESS_KEY: credentials.s3AccessKey,
      ROOT_SECRET_KEY: credentials.s3SecretKey,
    },
  }),
  healthy: () => httpAnswers(`http://127.0.0.1:${ports.s3}/`),
})
