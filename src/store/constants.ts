/**
 * Limits and fixed names of the node's LevelDB store.
 */

/**
 * Schema version this build reads and writes. Bump it together with a new
 * entry in `BUILT_IN_MIGRATIONS` (migrations.ts) whenever a stored record
 * changes shape, so that an existing node upgrades its data in place instead
 * of failing validation on every read.
 */
export const CURRENT_SCHEMA_VERSION = 1

/** Sublevel holding store bookkeeping (the schema version), never records. */
export const META_SUBLEVEL = 'meta'

/** Key, in the meta sublevel, of the schema version of the data on disk. */
export const SCHEMA_VERSION_KEY = 'schema-version'

/**
 * Longest key accepted, in UTF-8 bytes. The longest key we build is an
 * outcome key, three ids joined by '/' (a CIDv1 release id is ~60 bytes, a
 * peer id ~52): 1 KiB leaves ample room while keeping keys, which LevelDB
 * repeats in every index block, small.
 */
export const MAX_KEY_BYTES = 1024

/**
 * Longest id (release, cluster, peer, report) or app name, in characters.
 * Ids are CIDs, peer ids and hex digests, all well under 100 characters;
 * the bound only stops a bug or a hostile peer from storing megabytes in a
 * field that is meant to be a name.
 */
export const MAX_ID_LENGTH = 256

/**
 * Longest version string. Semver with pre-release and build metadata stays
 * far below this; it is a sanity bound like MAX_ID_LENGTH.
 */
export const MAX_VERSION_LENGTH = 256

/**
 * Largest signed envelope (manifest, outcome, report) kept in a record.
 * A manifest lists one hash per chunk: a 10 GB artifact in 64 KiB chunks is
 * ~160k hashes, ~6 MB. The release, report and overlay areas enforce their
 * own, tighter wire limits; this outer bound keeps a buggy caller from
 * writing values that bloat LevelDB's log and compactions.
 */
export const MAX_ENVELOPE_BYTES = 16 * 1024 * 1024

/**
 * Most operations in one `RecordCollection.batch`. LevelDB builds a batch in
 * memory and writes it as one log record, so an unbounded batch is an
 * unbounded allocation; callers with more work split it (and lose atomicity
 * across the split, which they must then handle).
 */
export const MAX_BATCH_OPS = 10_000

/**
 * Whether writes wait for fsync by default. A record the node acknowledged
 * (an outcome it gossiped, an install state it acted on) must survive a
 * machine crash, not only a process crash; LevelDB's default (`sync: false`)
 * can lose the last writes on power loss.
 */
export const DEFAULT_SYNC_WRITES = true
