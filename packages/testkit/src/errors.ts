export type TestkitErrorCode =
  /** No infrastructure answers (native down, no Docker, env not set). */
  | 'TESTKIT_ERR_INFRA_UNAVAILABLE'
  /** A component was read that this resolution did not provide (not in `need`, or not under testcontainers). */
  | 'TESTKIT_ERR_NOT_PROVIDED'
  /** FAULTLINE_INFRA holds something other than auto, external, native or testcontainers. */
  | 'TESTKIT_ERR_BAD_MODE'

export class TestkitError extends Error {
  override name = 'TestkitError'
  readonly code: TestkitErrorCode

  constructor(code: TestkitErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}
