/**
 * Defaults and limits of the user-machine test runner. Each bounds what a
 * release's test (vendor-signed, but still code we did not write) could
 * otherwise make unbounded: memory for its output, time, stray processes.
 */

/**
 * Output kept for the problem report: the tail, because a failing test
 * prints its verdict last. 64 KiB holds the failing assertion and plenty of
 * context while staying small enough to keep per run and to send,
 * encrypted, to the vendor.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024

/**
 * Largest tail a caller may ask for. The tail buffer is allocated up front,
 * so this bounds the memory of one run.
 */
export const MAX_OUTPUT_BYTES_LIMIT = 16 * 1024 * 1024

/**
 * Time between SIGTERM and SIGKILL. Two seconds lets a test runner flush
 * its report and remove temp files, and is short next to any test timeout
 * (release manifests require at least one second, typically minutes).
 */
export const DEFAULT_KILL_GRACE_MS = 2_000

/**
 * After SIGKILL, how long to wait for the group to be gone before giving up
 * (and logging): a process in uninterruptible sleep dies only once its I/O
 * returns, which on a sick disk can take a while, but never forever.
 */
export const KILL_WAIT_MS = 5_000

/**
 * Interval of the liveness check while waiting for a process group to die.
 * POSIX offers no way to wait for a group, so we poll; 20 ms adds little
 * latency and, with the /proc scan skipped when the group is empty, little
 * CPU.
 */
export const GROUP_POLL_INTERVAL_MS = 20

/**
 * Once the group is gone, how long to wait for the output pipes to close.
 * Only a process that left the group (setsid) can still hold them; we stop
 * reading rather than wait for it.
 */
export const PIPE_CLOSE_WAIT_MS = 1_000

/** PATH given to the test when the node itself has none. */
export const DEFAULT_TEST_PATH = '/usr/local/bin:/usr/bin:/bin'

/**
 * Longest timer Node honours: setTimeout turns anything above 2^31 − 1 ms
 * into 1 ms, which would time every test out at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Bound on the sandbox probe (`bwrap … true`). It normally takes a few
 * milliseconds; ten seconds covers a machine swapping hard, and a bwrap
 * that hangs longer than that is not one to run tests in.
 */
export const SANDBOX_PROBE_TIMEOUT_MS = 10_000

/**
 * Largest report the exit-status wrapper may send on its side channel. A
 * real one is about 100 bytes of JSON; anything larger is not from the
 * wrapper and is ignored.
 */
export const MAX_WRAPPER_REPORT_BYTES = 4 * 1024

/**
 * Clock ticks per second in /proc/<pid>/stat. The kernel exports times in
 * USER_HZ, which is 100 on every architecture Node runs on (x86, arm,
 * arm64, ppc64, s390x, riscv64, loong64; only alpha and ia64 differed).
 */
export const USER_HZ = 100
