#!/usr/bin/env bash
# Runs every check and test on real infrastructure. Called by `./faultline test` (and so by CI)
# with Node 24 and pnpm already on PATH. Extra arguments go to turbo (e.g. --filter=@faultline/kit).
#
# Infrastructure: with FAULTLINE_INFRA=external the tests use the URLs already in the
# environment (DATABASE_URL, REDIS_URL, …). Otherwise the native topology is started
# (idempotent: a running component is left alone) and stopped again at the end if this
# script started it, unless FAULTLINE_KEEP_INFRA=1.
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

log="$(mktemp -t faultline-test.XXXXXX)"
status=0
# Packages run one at a time: tests isolate their state, but the infra tests and the chaos
# experiments put toxics on the shared Toxiproxy proxies and stop components, which would
# disturb another package's tests running at the same moment.
pnpm exec turbo run lint typecheck test --concurrency=1 --log-prefix=task --output-logs=full "$@" 2>&1 \
  | tee "$log" || status=$?

# One closing line for the whole run, summed over every package's node:test summary.
awk '/ℹ pass [0-9]+$/ { p += $NF } /ℹ fail [0-9]+$/ { f += $NF } /ℹ skipped [0-9]+$/ { s += $NF }
     END { printf "\n%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$status"
