/**
 * What a trace says a program did to the file system, one event per path a
 * system call touched. This is the vocabulary between the strace parser
 * (which knows strace's syntax) and the proposal (which knows what an
 * environmental resource is), so either can change without the other.
 */

/**
 * What the call did to the path:
 *   exec   executed it (execve, execveat)
 *   read   opened it for reading only
 *   write  opened it for writing, created, truncated, renamed, linked or
 *          removed it: the path holds the program's data, not its environment
 *   mkdir  created it as a directory
 */
export type TraceAction = 'exec' | 'read' | 'write' | 'mkdir'

export interface TraceEvent {
  /** Process (or thread) id from the trace; 0 when the trace has no pid column. */
  pid: number
  /** The system call, e.g. `openat`. */
  syscall: string
  action: TraceAction
  /**
   * The path as the program named it, made absolute against the directory
   * it was relative to (a directory descriptor or the working directory)
   * and normalised. Relative only when that directory could not be known.
   */
  path: string
  /**
   * Where a successful open led, from strace -y: absolute, with symlinks
   * resolved by the kernel (`/lib/x86_64-linux-gnu/libc.so.6` may lead to
   * `/usr/lib/x86_64-linux-gnu/libc.so.6`).
   */
  resolvedPath?: string
  /** Whether the call succeeded: a failed open read nothing, a failed exec ran nothing. */
  ok: boolean
  /** The error of a failed call, e.g. `ENOENT`. */
  errno?: string
  /** Opened with O_DIRECTORY: a directory listing, not a file. */
  directory?: boolean
}

/** Why parsing stopped before the end of the trace. */
export type TraceTruncation = 'lines' | 'paths' | 'trace-size'

export interface TraceStats {
  /** Lines read. */
  lines: number
  /** Lines that were a traced system call (after joining `<unfinished ...>` pairs). */
  syscalls: number
  /** Lines that were neither a call we understand nor strace's own chatter (signals, exits): junk, kept count of. */
  ignoredLines: number
  /** Set when the trace was cut short by a limit, so the proposal may miss resources and may keep data files. */
  truncated?: TraceTruncation
}

/** A parsed trace. */
export interface ParsedTrace {
  events: TraceEvent[]
  stats: TraceStats
}
