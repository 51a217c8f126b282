# syntax=docker/dockerfile:1
#
# One image recipe for every Faultline service. Build it from the repository root:
#
#   docker build -f infra/docker/service.Dockerfile --build-arg SERVICE=shortener -t faultline/shortener .
#
# SERVICE is the folder under services/ and the package is @faultline/<SERVICE>. The image
# runs TypeScript as-is (Node 24 strips types), so there is no build step: the stages only
# cut the workspace down to what the service imports and install production dependencies.
#
# - pruner:  `turbo prune --docker` writes the service's slice of the monorepo: json/ (every
#            package.json in the slice plus a pruned pnpm-lock.yaml) and full/ (their sources).
# - deps:    installs from json/ only, so the install layer stays cached until a manifest or
#            the lockfile changes, not on every source edit.
# - runtime: node:24-slim + tini, production node_modules, sources, non-root.

ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS base
# Must equal `packageManager` in the root package.json (the compose-check test compares them).
ARG PNPM_VERSION=10.34.8
# turbo is only needed to prune; pin the same major the workspace uses.
ARG TURBO_VERSION=2
RUN npm install --global --no-fund --no-audit "pnpm@${PNPM_VERSION}" "turbo@${TURBO_VERSION}"

FROM base AS pruner
ARG SERVICE
WORKDIR /repo
COPY . .
RUN test -n "${SERVICE}" || { echo 'build arg SERVICE is required (e.g. --build-arg SERVICE=shortener)' >&2; exit 1; }
RUN turbo prune "@faultline/${SERVICE}" --docker --out-dir /pruned

FROM base AS deps
WORKDIR /app
COPY --from=pruner /pruned/json/ ./
# --prod: devDependencies (typescript, @types/*) are never needed to run .ts by type stripping.
RUN --mount=type=cache,id=pnpm-store,target=/pnpm-store \
    pnpm install --frozen-lockfile --prod --store-dir /pnpm-store

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
# tini as PID 1: forwards SIGTERM to node and reaps zombies, so graceful shutdown
# (app.close(), then consumers, then clients) really runs on `docker stop`.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
# Services listen on HOST:PORT; 0.0.0.0 so other containers and published ports reach them.
ENV HOST=0.0.0.0
ENV PORT=3000
WORKDIR /app
COPY --from=deps /app/ ./
COPY --from=pruner /pruned/full/ ./
WORKDIR /app/services/${SERVICE}
USER node
EXPOSE 3000
# Node has fetch built in; the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
# The worker uses the same image: `command: ["node", "src/worker.ts"]` in docker-compose.yml.
CMD ["node", "src/server.ts"]
