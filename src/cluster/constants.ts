import { MAX_ENVELOPE_BYTES } from '../trust/index.ts'

/** A resource the vendor gave no weight counts once per differing item (the "count differing items"). */
export const DEFAULT_RESOURCE_WEIGHT = 1

/**
 * Largest full distance matrix clustering keeps in memory. 5,000 distinct
 * fingerprints (the census: 100,000 machines) take 50 MB as Uint16
 * and 200 MB as Float64; 256 MiB holds either, and leaves a vendor machine
 * plenty. Beyond it distances are recomputed from the dense rows (slower, same
 * values).
 */
export const DEFAULT_MAX_DISTANCE_MATRIX_BYTES = 256 * 1024 * 1024

/** The cluster map format this build writes and reads; bumped on any change of meaning. */
export const CLUSTER_MAP_FORMAT = 1

/**
 * Largest cluster map payload. A map is sealed in one signed envelope
 * (`MAX_ENVELOPE_BYTES`, 2 MiB); 4 KiB is left for the envelope's own fields
 * (domain, signer key, signature, CBOR headers: under 200 bytes), so every map
 * that validates can be sealed. At ~75 bytes an assignment (a 64-character
 * digest and a short name) that is ~27,000 distinct fingerprints.
 */
export const MAX_CLUSTER_MAP_BYTES = MAX_ENVELOPE_BYTES - 4096

/** Names cluster maps give by default: `c01`, `c02`, … in suggested order. */
export const DEFAULT_CLUSTER_NAME_PREFIX = 'c'

/** Cluster names carry at least this many digits, so `c01`…`c09` sort before `c10`. */
export const MIN_CLUSTER_NAME_DIGITS = 2

/**
 * A fingerprint digest as the census and cluster maps carry it: printable,
 * starting with a letter or digit (never `__proto__`-like keys), at most 128
 * characters (a SHA-256 in hex is 64, a CID in base32 59).
 */
export const FINGERPRINT_DIGEST_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}$/

/** Resource names in a weight table: a spec name or a path, never unbounded. */
export const MAX_RESOURCE_NAME_LENGTH = 1024
