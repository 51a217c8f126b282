#!/usr/bin/env bash
# Runs every check and test on real infrastructure. Called by `./faultline test` (and so by CI)
# with Node 24 and pnpm already on PATH.
#
# Infrastructure: if FAULTLINE_INFRA=external, the tests use the URLs already in the
# environment (DATABASE_URL, REDIS_URL, …). Otherwise the native topology is started
# (idempotent: a running component is left alone) and stopped again at the end unless it
# was already running or FAULTLINE_KEEP_INFRA=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

started_here=0
if [ "${FAULTLINE_INFRA:-native}" != "external" ]; then
  if ! node packages/infra/src/cli.ts status --quiet; then
    node packages/infra/src/cli.ts up
    started_here=1
  fi
fi
cleanup() {
  if [ "$started_here" = 1 ] && [ "${FAULTLINE_KEEP_INFRA:-0}" != 1 ]; then
    node packages/infra/src/cli.ts down || true
  fi
}
trap cleanup EXIT

pnpm exec biome check .
pnpm exec turbo run typecheck test --concurrency=1 --output-logs=errors-only "$@"
