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
 *
 * Where bubblewrap can run, the test is also sandboxed (sandbox.ts): the
 * system read-only, the staging directory its only lasting writable place,
 * no network unless the test asks and the owner allows, its own PID
 * namespace. Where it cannot, the result says so and why, so the node can
 * publish "ran without a sandbox because …". Results carry the test's CPU
 * time (resource-use.ts). A suite (test-suite.ts) runs the vendor's test
 * and the owner's acceptance tests in turn, stopping at the first failure.
 */
export {
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_TEST_PATH,
  MAX_OUTPUT_BYTES_LIMIT
} from './constants.ts'
export { SandboxUnavailableError, TestAbortedError, TestRunInvalidError } from './errors.ts'
export type { TestRunInvalidReason } from './errors.ts'
export { runReleaseTest } from './release-test-runner.ts'
export type { CommandBase, TestResult, TestRunInit } from './release-test-runner.ts'
export type { ResourceUse } from './resource-use.ts'
export { SANDBOX_MODES, probeSandbox } from './sandbox.ts'
export type { SandboxMode, SandboxProbe, SandboxReport } from './sandbox.ts'
export { runTestSuite } from './test-suite.ts'
export type { SuiteTest, SuiteTestResult, TestSuiteInit, TestSuiteResult } from './test-suite.ts'
