import { join } from 'node:path'
import type { InfraContext } from '../component.ts'
import { type GoBinary, goInstall } from '../go.ts'
import { defaultContext } from '../paths.ts'

/**
 * vegeta, a second open-model HTTP load generator, for the one measurement k6 cannot make on a
 * small machine: latency at a fixed rate close to what the machine can serve. k6's
 * constant-arrival-rate executor runs JavaScript for every request and needed more than one of
 * the lab machine's two cores at 8 000 requests/s, so its p99 against a bare hello-world was
 * 20 ms there (the generator's own queueing); vegeta sends that rate on about half a core.
 *
 * Not an infra component (`infra up` does not build it): only the redirect benchmark uses it,
 * and builds it on first use from the Go module proxy, in seconds.
 */
export const vegetaBinary: GoBinary = {
  module: 'github.com/tsenart/vegeta/v12',
  pkg: 'github.com/tsenart/vegeta/v12',
  version: 'v12.13.0',
  builtName: 'vegeta',
  target: 'vegeta',
}

/** Build vegeta into `<cacheDir>/bin/vegeta` if it is missing, and return its path. */
export function ensureVegeta(ctx: InfraContext = defaultContext()): Promise<string> {
  return goInstall(ctx, 'vegeta', vegetaBinary, join(ctx.stateDir, 'vegeta', 'vegeta-build.log'))
}
