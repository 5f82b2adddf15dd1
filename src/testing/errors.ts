/**
 * Errors of the testing area. Callers check `err.name`, not `instanceof`.
 *
 * A test that runs and fails is not an error: it is a TestResult with
 * `pass: false`. These errors mean no result exists that could be signed.
 */

/** Which rule of a TestRunInit was broken. */
export type TestRunInvalidReason =
  | 'command'
  | 'program-escapes'
  | 'cwd'
  | 'timeout'
  | 'max-output'
  | 'kill-grace'
  | 'sandbox'
  | 'tests'

/**
 * The run was refused before anything started: a malformed init, or a
 * program that lies outside the staging directory (the test must come from
 * the release being tested, Mirage §3, never from elsewhere on the machine).
 */
export class TestRunInvalidError extends Error {
  readonly reason: TestRunInvalidReason

  constructor (reason: TestRunInvalidReason, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TestRunInvalidError'
    this.reason = reason
  }
}

/**
 * The caller aborted the run. The test's processes are gone by the time
 * this is thrown; there is deliberately no result, since an aborted run says
 * nothing about the release and must not be reported as a failure.
 */
export class TestAbortedError extends Error {
  constructor (options?: ErrorOptions) {
    super('the release test was aborted', options)
    this.name = 'TestAbortedError'
  }
}

/**
 * The run asked for a sandbox (`sandbox: 'require'`) and this machine
 * cannot provide one; the message says why (bwrap missing, or unable to
 * create namespaces here). Nothing was started.
 */
export class SandboxUnavailableError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SandboxUnavailableError'
  }
}
