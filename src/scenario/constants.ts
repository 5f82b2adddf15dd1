/**
 * Defaults of scenario files and of the simulator's timing model. Each value
 * says why; a scenario overrides any of them under `timing:`.
 */

/**
 * Per-machine download rate: 10 MiB/s (≈ 84 Mbit/s), a broadband line. On
 * loopback one libp2p stream moves 230-290 MB/s but one origin serving many
 * receivers tops out near 330 MB/s in total (DESIGN.md, "What we measured"),
 * so 50 local machines see ≈ 7 MB/s each: the same order of magnitude.
 */
export const DEFAULT_TRANSFER_BYTES_PER_SECOND = 10 * 1024 * 1024

/** How long the release test (and the health check, which is the same test) runs: a small self-test. */
export const DEFAULT_TEST_DURATION_MS = 2_000

/** From a failed test until the vendor holds the sealed problem report (delivered in the background over the overlay). */
export const DEFAULT_REPORT_DELAY_MS = 5_000

/**
 * From a gossip publication until every online machine has it: gossipsub
 * delivered between local nodes within ≈ 1.5 s of subscribing (mesh forming);
 * in a formed mesh a hop is a fraction of that.
 */
export const DEFAULT_GOSSIP_DELAY_MS = 500

/**
 * An elected representative waits this long after seeing the release before
 * it tests, as the node does (`ELECTION_SETTLE_MS` in src/node/app-rollout.ts):
 * time for the other members' announcements to land.
 */
export const DEFAULT_ELECTION_SETTLE_MS = 5_000

/** Most cores a simulated shared host may have (timing.sharedHostCores): it is one machine, more is a typo. */
export const MAX_SHARED_HOST_CORES = 1024

/** Per-machine spread of transfer and test times, ± this fraction (seeded): machines are not identical. */
export const DEFAULT_TIMING_JITTER = 0.1

/** The release test's own timeout when a scenario names none; the ground-truth run uses it too. */
export const DEFAULT_SCENARIO_TEST_TIMEOUT_MS = 60_000

/**
 * The ground truth runs the test script once per distinct environment; a
 * script that hangs longer than this (or the scenario's test timeout, if
 * shorter) counts as failing there, as a hung test does on a machine.
 */
export const MAX_GROUND_TRUTH_TEST_MS = 30_000

/** A downloader fetches from this many sources at once (holders and the vendor), as the fetch scheduler asks several peers. */
export const SIMULATED_PARALLEL_SOURCES = 4

/** Safety net: a simulation that runs past this much simulated time stops (30 days, a release's default lifetime). */
export const MAX_SIMULATED_TIME_MS = 30 * 24 * 60 * 60 * 1000

/** Releases per scenario: bitmasks of exposed versions per machine hold 31. */
export const MAX_SCENARIO_RELEASES = 31

/** Built-in scenario names resolve to files in this folder (relative to the package root). */
export const BUILT_IN_SCENARIO_DIR = 'scenarios'

/** The release's test script inside the app tree (argv[0] of the manifest's test command). */
export const TEST_SCRIPT_PATH = 'mirage-test'

/** The version file the release ships, read by the test script when MIRAGE_VERSION is unset. */
export const VERSION_FILE_PATH = 'VERSION'

/** The generated payload that gives the artifact its size. */
export const PAYLOAD_PATH = 'share/payload.bin'

/**
 * libuv's thread pool size for a process that hosts a swarm: every node's
 * LevelDB and file I/O go through this one pool, shared by all worker
 * threads. Node's default of 4 queues an installing representative's fsyncs
 * behind 200 nodes' store reads (its install took 90 s instead of 40 s at 200
 * machines). Set by sizeThreadPoolForSwarm (thread-pool.ts).
 */
export const SWARM_THREAD_POOL_SIZE = 64
