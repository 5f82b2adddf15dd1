/**
 * Defaults and limits of discovery by tracing. A traced program is the
 * owner's own application, but its trace can still be arbitrarily long (a
 * server traced for an hour), so every quantity read from it has a bound.
 */

/**
 * How long `mirage env trace` lets the command run before stopping it and
 * proposing a spec from what it did so far. Five minutes covers the start-up
 * and a short exercise of most applications; a server is traced for as long
 * as the owner wants with --timeout-ms, or stopped with Ctrl-C.
 */
export const DEFAULT_TRACE_TIMEOUT_MS = 5 * 60_000

/** Longest trace a caller may ask for: a day, past which a timer is surely a mistake. */
export const MAX_TRACE_TIMEOUT_MS = 24 * 60 * 60_000

/**
 * Time between SIGTERM and SIGKILL when stopping the traced command. Two
 * seconds lets a server close its files; the same grace the release test
 * runner gives (src/testing/constants.ts).
 */
export const DEFAULT_TRACE_KILL_GRACE_MS = 2_000

/**
 * Largest strace output file we let grow before stopping the command. With
 * the syscall filter below a line is ~100-200 bytes, so 512 MiB is millions
 * of file accesses: far past what a spec can use, well short of filling a
 * disk.
 */
export const DEFAULT_MAX_TRACE_BYTES = 512 * 1024 * 1024

/** How often the size of the strace output file is checked against its limit. */
export const TRACE_SIZE_CHECK_INTERVAL_MS = 1_000

/**
 * Lines of strace output parsed at most. Four million lines is the whole of
 * a DEFAULT_MAX_TRACE_BYTES file at typical line lengths, parsed in seconds.
 */
export const DEFAULT_MAX_TRACE_LINES = 4_000_000

/**
 * Distinct paths a trace may name before parsing stops. A proposal is
 * edited by a person; even a large PHP application touches a few thousand
 * files, so 100,000 bounds memory without cutting real traces short.
 */
export const DEFAULT_MAX_TRACE_PATHS = 100_000

/**
 * Longest strace line parsed; longer ones are skipped as junk. A path is at
 * most PATH_MAX (4096) bytes, which strace escapes to at most 4 characters
 * per byte; execve arguments are cut by strace's -s limit.
 */
export const MAX_STRACE_LINE_CHARS = 64 * 1024

/**
 * Processes whose working directory and pending (`<unfinished ...>`) call
 * the parser remembers; beyond it the oldest is forgotten. Far above the
 * number of live processes of any application we would trace.
 */
export const MAX_TRACKED_PROCESSES = 65_536

/**
 * Bytes read from the start of each traced file: enough for the ELF magic,
 * the program headers and the PT_INTERP string of ordinary executables
 * (the loader path sits at 0x318 in x86-64 binaries), and for a `#!` line
 * (the kernel reads at most 256 bytes of it, BINPRM_BUF_SIZE).
 */
export const FILE_HEAD_BYTES = 4096

/** Files inspected at once after the trace: enough to hide latency, few enough to stay polite to the disk. */
export const INSPECT_CONCURRENCY = 8

/**
 * The system calls traced: those that open or execute a file (what the
 * program depends on), those that modify the file system (what makes a path
 * a data file), and those that change or inherit the working directory (to
 * make relative paths absolute). The `?` prefix tells strace not to fail on
 * calls the architecture lacks (aarch64 has no `open`, `mkdir`, `rename`...).
 * Naming calls, rather than strace's `%file` class, leaves out the stat
 * family: a file only stat'ed was not read, and those calls dominate traces.
 */
export const TRACED_SYSCALLS = [
  'open', 'openat', 'openat2', 'creat',
  'execve', 'execveat',
  'chdir', 'fchdir',
  'clone', 'clone3', 'fork', 'vfork',
  'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat',
  'truncate', 'ftruncate', 'mkdir', 'mkdirat',
  'link', 'linkat', 'symlink', 'symlinkat'
] as const

/**
 * strace's flags (checked against strace 6.1's `-h`):
 *   -f              follow forks: children and threads are traced too
 *   -qq             no attach/detach or exit-status lines
 *   -y              print the path behind every file descriptor, including
 *                   AT_FDCWD (`AT_FDCWD</srv/app>`) and the descriptor an
 *                   open returns (`= 3</etc/app.ini>`, symlinks resolved)
 *   -z              successful calls only: failed probes (a library search,
 *                   a missing optional config) are not dependencies, and are
 *                   most of a trace; it also makes strace print each call
 *                   whole, so `<unfinished ...>` pairs become rare
 *   --seccomp-bpf   stop only on the traced calls: the program runs at
 *                   nearly full speed instead of stopping on every call
 *   -e signal=none  no `--- SIGCHLD ... ---` lines
 */
export const STRACE_FLAGS = [
  '-f', '-qq', '-y', '-z', '--seccomp-bpf', '-e', 'signal=none',
  '-e', `trace=${TRACED_SYSCALLS.map(name => `?${name}`).join(',')}`
] as const
