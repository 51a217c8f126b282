/**
 * Checks of the service Dockerfile pattern. Syntax goes through dockerfile-utils, the
 * validator behind the VS Code Docker language server, which aims to flag what the Docker
 * builder rejects; structure (stages, user, health check, signal handling) is read with
 * dockerfile-ast, its parser.
 */
import { type Dockerfile, DockerfileParser, type Instruction } from 'dockerfile-ast'
import { validate } from 'dockerfile-utils'

/** Base image every Faultline service runs on: Node 24 strips TypeScript types itself. */
export const nodeBaseImage = 'node:24-slim'

export interface DockerfileExpectations {
  /** `packageManager` of the root package.json (`pnpm@<version>`). */
  packageManager: string | undefined
}

/** Instructions from the last FROM on: what the final image is made of. */
function finalStage(dockerfile: Dockerfile): Instruction[] {
  const instructions = dockerfile.getInstructions()
  const lastFrom = instructions.findLastIndex((i) => i.getKeyword() === 'FROM')
  return lastFrom === -1 ? [] : instructions.slice(lastFrom)
}

function args(instruction: Instruction): string {
  return instruction.getArgumentsContent() ?? ''
}

/** Resolves `${NAME}` / `$NAME` in a FROM against the ARGs declared before the first FROM. */
function resolveImage(image: string, initialArgs: Map<string, string>): string {
  return image.replace(
    /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
    (whole, name: string) => initialArgs.get(name) ?? whole,
  )
}

export function checkDockerfile(path: string, text: string, expect: DockerfileExpectations): string[] {
  const problems: string[] = []
  const problem = (message: string) => problems.push(`${path}: ${message}`)

  // Severity 1 is an error and 2 a warning (LSP DiagnosticSeverity); both fail the check.
  for (const diagnostic of validate(text)) {
    if (diagnostic.severity === 1 || diagnostic.severity === 2) {
      problem(`line ${diagnostic.range.start.line + 1}: ${diagnostic.message}`)
    }
  }

  const dockerfile = DockerfileParser.parse(text)
  const instructions = dockerfile.getInstructions()
  const initialArgs = new Map<string, string>()
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty()
    const value = property?.getValue()
    if (property && value) initialArgs.set(property.getName(), value)
  }

  const froms = dockerfile.getFROMs()
  const stageNames = new Set(froms.map((f) => f.getBuildStage()).filter((s): s is string => s !== null))
  for (const from of froms) {
    const image = resolveImage(from.getImage() ?? '', initialArgs)
    if (!stageNames.has(image) && image !== nodeBaseImage) {
      problem(`FROM ${image}: every stage must start from ${nodeBaseImage} or an earlier stage`)
    }
  }
  const lastFrom = froms.at(-1)
  if (!lastFrom || resolveImage(lastFrom.getImage() ?? '', initialArgs) !== nodeBaseImage) {
    problem(
      `the final stage must start FROM ${nodeBaseImage} itself, not from a build stage with build tools`,
    )
  }

  const runs = instructions.filter((i) => i.getKeyword() === 'RUN').map(args)
  if (!runs.some((r) => /\bturbo prune\b/.test(r) && r.includes('--docker'))) {
    problem('no `turbo prune ... --docker` stage: the image must be built from the pruned workspace')
  }
  if (
    !runs.some((r) => /\bpnpm install\b/.test(r) && r.includes('--frozen-lockfile') && r.includes('--prod'))
  ) {
    problem('no `pnpm install --frozen-lockfile --prod`: production dependencies from the lockfile only')
  }

  const pnpmVersion = expect.packageManager?.startsWith('pnpm@') ? expect.packageManager.slice(5) : undefined
  const pnpmArg = instructions
    .filter((i) => i.getKeyword() === 'ARG')
    .map(args)
    .find((a) => a.startsWith('PNPM_VERSION='))
  if (pnpmArg !== `PNPM_VERSION=${pnpmVersion}`) {
    problem(`ARG ${pnpmArg ?? 'PNPM_VERSION'} must equal the root packageManager (pnpm@${pnpmVersion})`)
  }

  const final = finalStage(dockerfile)
  const lastOf = (keyword: string) => final.findLast((i) => i.getKeyword() === keyword)
  const user = lastOf('USER')
  if (!user || args(user) !== 'node') problem('the final stage must run as `USER node`, not root')
  const healthcheck = lastOf('HEALTHCHECK')
  if (!healthcheck || !args(healthcheck).includes('/healthz')) {
    problem('the final stage needs a HEALTHCHECK that requests /healthz')
  }
  const stopsignal = lastOf('STOPSIGNAL')
  if (!stopsignal || args(stopsignal) !== 'SIGTERM') problem('the final stage needs `STOPSIGNAL SIGTERM`')
  const entrypoint = lastOf('ENTRYPOINT')
  if (!entrypoint || !/\btini\b/.test(args(entrypoint))) {
    problem('the ENTRYPOINT must be tini, so SIGTERM reaches node and zombies are reaped')
  }
  const cmd = lastOf('CMD')
  if (!cmd || !/"node"\s*,\s*"[^"]+\.ts"/.test(args(cmd))) {
    problem('the CMD must run a .ts file with node directly (type stripping, no build step)')
  }
  return problems
}
