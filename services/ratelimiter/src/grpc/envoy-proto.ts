/**
 * Envoy's rate limit service protocol, loaded at run time from Envoy's own
 * `envoy/service/ratelimit/v3/rls.proto` — the copy of envoyproxy/data-plane-api that
 * `@grpc/grpc-js-xds` ships under `deps/envoy-api` — so the wire format is Envoy's, not a
 * hand-written imitation that could drift from it.
 *
 * The proto imports udpa/xds annotations, protoc-gen-validate rules and Google's well-known
 * types; the include directories are found beside it in the installed package (resolved with
 * Node's module resolution from this package, so pnpm's store layout never appears in a path).
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js'
import { loadSync, type Options } from '@grpc/proto-loader'

export const rlsProtoFile = 'envoy/service/ratelimit/v3/rls.proto'
export const rlsServiceName = 'envoy.service.ratelimit.v3.RateLimitService'

/** The package's dependency folders that `rls.proto` and its imports live in. */
const protoDepFolders = ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'] as const

/**
 * Field names as in the proto (`hits_addend`, `overall_code`), enums as their names (`'OK'`),
 * int64 (a Duration's seconds) as numbers: the shapes Envoy's documentation shows.
 */
export const rlsLoaderOptions: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
}

/** Absolute include directories for `rls.proto`, found in the installed `@grpc/grpc-js-xds`. */
export function envoyProtoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url)
  const packageRoot = dirname(require.resolve('@grpc/grpc-js-xds/package.json'))
  const dirs = protoDepFolders
    .map((folder) => join(packageRoot, 'deps', folder))
    .filter((dir) => existsSync(dir))
  if (!dirs.some((dir) => existsSync(join(dir, rlsProtoFile)))) {
    throw new Error(`${rlsProtoFile} not found under ${packageRoot}/deps: is @grpc/grpc-js-xds installed?`)
  }
  return dirs
}

/** The `RateLimitService` constructor (its `.service` is the definition a server implements). */
export function loadRateLimitService(): ServiceClientConstructor {
  const definition = loadSync(rlsProtoFile, { ...rlsLoaderOptions, includeDirs: envoyProtoIncludeDirs() })
  let service: unknown = loadPackageDefinition(definition)
  for (const name of rlsServiceName.split('.'))
    service = (service as Record<string, unknown> | undefined)?.[name]
  if (typeof service !== 'function') throw new Error(`${rlsServiceName} is not in ${rlsProtoFile}`)
  return service as unknown as ServiceClientConstructor
}
