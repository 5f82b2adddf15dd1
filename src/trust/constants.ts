/**
 * What a signature is made for. Each domain is mixed into the signed bytes
 * (see `signed-envelope.ts`), so a signature made for one purpose can never be
 * replayed as another: a release signature is not an outcome, an outcome is
 * not an override.
 */
export const SIGNATURE_DOMAINS = {
  release: 'release',
  outcome: 'outcome',
  override: 'override',
  clusterMap: 'cluster-map',
  testStart: 'test-start',
  /** A node's claim to be a member of a cluster (its DHT announcement, gossiped). */
  member: 'member',
  report: 'report',
  /** A machine's salted fingerprint sent to the vendor (census, issue 4). */
  census: 'census'
} as const

export type SignatureDomain = typeof SIGNATURE_DOMAINS[keyof typeof SIGNATURE_DOMAINS]

/**
 * Prefix of every signed message. Versioned so that a future change of the
 * signing scheme cannot be confused with this one.
 */
export const SIGNATURE_CONTEXT = 'mirage/signature/v1'

/**
 * Largest signed envelope we decode. A release manifest for a 16 GiB artifact
 * in 1 MiB chunks holds 16,384 digests of 32 bytes (~560 KiB); 2 MiB leaves
 * room without letting a peer make us parse arbitrarily large input.
 */
export const MAX_ENVELOPE_BYTES = 2 * 1024 * 1024

/** Private keys are for the owner only: rw for the owner, nothing for others. */
export const PRIVATE_KEY_FILE_MODE = 0o600

/** Bits of a key file's mode that must be clear: any group or other access. */
export const PRIVATE_KEY_FORBIDDEN_MODE_BITS = 0o077

/** An app name appears in topics, DHT keys and paths: keep it small and plain. */
export const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/
