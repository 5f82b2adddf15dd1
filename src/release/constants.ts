/** The manifest format this build writes and reads; bumped on any change of meaning. */
export const MANIFEST_FORMAT = 1

/**
 * Largest manifest payload we decode. 16,384 chunk digests (a 16 GiB artifact
 * in 1 MiB chunks) take ~560 KiB; 1 MiB bounds the work a peer can make us do.
 */
export const MAX_MANIFEST_BYTES = 1024 * 1024

/**
 * A release is refused after its expiry (freeze attack: an attacker holding
 * back newer releases). 30 days lets a slow staged rollout finish while
 * bounding how long a withheld release stays installable.
 */
export const DEFAULT_RELEASE_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000

/** No release may claim to live longer than a year: a vendor must re-sign. */
export const MAX_RELEASE_LIFETIME_MS = 366 * 24 * 60 * 60 * 1000

/** Bounds on a test's timeout: long enough for a real workload, never unbounded. */
export const MIN_TEST_TIMEOUT_MS = 1_000
export const MAX_TEST_TIMEOUT_MS = 24 * 60 * 60 * 1000
export const DEFAULT_TEST_TIMEOUT_MS = 5 * 60 * 1000

/** Bounds on a plan: a cluster name appears in DHT keys and topics. */
export const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
export const MAX_PLAN_CLUSTERS = 1_000
/** The paper uses a handful of representatives per cluster; 100 is already a lot of exposure. */
export const MAX_REPRESENTATIVES = 100

/**
 * How long an elected representative has to announce it started testing
 * before the next in rank replaces it. 10 minutes covers a machine that is
 * slow to download over a loaded swarm.
 */
export const DEFAULT_START_TIMEOUT_MS = 10 * 60 * 1000

/**
 * After the test's own timeout, how long a representative that started may
 * stay silent before it counts as a failure (a crashed machine cannot report).
 */
export const DEFAULT_REPORT_GRACE_MS = 5 * 60 * 1000

/** Semver strings longer than this are nonsense, not versions. */
export const MAX_VERSION_LENGTH = 128

/** A test command is an argv; bound it so a manifest stays small. */
export const MAX_TEST_ARGS = 64
export const MAX_TEST_ARG_LENGTH = 1024
