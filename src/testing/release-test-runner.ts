/**
 * Runs a release's test on the user machine, in the staging copy of the new
 * version and never in the live install (Mirage §3: the upgrade is tested
 * where it will run, against that machine's environment, before anything is
 * switched). The result is what a representative signs and gossips, so it
 * must be honest: pass only on exit code 0 within the time limit.
 *
 * Without a sandbox this is containment only: the test runs with the
 * node's user. What we guarantee then is that it cannot run forever, cannot
 * leave processes behind (its whole process group is killed), cannot
 * exhaust memory through its output, and does not see the node's
 * environment variables (which may hold secrets). With bubblewrap
 * (sandbox.ts) it also cannot write outside its staging directory, reach
 * the network unless allowed, or see other processes. The result says
 * which of the two it got, and why.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import {
  DEFAULT_KILL_GRACE_MS, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TEST_PATH, MAX_OUTPUT_BYTES_LIMIT, MAX_TIMER_MS, PIPE_CLOSE_WAIT_MS
} from './constants.ts'
import { TestAbortedError, TestRunInvalidError } from './errors.ts'
import { OutputLog } from './output-log.ts'
import { isInside } from './paths.ts'
import { terminateGroup } from './process-group.ts'
import { WrapperReportReader, wrapperArgv } from './resource-use.ts'
import type { ResourceUse } from './resource-use.ts'
import { SANDBOX_MODES, chooseSandbox, probeSandbox, sandboxedCommand } from './sandbox.ts'
import type { SandboxMode, SandboxReport } from './sandbox.ts'

const log = logger('mirage:testing:runner')

/**
 * Where `command[0]` comes from. `staging`: the release's own test, a path
 * relative to the staging directory that must stay inside it (Mirage §3:
 * the test ships with the version it tests). `system`: an owner-configured
 * acceptance test, an absolute path or a name looked up on the test's PATH
 * (e.g. `['sh', '-c', '…']`), run against the staged version all the same.
 * In the sandbox the system is seen read-only, except /tmp, which is a
 * fresh empty one: an owner's test program must not live under /tmp.
 */
export type CommandBase = 'staging' | 'system'

export interface TestRunInit {
  /** The staging directory holding the unpacked new version; the test runs here. */
  cwd: string
  /** argv; how `command[0]` is found depends on `commandBase`. */
  command: string[]
  /** Default 'staging'. */
  commandBase?: CommandBase
  /** Wall-clock limit; past it the test's process group is killed and the run fails. */
  timeoutMs: number
  /** Added to (and may override) the minimal environment: PATH, HOME=cwd, LANG=C. */
  env?: Record<string, string>
  /** Output tail kept in `outputTail` (default DEFAULT_MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number
  /** Time between SIGTERM and SIGKILL (default DEFAULT_KILL_GRACE_MS). */
  killGraceMs?: number
  /**
   * Default 'off', which is how this runner behaved before it had a
   * sandbox: existing callers keep their behaviour until they choose one.
   */
  sandbox?: SandboxMode
  /**
   * Whether the sandboxed test keeps the network (default false). Pass
   * true only when the test asked for it and the owner allows it.
   */
  allowNetwork?: boolean
  /** Aborting kills the test and rejects with TestAbortedError. */
  signal?: AbortSignal
}

export interface TestResult {
  /** Exit code 0, not timed out, not killed by a signal. */
  pass: boolean
  /** null when the test was killed by a signal or never started. */
  exitCode: number | null
  /** The signal that ended the test (e.g. 'SIGTERM' after a timeout), if any. */
  signal: string | null
  timedOut: boolean
  durationMs: number
  /** The last `maxOutputBytes` of stdout and stderr, in arrival order, as UTF-8 (lossy). */
  outputTail: string
  /** Every byte the test printed, kept or not. */
  outputBytes: number
  /** Hex SHA-256 over every output byte in arrival order: what the signed outcome carries. */
  logDigest: string
  /** The sandbox the test ran in, or why it ran without one. */
  sandbox: SandboxReport
  /** CPU the test used; null when it never started or was SIGKILLed before its wrapper could report. */
  resourceUse: ResourceUse | null
}

interface Limits {
  command: string[]
  commandBase: CommandBase
  sandbox: SandboxMode
  timeoutMs: number
  maxOutputBytes: number
  killGraceMs: number
}

/**
 * Runs the test and resolves with its result, once the test and every
 * process it started are gone. A program that is missing or cannot be
 * executed resolves as a failed result explaining why in `outputTail`: from
 * the release's point of view that is a failing test. Throws
 * TestRunInvalidError for a malformed init or a program outside `cwd`, and
 * TestAbortedError when `signal` aborts.
 */
export async function runReleaseTest (init: TestRunInit): Promise<TestResult> {
  const limits = checkInit(init)
  if (init.signal?.aborted === true) throw new TestAbortedError({ cause: init.signal.reason })
  const cwd = await resolveCwd(init.cwd)
  const sandbox = chooseSandbox(limits.sandbox, init.allowNetwork ?? false, await probeSandbox())
  const program = limits.commandBase === 'staging'
    ? await resolveProgram(cwd, limits.command[0] as string)
    : { path: limits.command[0] as string }
  const output = new OutputLog(limits.maxOutputBytes)
  const startedAt = performance.now()
  if (program.path === undefined) return notStarted(output, program.problem, startedAt, sandbox.report)
  if (sandbox.bwrap === undefined) log('running test without a sandbox: %s', sandbox.report.reason)

  const env: Record<string, string> = { PATH: process.env.PATH ?? DEFAULT_TEST_PATH, HOME: cwd, LANG: 'C', ...init.env }
  const wrapped = wrapperArgv(env, program.path, limits.command.slice(1))
  const [file, ...args] = sandbox.bwrap === undefined
    ? wrapped
    : sandboxedCommand(sandbox.bwrap, { cwd, network: sandbox.report.network, command: wrapped })
  const child = spawn(file as string, args, {
    cwd,
    // The test's environment travels inside the wrapper's argv.
    env: {},
    // Its own process group, so that a timeout can kill grandchildren too.
    detached: true,
    // fd 3: the wrapper's report (resource-use.ts).
    stdio: ['ignore', 'pipe', 'pipe', 'pipe']
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { resolve({ code, signal }) })
  })
  const closed = new Promise<void>((resolve) => { child.once('close', () => { resolve() }) })
  const report = new WrapperReportReader()
  child.stdout?.on('data', (chunk: Buffer) => { output.add(chunk) })
  child.stderr?.on('data', (chunk: Buffer) => { output.add(chunk) })
  child.stdio[3]?.on('data', (chunk: Buffer) => { report.add(chunk) })

  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => { resolve(undefined) })
    child.once('error', resolve)
  })
  if (spawnError !== undefined || child.pid === undefined) {
    const reason = spawnError?.message ?? 'no process id'
    return notStarted(output, `cannot start test runner ${JSON.stringify(file)}: ${reason}`, startedAt, sandbox.report)
  }
  // Later errors (none are expected once spawned) must not crash the node.
  child.on('error', (err) => { log.error('test process %d: %e', child.pid, err) })
  log('started test %s (pid %d) in %s, sandbox %s', program.path, child.pid, cwd, sandbox.report.kind)

  return await supervise(child, child.pid, { exited, closed, output, report, limits, startedAt, sandbox: sandbox.report, signal: init.signal })
}

interface Supervision {
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  closed: Promise<void>
  output: OutputLog
  report: WrapperReportReader
  limits: Limits
  startedAt: number
  sandbox: SandboxReport
  signal: AbortSignal | undefined
}

/** Waits for the test to end, enforcing the timeout and the abort signal, then cleans up. */
async function supervise (child: ChildProcess, pgid: number, s: Supervision): Promise<TestResult> {
  let timedOut = false
  let aborted = false
  // One termination per run, whoever asks first (timeout, abort, or the
  // clean-up after a normal exit); later askers wait for the same one.
  let termination: Promise<boolean> | undefined
  const terminate = async (): Promise<boolean> => await (termination ??= terminateGroup(pgid, s.limits.killGraceMs))
  const timer = setTimeout(() => {
    timedOut = true
    log('test (pid %d) timed out after %d ms', pgid, s.limits.timeoutMs)
    void terminate()
  }, s.limits.timeoutMs)
  const onAbort = (): void => {
    aborted = true
    void terminate()
  }
  s.signal?.addEventListener('abort', onAbort, { once: true })

  let ended: { code: number | null, signal: NodeJS.Signals | null }
  let durationMs: number
  try {
    ended = await s.exited
    durationMs = performance.now() - s.startedAt
    clearTimeout(timer)
    // The leader is gone; anything it left running in its group is a stray
    // that would otherwise outlive the staging directory it runs in.
    await terminate()
    if (!await settlesWithin(s.closed, PIPE_CLOSE_WAIT_MS)) {
      log.error('output of test (pid %d) still open after its group died (a process left the group); closing it', pgid)
      child.stdout?.destroy()
      child.stderr?.destroy()
      child.stdio[3]?.destroy()
    }
  } finally {
    clearTimeout(timer)
    s.signal?.removeEventListener('abort', onAbort)
  }
  if (aborted) throw new TestAbortedError({ cause: s.signal?.reason })

  const report = s.report.report()
  if (report?.kind === 'spawn-error') {
    return notStarted(s.output, `cannot start test program ${JSON.stringify(s.limits.command[0])}: ${report.message}`, s.startedAt, s.sandbox)
  }
  // The wrapper saw the test's own wait status; without its report (it was
  // SIGKILLed with the group) its own status is the best there is.
  const exitCode = report === undefined ? ended.code : report.exitCode
  const signal = report === undefined ? ended.signal : report.signal
  const pass = exitCode === 0 && signal === null && !timedOut
  log('test (pid %d) ended: code %s, signal %s, timed out %s, %d bytes of output', pgid, exitCode, signal, timedOut, s.output.bytes)
  return {
    pass,
    exitCode,
    signal,
    timedOut,
    durationMs,
    outputTail: s.output.tailText(),
    outputBytes: s.output.bytes,
    logDigest: s.output.digest(),
    sandbox: s.sandbox,
    resourceUse: report?.resourceUse ?? null
  }
}

/**
 * The result of a test that never ran. The explanation goes through the
 * log like any output, so tail, byte count and digest stay consistent.
 */
function notStarted (output: OutputLog, problem: string, startedAt: number, sandbox: SandboxReport): TestResult {
  log('test did not start: %s', problem)
  output.add(Buffer.from(`mirage: ${problem}\n`))
  return {
    pass: false,
    exitCode: null,
    signal: null,
    timedOut: false,
    durationMs: performance.now() - startedAt,
    outputTail: output.tailText(),
    outputBytes: output.bytes,
    logDigest: output.digest(),
    sandbox,
    resourceUse: null
  }
}

/** Checks an init without touching the file system; the suite checks all its tests with it before running any. */
export function checkInit (init: TestRunInit): Limits {
  const { command, timeoutMs } = init
  if (!Array.isArray(command) || command.length === 0 || typeof command[0] !== 'string' || command[0] === '') {
    throw new TestRunInvalidError('command', 'the test command must be a non-empty argv whose first element names the program')
  }
  if (!command.every((arg) => typeof arg === 'string' && !arg.includes('\0'))) {
    throw new TestRunInvalidError('command', 'every argument of the test command must be a string without NUL bytes')
  }
  const commandBase = init.commandBase ?? 'staging'
  if (commandBase !== 'staging' && commandBase !== 'system') {
    throw new TestRunInvalidError('command', `commandBase must be 'staging' or 'system', not ${JSON.stringify(commandBase)}`)
  }
  const program = command[0]
  // Checked here on the name alone, so a suite can refuse before running
  // anything; resolveProgram checks it again, symlinks included, at run time.
  if (commandBase === 'staging' && path.isAbsolute(program)) {
    throw new TestRunInvalidError('program-escapes', `test program ${JSON.stringify(program)} is an absolute path; it must be relative to the staging directory`)
  }
  if (commandBase === 'staging' && !isInside('/staging', path.resolve('/staging', program))) {
    throw new TestRunInvalidError('program-escapes', `test program ${JSON.stringify(program)} resolves outside the staging directory`)
  }
  if (commandBase === 'system' && !path.isAbsolute(program) && program.includes('/')) {
    throw new TestRunInvalidError('command', `system test program ${JSON.stringify(program)} must be an absolute path or a name looked up on PATH`)
  }
  const sandbox = init.sandbox ?? 'off'
  if (!SANDBOX_MODES.includes(sandbox)) {
    throw new TestRunInvalidError('sandbox', `sandbox must be one of ${SANDBOX_MODES.join(', ')}, not ${JSON.stringify(sandbox)}`)
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS) {
    throw new TestRunInvalidError('timeout', `timeoutMs must be above 0 and at most ${MAX_TIMER_MS}, not ${timeoutMs}`)
  }
  const maxOutputBytes = init.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  if (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 0 || maxOutputBytes > MAX_OUTPUT_BYTES_LIMIT) {
    throw new TestRunInvalidError('max-output', `maxOutputBytes must be an integer from 0 to ${MAX_OUTPUT_BYTES_LIMIT}, not ${maxOutputBytes}`)
  }
  const killGraceMs = init.killGraceMs ?? DEFAULT_KILL_GRACE_MS
  if (!Number.isFinite(killGraceMs) || killGraceMs < 0 || killGraceMs > MAX_TIMER_MS) {
    throw new TestRunInvalidError('kill-grace', `killGraceMs must be from 0 to ${MAX_TIMER_MS}, not ${killGraceMs}`)
  }
  return { command, commandBase, sandbox, timeoutMs, maxOutputBytes, killGraceMs }
}

async function resolveCwd (cwd: string): Promise<string> {
  try {
    const real = await realpath(cwd)
    if ((await stat(real)).isDirectory()) return real
  } catch (err) {
    throw new TestRunInvalidError('cwd', `the test directory ${cwd} cannot be used: ${(err as Error).message}`, { cause: err })
  }
  throw new TestRunInvalidError('cwd', `the test directory ${cwd} is not a directory`)
}

/**
 * Finds the program inside `cwd` (already a real path). Refuses, before
 * and after following symlinks, anything outside it: the manifest checks
 * the name, but the tree it names is only checked here. A missing program
 * is not refused: it is the release's failure, reported as a result.
 */
async function resolveProgram (cwd: string, program: string): Promise<{ path: string, problem?: undefined } | { path?: undefined, problem: string }> {
  const refuse = (detail: string): never => {
    throw new TestRunInvalidError('program-escapes', `test program ${JSON.stringify(program)} ${detail}`)
  }
  if (path.isAbsolute(program)) refuse('is an absolute path; it must be relative to the staging directory')
  const resolved = path.resolve(cwd, program)
  if (!isInside(cwd, resolved)) refuse(`resolves outside the staging directory ${cwd}`)
  let real: string
  try {
    real = await realpath(resolved)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return { problem: `test program ${JSON.stringify(program)} does not exist in ${cwd}` }
    if (code === 'ELOOP') return { problem: `test program ${JSON.stringify(program)} is a symlink loop` }
    throw err
  }
  if (!isInside(cwd, real)) refuse(`is a symlink to ${real}, outside the staging directory ${cwd}`)
  return { path: real }
}

/** Whether `promise` settles within `ms`; the timer never outlives the wait. */
async function settlesWithin (promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([promise.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}
