/**
 * Testing: runs a release's test on the user machine, in a staging copy of
 * the new version, never in the live install (Mirage §3, "integrated
 * testing": an upgrade is tested against the very environment it will run
 * in before it is installed there).
 *
 * The runner bounds everything the test could make unbounded: time (a
 * timeout, then SIGTERM and SIGKILL to the test's whole process group, so
 * grandchildren die too), memory (only the tail of the output is kept, while
 * every byte is counted and hashed into the digest the signed outcome
 * carries), and what it sees of the node (a minimal environment). A
 * representative signs and gossips the result, so `pass` is strict: exit
 * code 0, in time, not killed.
 */
export {
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_TEST_PATH,
  MAX_OUTPUT_BYTES_LIMIT
} from './constants.ts'
export { TestAbortedError, TestRunInvalidError } from './errors.ts'
export type { TestRunInvalidReason } from './errors.ts'
export { runReleaseTest } from './release-test-runner.ts'
export type { TestResult, TestRunInit } from './release-test-runner.ts'
