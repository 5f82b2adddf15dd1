/**
 * Turns strace's text output into TraceEvents (see trace-events.ts): which
 * paths the traced processes executed, read, wrote or created. Pure: text
 * in, events out, so it is tested on recorded traces (test/fixtures/trace).
 *
 * What it copes with, because real traces contain it:
 *   - `-f` output of many processes, with a pid column (`311 `, `[pid 311] `)
 *     or without one (a single process);
 *   - calls split across lines when another process printed in between
 *     (`openat(... <unfinished ...>` then `<... openat resumed>) = 3`);
 *   - quoted paths with strace's escapes, and `-y` paths after descriptors;
 *   - relative paths: against the directory descriptor (`3</etc>`), against
 *     `AT_FDCWD</srv/app>` when -y printed it, else against a working
 *     directory followed through chdir/fchdir and inherited across fork;
 *   - failed calls (`= -1 ENOENT`) reported as not ok: they read nothing;
 *   - junk: signal and exit lines, strace's own messages, truncated lines.
 * Everything is bounded: lines, line length, distinct paths, and the
 * per-process state (see constants.ts).
 */
import { posix } from 'node:path'
import {
  DEFAULT_MAX_TRACE_LINES, DEFAULT_MAX_TRACE_PATHS, MAX_STRACE_LINE_CHARS, MAX_TRACKED_PROCESSES
} from './constants.ts'
import { parseFd, parseResult, splitSyscall, unquoteString } from './strace-syntax.ts'
import type { SyscallResult, SyscallText } from './strace-syntax.ts'
import type { ParsedTrace, TraceAction, TraceEvent, TraceStats } from './trace-events.ts'

export interface StraceParseOptions {
  /**
   * Working directory of the traced command, for relative paths of its
   * first process before strace has printed one (e.g. `execve("./run.sh")`).
   */
  cwd?: string
  /** Lines parsed at most (default DEFAULT_MAX_TRACE_LINES); the rest is ignored and the trace marked truncated. */
  maxLines?: number
  /** Distinct paths at most (default DEFAULT_MAX_TRACE_PATHS). */
  maxPaths?: number
}

/** A parser fed one line at a time, so a large trace file is never held whole in memory. */
export interface StraceParser {
  /** Parses one line (without its newline). False once a limit is reached: stop feeding. */
  push(line: string): boolean
  /** The events so far and the statistics. */
  result(): ParsedTrace
}

/** Parses a whole trace held in memory. */
export function parseStrace (text: string, options: StraceParseOptions = {}): ParsedTrace {
  const parser = createStraceParser(options)
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    if (!parser.push(text.slice(start, end))) break
    start = end + 1
  }
  return parser.result()
}

export function createStraceParser (options: StraceParseOptions = {}): StraceParser {
  return new Parser(options)
}

const PID_PREFIX = /^(?:\[pid\s+(\d+)\]|(\d+))\s+/
const TIMESTAMP_PREFIX = /^(?:\d{2}:\d{2}:\d{2}(?:\.\d+)?|\d+\.\d+)\s+/
const UNFINISHED = /\s*<unfinished \.\.\.>\s*$/
const RESUMED = /^<\.\.\. ([a-z_][a-z0-9_]*) resumed>\s?/
/** strace's own lines: signals, exits, notes about the tracee. Expected, not junk. */
const CHATTER = /^(?:---|\+\+\+|strace: |<\.\.\. [a-z_0-9]+ resumed> \?)/

/** Flags of an open that make it a write (the path holds data the program produces). */
const WRITE_FLAGS = new Set(['O_WRONLY', 'O_RDWR', 'O_CREAT', 'O_TRUNC', 'O_APPEND', 'O_TMPFILE'])
/** The same by value, for flags strace printed numerically (Linux generic values). */
const WRITE_FLAG_BITS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000
const O_DIRECTORY_BIT = 0o200000

class Parser implements StraceParser {
  readonly events: TraceEvent[] = []
  readonly stats: TraceStats = { lines: 0, syscalls: 0, ignoredLines: 0 }
  readonly maxLines: number
  readonly maxPaths: number
  readonly initialCwd: string | undefined
  /** Working directory per pid, as far as the trace tells. */
  readonly cwds = new Map<number, string>()
  /** The first half of a call split by `<unfinished ...>`, per pid. */
  readonly pending = new Map<number, string>()
  readonly paths = new Set<string>()
  firstPid: number | undefined
  done = false

  constructor (options: StraceParseOptions) {
    this.maxLines = options.maxLines ?? DEFAULT_MAX_TRACE_LINES
    this.maxPaths = options.maxPaths ?? DEFAULT_MAX_TRACE_PATHS
    this.initialCwd = options.cwd === undefined ? undefined : posix.resolve('/', options.cwd)
  }

  push (raw: string): boolean {
    if (this.done) return false
    if (this.stats.lines >= this.maxLines) return this.stop('lines')
    this.stats.lines++
    if (raw.length > MAX_STRACE_LINE_CHARS) {
      this.stats.ignoredLines++
      return true
    }
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    let pid = 0
    const prefix = PID_PREFIX.exec(line)
    if (prefix !== null) {
      pid = Number(prefix[1] ?? prefix[2])
      line = line.slice(prefix[0].length)
    }
    const stamp = TIMESTAMP_PREFIX.exec(line)
    if (stamp !== null) line = line.slice(stamp[0].length)
    if (line.trim() === '') return true
    this.firstPid ??= pid

    const resumed = RESUMED.exec(line)
    if (resumed !== null) {
      const start = this.pending.get(pid)
      this.pending.delete(pid)
      if (start === undefined || !start.startsWith(`${resumed[1] as string}(`)) {
        if (!CHATTER.test(line)) this.stats.ignoredLines++
        return true
      }
      line = start + line.slice(resumed[0].length)
    } else if (UNFINISHED.test(line)) {
      remember(this.pending, pid, line.replace(UNFINISHED, ''))
      return true
    }

    const call = splitSyscall(line)
    const result = call === undefined ? undefined : parseResult(call.result)
    if (call === undefined || result === undefined) {
      if (!CHATTER.test(line)) this.stats.ignoredLines++
      return true
    }
    this.stats.syscalls++
    return this.interpret(pid, call, result)
  }

  result (): ParsedTrace {
    return { events: this.events, stats: { ...this.stats } }
  }

  stop (reason: NonNullable<TraceStats['truncated']>): boolean {
    this.done = true
    this.stats.truncated ??= reason
    return false
  }

  /** The working directory of `pid`, if known: its own, else the command's for the first process. */
  cwdOf (pid: number): string | undefined {
    return this.cwds.get(pid) ?? (pid === this.firstPid ? this.initialCwd : undefined)
  }

  /** The directory a `*at` call's descriptor argument names; notes AT_FDCWD's path as the cwd. */
  dirOf (pid: number, token: string | undefined): string | undefined {
    if (token === undefined) return undefined
    const { fd, path } = parseFd(token)
    if (fd === 'AT_FDCWD') {
      if (path !== undefined) remember(this.cwds, pid, path)
      return path ?? this.cwdOf(pid)
    }
    return path
  }

  interpret (pid: number, call: SyscallText, result: SyscallResult): boolean {
    const { name, args } = call
    const ok = result.value !== undefined && result.value >= 0
    const cwd = (): string | undefined => this.cwdOf(pid)
    const emit = (action: TraceAction, dir: string | undefined, token: string | undefined, extra: Partial<TraceEvent> = {}): boolean =>
      this.emit(pid, name, action, dir, token, result, extra)
    switch (name) {
      case 'open':
        return this.emitOpen(pid, name, cwd(), args[0], args[1], result)
      case 'openat':
        return this.emitOpen(pid, name, this.dirOf(pid, args[0]), args[1], args[2], result)
      case 'openat2':
        return this.emitOpen(pid, name, this.dirOf(pid, args[0]), args[1], /flags=([^,}]*)/.exec(args[2] ?? '')?.[1], result)
      case 'creat':
        return emit('write', cwd(), args[0], ok && result.path !== undefined ? { resolvedPath: result.path } : {})
      case 'execve':
        return emit('exec', cwd(), args[0])
      case 'execveat': {
        const dir = this.dirOf(pid, args[0])
        // AT_EMPTY_PATH with "": the descriptor itself is the program.
        return args[1] === '""' && dir !== undefined ? this.emitPath(pid, name, 'exec', dir, result) : emit('exec', dir, args[1])
      }
      case 'chdir': {
        const target = unquoteString(args[0] ?? '')
        const dir = target === undefined ? undefined : absolute(cwd(), target)
        if (ok && dir !== undefined) remember(this.cwds, pid, dir)
        return true
      }
      case 'fchdir': {
        const { path } = parseFd(args[0] ?? '')
        if (ok && path !== undefined) remember(this.cwds, pid, path)
        return true
      }
      case 'clone': case 'clone3': case 'fork': case 'vfork': {
        // The child starts where its parent is (threads share it; close enough).
        const parentCwd = cwd()
        if (ok && result.value !== undefined && result.value > 0 && parentCwd !== undefined && !this.cwds.has(result.value)) {
          remember(this.cwds, result.value, parentCwd)
        }
        return true
      }
      case 'rename':
        return emit('write', cwd(), args[0]) && emit('write', cwd(), args[1])
      case 'renameat': case 'renameat2':
        return emit('write', this.dirOf(pid, args[0]), args[1]) && emit('write', this.dirOf(pid, args[2]), args[3])
      case 'unlink': case 'truncate':
        return emit('write', cwd(), args[0])
      case 'unlinkat':
        return emit('write', this.dirOf(pid, args[0]), args[1])
      case 'ftruncate': {
        const { path } = parseFd(args[0] ?? '')
        return path === undefined ? true : this.emitPath(pid, name, 'write', path, result)
      }
      case 'mkdir':
        return emit('mkdir', cwd(), args[0])
      case 'mkdirat':
        return emit('mkdir', this.dirOf(pid, args[0]), args[1])
      case 'link': case 'symlink':
        return emit('write', cwd(), args[1])
      case 'linkat':
        return emit('write', this.dirOf(pid, args[2]), args[3])
      case 'symlinkat':
        return emit('write', this.dirOf(pid, args[1]), args[2])
      default:
        return true // a call we do not trace on purpose (e.g. from a hand-made trace): not junk, not used
    }
  }

  emitOpen (pid: number, name: string, dir: string | undefined, pathToken: string | undefined, flagsText: string | undefined,
    result: SyscallResult): boolean {
    const flags = openFlags(flagsText)
    const extra: Partial<TraceEvent> = {}
    if (flags.directory) extra.directory = true
    const ok = result.value !== undefined && result.value >= 0
    if (ok && result.path !== undefined) extra.resolvedPath = result.path
    return this.emit(pid, name, flags.write ? 'write' : 'read', dir, pathToken, result, extra)
  }

  emit (pid: number, name: string, action: TraceAction, dir: string | undefined, pathToken: string | undefined,
    result: SyscallResult, extra: Partial<TraceEvent>): boolean {
    const named = unquoteString(pathToken ?? '')
    if (named === undefined || named === '') {
      this.stats.ignoredLines++
      return true
    }
    let path = absolute(dir, named) ?? named
    // A relative path from an unknown directory: the descriptor strace returned says where it led.
    if (!path.startsWith('/') && extra.resolvedPath !== undefined) path = extra.resolvedPath
    return this.emitPath(pid, name, action, path, result, extra)
  }

  emitPath (pid: number, name: string, action: TraceAction, path: string, result: SyscallResult, extra: Partial<TraceEvent> = {}): boolean {
    for (const p of [path, extra.resolvedPath]) {
      if (p === undefined || this.paths.has(p)) continue
      if (this.paths.size >= this.maxPaths) return this.stop('paths')
      this.paths.add(p)
    }
    const ok = result.value !== undefined && result.value >= 0
    const event: TraceEvent = { pid, syscall: name, action, path, ok }
    if (extra.resolvedPath !== undefined) event.resolvedPath = extra.resolvedPath
    if (extra.directory === true) event.directory = true
    if (!ok && result.errno !== undefined) event.errno = result.errno
    this.events.push(event)
    return true
  }
}

/** `name` against `dir`, normalised; undefined when relative and `dir` is unknown. */
function absolute (dir: string | undefined, name: string): string | undefined {
  if (name.startsWith('/')) return posix.resolve(name)
  return dir === undefined ? undefined : posix.resolve(dir, name)
}

/** Whether open flags (`O_WRONLY|O_CREAT|O_TRUNC`, or a number) write, and whether they ask for a directory. */
function openFlags (text: string | undefined): { write: boolean, directory: boolean } {
  if (text === undefined) return { write: false, directory: false }
  let write = false
  let directory = false
  for (const part of text.trim().split('|')) {
    const flag = part.trim()
    if (WRITE_FLAGS.has(flag)) write = true
    else if (flag === 'O_DIRECTORY') directory = true
    else if (/^(0x[0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.test(flag)) {
      const bits = flag.startsWith('0x') ? parseInt(flag, 16) : flag.startsWith('0') ? parseInt(flag, 8) : Number(flag)
      if ((bits & WRITE_FLAG_BITS) !== 0) write = true
      if ((bits & O_DIRECTORY_BIT) !== 0) directory = true
    }
  }
  return { write, directory }
}

/** Map.set that forgets the oldest entry past MAX_TRACKED_PROCESSES. */
function remember<V> (map: Map<number, V>, pid: number, value: V): void {
  map.delete(pid)
  map.set(pid, value)
  if (map.size > MAX_TRACKED_PROCESSES) {
    const oldest = map.keys().next()
    if (oldest.done !== true) map.delete(oldest.value)
  }
}
