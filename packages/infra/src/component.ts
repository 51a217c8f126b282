/**
 * One piece of the native topology (a Postgres, a Redis, Kafka, Toxiproxy …) as a plain
 * process under the project-local state dir. The CLI (`infra up|down|status|logs`) walks the
 * registry in order for `up` and in reverse for `down`.
 */
export interface InfraContext {
  /** Project-local state dir, e.g. `<repo>/.faultline/infra`; each component owns `<stateDir>/<name>/`. */
  stateDir: string
  /** Cache outside the clone for downloads and builds (`$FAULTLINE_CACHE`, default `~/.cache/faultline`). */
  cacheDir: string
  /** Progress lines for the user (stderr). */
  log: (message: string) => void
}

export interface ComponentStatus {
  name: string
  running: boolean
  healthy: boolean
  pid?: number
  /** Human-readable address(es), e.g. `127.0.0.1:15432`. */
  address: string
  detail?: string
}

export interface Component {
  name: string
  /** Components that must be healthy before this one starts (by name). */
  dependsOn: string[]
  /**
   * Install whatever is missing (Debian package, Go binary, Maven jars). Idempotent and quick
   * when already installed. Throws `MissingPrerequisiteError` naming what is missing and how to get it.
   */
  install(ctx: InfraContext): Promise<void>
  /** Start if not running, then wait until healthy. Calling it on a healthy component is a no-op. */
  up(ctx: InfraContext): Promise<void>
  /** Stop (SIGTERM, then SIGKILL after a deadline) and confirm no process is left. Idempotent. */
  down(ctx: InfraContext): Promise<void>
  status(ctx: InfraContext): Promise<ComponentStatus>
  /** Path of the component's log file. */
  logFile(ctx: InfraContext): string
}

export class MissingPrerequisiteError extends Error {
  override name = 'MissingPrerequisiteError'
  readonly prerequisite: string
  readonly hint: string
  // No parameter properties: Node's type stripping (erasableSyntaxOnly) cannot run them.
  constructor(prerequisite: string, hint: string) {
    super(`missing prerequisite: ${prerequisite} — ${hint}`)
    this.prerequisite = prerequisite
    this.hint = hint
  }
}
