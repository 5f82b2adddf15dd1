/**
 * Runs a command under strace (following forks) and returns what it did to
 * the file system, as TraceEvents. This is the "discovery by tracing" of
 * issue 4: the owner runs the application as usual, and the trace shows
 * which executables, libraries and files it really depends on.
 *
 * strace runs as the leader of its own process group, with the command
 * below it, so stopping the trace (timeout, the caller's abort, a trace
 * file grown too large) signals the whole group: SIGTERM, then SIGKILL after
 * a grace period. strace itself blocks fatal signals while tracing with -o
 * (its -I default), so the command dies first and strace exits after it,
 * with the command's exit status.
 */
import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { logger } from '@libp2p/logger'
import {
  DEFAULT_MAX_TRACE_BYTES, DEFAULT_TRACE_KILL_GRACE_MS, DEFAULT_TRACE_TIMEOUT_MS, STRACE_FLAGS, TRACE_SIZE_CHECK_INTERVAL_MS
} from './constants.ts'
import { PtraceDeniedError, StraceMissingError, TraceStartError } from './errors.ts'
import { createStraceParser } from './parse-strace.ts'
import type { ParsedTrace, TraceEvent, TraceStats } from './trace-events.ts'

const log = logger('mirage:env:trace')

export interface TraceRunInit {
  /** Working directory of the command (default: this process's). */
  cwd?: string
  /** Environment of the command (default: this process's). */
  env?: NodeJS.ProcessEnv
  /** Wall-clock limit (default DEFAULT_TRACE_TIMEOUT_MS); then the command is stopped and the trace so far is used. */
  timeoutMs?: number
  /**
   * Aborting stops the command, like the timeout, and resolves with what
   * was traced so far: Ctrl-C on a traced server still yields a proposal.
   * Already aborted: rejects with the signal's reason, starting nothing.
   */
  signal?: AbortSignal
  /** Receives the command's output (default: dropped). It is not ours to print on our stdout. */
  onOutput?: (chunk: Uint8Array, stream: 'stdout' | 'stderr') => void
  /** The strace program (default `strace`, looked up on PATH). */
  strace?: string
  /** Time between SIGTERM and SIGKILL when stopping (default DEFAULT_TRACE_KILL_GRACE_MS). */
  killGraceMs?: number
  /** Largest trace file before the command is stopped (default DEFAULT_MAX_TRACE_BYTES). */
  maxTraceBytes?: number
  /** Parser limits (see StraceParseOptions). */
  maxLines?: number
  maxPaths?: number
}

/**
 * How the traced command ended:
 *   exited           by itself
 *   timeout          stopped at the time limit
 *   aborted          stopped by the caller's signal
 *   trace-too-large  stopped because the trace file reached its size limit
 */
export type TraceEnd = 'exited' | 'timeout' | 'aborted' | 'trace-too-large'

export interface TraceRun {
  argv: string[]
  cwd: string
  /** The command's exit code (strace exits with it); null when a signal ended it. */
  exitCode: number | null
  /** The signal that ended the command, if any (e.g. SIGTERM after a timeout). */
  exitSignal: string | null
  ended: TraceEnd
  durationMs: number
  events: TraceEvent[]
  stats: TraceStats
}

/** Wait for the output pipes to close once the process group is gone; a process that left the group may hold them. */
const PIPE_CLOSE_WAIT_MS = 2_000
/** strace's own messages kept to explain a failure to start. */
const MAX_STRACE_MESSAGES = 20
/** Bytes of stderr kept while looking for strace's messages. */
const MAX_STDERR_TAIL_CHARS = 16 * 1024

/**
 * Traces `argv` to its end (or the timeout, or an abort) and parses the
 * trace. Throws StraceMissingError without strace, PtraceDeniedError where
 * tracing is forbidden, TraceStartError when the command cannot start. A
 * command that fails is not an error: its exit code is in the result.
 */
export async function runTrace (argv: string[], init: TraceRunInit = {}): Promise<TraceRun> {
  if (!Array.isArray(argv) || argv.length === 0 || typeof argv[0] !== 'string' || argv[0] === '') {
    throw new TraceStartError('nothing to trace: the command is empty')
  }
  init.signal?.throwIfAborted()
  const cwd = resolve(init.cwd ?? process.cwd())
  const cwdInfo = await stat(cwd).catch(() => undefined)
  if (cwdInfo?.isDirectory() !== true) throw new TraceStartError(`cannot trace in ${cwd}: no such directory`)

  const dir = await mkdtemp(join(tmpdir(), 'mirage-trace-'))
  try {
    const file = join(dir, 'trace.strace')
    const startedAt = performance.now()
    const run = await runStrace(argv, file, cwd, init)
    const durationMs = performance.now() - startedAt
    const parsed = await parseTraceFile(file, { cwd, maxLines: init.maxLines, maxPaths: init.maxPaths })
    if (!parsed.events.some(e => e.action === 'exec' && e.ok)) {
      throw startFailure(argv, run.messages, run.exitCode, run.exitSignal)
    }
    if (run.ended === 'trace-too-large') parsed.stats.truncated ??= 'trace-size'
    log('traced %s: %s, exit code %s, %d events from %d lines', argv[0], run.ended, run.exitCode, parsed.events.length, parsed.stats.lines)
    return { argv: [...argv], cwd, exitCode: run.exitCode, exitSignal: run.exitSignal, ended: run.ended, durationMs, ...parsed }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Whether tracing works here: undefined when it does, else why not (the
 * message of the error runTrace would throw). Runs `true` under strace.
 */
export async function tracingUnavailableReason (init: Pick<TraceRunInit, 'strace' | 'env'> = {}): Promise<string | undefined> {
  try {
    await runTrace(['true'], { ...init, timeoutMs: 30_000 })
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

interface StraceOutcome {
  exitCode: number | null
  exitSignal: string | null
  ended: TraceEnd
  /** Lines strace itself printed (`strace: ...`). */
  messages: string[]
}

async function runStrace (argv: string[], file: string, cwd: string, init: TraceRunInit): Promise<StraceOutcome> {
  const straceCommand = init.strace ?? 'strace'
  const child = spawn(straceCommand, [...STRACE_FLAGS, '-o', file, '--', ...argv], {
    cwd,
    env: init.env ?? process.env,
    // Its own process group, so that stopping it reaches every traced process.
    detached: true,
    // No stdin: the command runs in its own process group, where reading a
    // terminal would stop it (SIGTTIN) instead of reading.
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { resolve({ code, signal }) })
  })
  const closed = new Promise<void>((resolve) => { child.once('close', () => { resolve() }) })
  let stderrTail = ''
  child.stdout?.on('data', (chunk: Buffer) => { init.onOutput?.(chunk, 'stdout') })
  child.stderr?.on('data', (chunk: Buffer) => {
    init.onOutput?.(chunk, 'stderr')
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-MAX_STDERR_TAIL_CHARS)
  })
  const spawnError = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    child.once('spawn', () => { resolve(undefined) })
    child.once('error', resolve)
  })
  if (spawnError !== undefined || child.pid === undefined) {
    if (spawnError?.code === 'ENOENT') throw new StraceMissingError(straceCommand, { cause: spawnError })
    throw new TraceStartError(`cannot start ${straceCommand}: ${spawnError?.message ?? 'no process id'}`, { cause: spawnError })
  }
  child.on('error', (err) => { log.error('strace (pid %d): %e', child.pid, err) })
  const pgid = child.pid
  log('tracing %s (strace pid %d) in %s', argv[0], pgid, cwd)

  let ended: TraceEnd = 'exited'
  let killTimer: NodeJS.Timeout | undefined
  const stop = (reason: TraceEnd): void => {
    if (ended !== 'exited') return
    ended = reason
    log('stopping traced command (group %d): %s', pgid, reason)
    signalGroup(pgid, 'SIGTERM')
    killTimer = setTimeout(() => { signalGroup(pgid, 'SIGKILL') }, init.killGraceMs ?? DEFAULT_TRACE_KILL_GRACE_MS)
  }
  const timeout = setTimeout(() => { stop('timeout') }, init.timeoutMs ?? DEFAULT_TRACE_TIMEOUT_MS)
  const onAbort = (): void => { stop('aborted') }
  init.signal?.addEventListener('abort', onAbort, { once: true })
  const maxBytes = init.maxTraceBytes ?? DEFAULT_MAX_TRACE_BYTES
  let checking = false
  const sizeCheck = setInterval(() => {
    if (checking) return
    checking = true
    stat(file).then((info) => { if (info.size > maxBytes) stop('trace-too-large') }, () => {}).finally(() => { checking = false })
  }, TRACE_SIZE_CHECK_INTERVAL_MS)

  try {
    const { code, signal } = await exited
    // strace waits for every traced process; anything left in the group
    // was never traced (or strace died): it must not outlive the trace.
    signalGroup(pgid, 'SIGKILL')
    if (!await settlesWithin(closed, PIPE_CLOSE_WAIT_MS)) {
      log.error('output of traced command still open after strace exited (a process left its group); closing it')
      child.stdout?.destroy()
      child.stderr?.destroy()
    }
    const messages = stderrTail.split('\n').filter(line => line.startsWith('strace: ')).slice(-MAX_STRACE_MESSAGES)
    return { exitCode: code, exitSignal: signal, ended, messages }
  } finally {
    clearTimeout(timeout)
    clearTimeout(killTimer)
    clearInterval(sizeCheck)
    init.signal?.removeEventListener('abort', onAbort)
  }
}

/** Sends `signal` to the process group; a group already gone is fine. */
function signalGroup (pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') log.error('cannot signal process group %d: %e', pgid, err)
  }
}

async function settlesWithin (promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([promise.then(() => true), timedOut])
  } finally {
    clearTimeout(timer)
  }
}

/** Why a trace holds no successful exec: ptrace refused, the command not startable, or strace failing otherwise. */
function startFailure (argv: string[], messages: string[], exitCode: number | null, exitSignal: string | null): Error {
  const denied = messages.find(m => /ptrace|PTRACE_/i.test(m) && /not permitted|EPERM|denied/i.test(m))
  if (denied !== undefined) return new PtraceDeniedError(denied.replace(/^strace: /, ''))
  const said = messages.map(m => m.replace(/^strace: /, '')).join('; ')
  if (said !== '') return new TraceStartError(`cannot trace ${JSON.stringify(argv[0])}: ${said}`)
  const how = exitSignal === null ? `exit code ${String(exitCode)}` : `signal ${exitSignal}`
  return new TraceStartError(`cannot trace ${JSON.stringify(argv[0])}: strace ended (${how}) before the command started`)
}

/** Parses the trace file line by line, never holding it whole. A missing file is an empty trace. */
async function parseTraceFile (file: string, options: { cwd: string, maxLines: number | undefined, maxPaths: number | undefined }): Promise<ParsedTrace> {
  const parser = createStraceParser({
    cwd: options.cwd,
    ...(options.maxLines === undefined ? {} : { maxLines: options.maxLines }),
    ...(options.maxPaths === undefined ? {} : { maxPaths: options.maxPaths })
  })
  if (await stat(file).catch(() => undefined) === undefined) return parser.result()
  const input = createReadStream(file, { encoding: 'utf8' })
  const lines = createInterface({ input, crlfDelay: Infinity })
  try {
    for await (const line of lines) {
      if (!parser.push(line)) break
    }
  } finally {
    lines.close()
    input.destroy()
  }
  return parser.result()
}
