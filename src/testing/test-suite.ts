/**
 * A release's test and the owner's acceptance tests, run one after another
 * against the same staged version (Mirage §3: the vendor's test checks the
 * release, the owner's tests check it in this machine's setup, and either
 * failing blocks the upgrade here).
 *
 * The suite stops at the first failure: the verdict is already "fail", the
 * failing test's output is the report worth sending, and every later test
 * would only cost the machine time while running against a version that
 * will not be installed. Tests that did not run are listed as skipped.
 */
import { logger } from '@libp2p/logger'
import { TestRunInvalidError } from './errors.ts'
import { checkInit, runReleaseTest } from './release-test-runner.ts'
import type { CommandBase, TestResult } from './release-test-runner.ts'
import type { SandboxMode } from './sandbox.ts'

const log = logger('mirage:testing:suite')

/** One test of a suite. */
export interface SuiteTest {
  /** Names the test in results and reports; unique within the suite. */
  name: string
  /** argv; see `commandBase`. */
  command: string[]
  /** 'staging' (default) for the vendor's test, 'system' for owner-configured commands. */
  commandBase?: CommandBase
  /** Wall-clock limit of this test. */
  timeoutMs: number
  /** The test needs the network; granted only when the suite's `allowNetwork` is true too. */
  network?: boolean
}

export interface TestSuiteInit {
  /** The staging directory holding the unpacked new version; every test runs here. */
  cwd: string
  /** Run in this order. */
  tests: SuiteTest[]
  /** Default 'auto': sandbox where bubblewrap works, and say so where it does not. */
  sandbox?: SandboxMode
  /** The owner's permission for tests that ask for the network (default false). */
  allowNetwork?: boolean
  /** Environment added for every test (see TestRunInit.env). */
  env?: Record<string, string>
  /** Output tail kept per test. */
  maxOutputBytes?: number
  /** Time between SIGTERM and SIGKILL, per test. */
  killGraceMs?: number
  /** Aborting kills the running test and rejects with TestAbortedError. */
  signal?: AbortSignal
}

export interface SuiteTestResult {
  name: string
  result: TestResult
}

export interface TestSuiteResult {
  /** Every test ran and passed. */
  pass: boolean
  /** The test that failed, or null when all passed. */
  failedTest: string | null
  /** The tests that ran, in order; the last one failed when `pass` is false. */
  results: SuiteTestResult[]
  /** Tests not run because an earlier one failed. */
  skipped: string[]
}

/**
 * Runs the tests in order and stops at the first failure. Every test is
 * checked before any runs, so a malformed suite throws TestRunInvalidError
 * without having spent time on its first tests; a sandbox that is
 * required but unavailable throws SandboxUnavailableError the same way
 * (from the first run, before anything starts).
 */
export async function runTestSuite (init: TestSuiteInit): Promise<TestSuiteResult> {
  const runs = planRuns(init)
  const results: SuiteTestResult[] = []
  for (const [index, run] of runs.entries()) {
    const result = await runReleaseTest(run.init)
    results.push({ name: run.name, result })
    if (!result.pass) {
      log('suite stops: test %s failed (exit %s, signal %s, timed out %s)', run.name, result.exitCode, result.signal, result.timedOut)
      return { pass: false, failedTest: run.name, results, skipped: runs.slice(index + 1).map((r) => r.name) }
    }
  }
  return { pass: true, failedTest: null, results, skipped: [] }
}

function planRuns (init: TestSuiteInit): Array<{ name: string, init: Parameters<typeof runReleaseTest>[0] }> {
  if (!Array.isArray(init.tests) || init.tests.length === 0) {
    throw new TestRunInvalidError('tests', 'a test suite needs at least one test')
  }
  const names = new Set<string>()
  return init.tests.map((test) => {
    if (typeof test.name !== 'string' || test.name === '') throw new TestRunInvalidError('tests', 'every test of a suite needs a name')
    if (names.has(test.name)) throw new TestRunInvalidError('tests', `two tests of the suite are named ${JSON.stringify(test.name)}`)
    names.add(test.name)
    const run = {
      cwd: init.cwd,
      command: test.command,
      commandBase: test.commandBase ?? 'staging',
      timeoutMs: test.timeoutMs,
      sandbox: init.sandbox ?? 'auto',
      allowNetwork: test.network === true && init.allowNetwork === true,
      env: init.env,
      maxOutputBytes: init.maxOutputBytes,
      killGraceMs: init.killGraceMs,
      signal: init.signal
    }
    try {
      checkInit(run)
    } catch (err) {
      if ((err as Error).name !== 'TestRunInvalidError') throw err
      const e = err as TestRunInvalidError
      throw new TestRunInvalidError(e.reason, `test ${JSON.stringify(test.name)}: ${e.message}`, { cause: err })
    }
    return { name: test.name, init: run }
  })
}
