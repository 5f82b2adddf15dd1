/**
 * Errors of the report area. Callers check `err.name` and `err.reason`, not
 * `instanceof`.
 */

/**
 * Which rule a report (or a sealed report) broke:
 *   oversized          larger than its limit; refused before parsing
 *   malformed          the sealed envelope is not canonical DAG-CBOR `{ v, app, release, keyId, epk, nonce, ct }`
 *                      with fields of the right types and sizes
 *   wrong-key          sealed to a key id none of the given private keys has
 *   tampered           the ciphertext does not authenticate (a flipped byte, a
 *                      changed app/release/key id, a bad ephemeral key)
 *   bad-signature      the decrypted envelope's signature does not verify
 *   wrong-signer       signed by one machine, claiming to be from another
 *   untrusted-machine  the caller's check refused the signing machine
 *   invalid            a report that fails its schema (`field` says where), or
 *                      whose app/release differ from the sealed envelope's
 */
export type ReportErrorReason =
  | 'oversized'
  | 'malformed'
  | 'wrong-key'
  | 'tampered'
  | 'bad-signature'
  | 'wrong-signer'
  | 'untrusted-machine'
  | 'invalid'

/** A report or sealed report that must not be built, sent or believed. */
export class ReportError extends Error {
  readonly reason: ReportErrorReason
  /** The offending field (`machine`, `failure.exitCode`, `nonce`…), `''` when it is the whole. */
  readonly field: string

  constructor (reason: ReportErrorReason, message: string, field = '', options?: ErrorOptions) {
    super(message, options)
    this.name = 'ReportError'
    this.reason = reason
    this.field = field
  }
}

/**
 * The owner's redaction settings cannot be used. Raised when the node's
 * config is read, never while a report is built, so a bad secret list stops
 * the node instead of silently letting a secret through.
 *   too-short  a secret under MIN_OWNER_SECRET_CHARS characters
 *   too-long   a secret over MAX_OWNER_SECRET_CHARS characters
 *   too-many   more than MAX_OWNER_SECRETS secrets
 */
export class RedactionConfigError extends Error {
  readonly reason: 'too-short' | 'too-long' | 'too-many'
  /** Index of the offending secret in the list (never its value), -1 for the list. */
  readonly index: number

  constructor (reason: RedactionConfigError['reason'], index: number, message: string) {
    super(message)
    this.name = 'RedactionConfigError'
    this.reason = reason
    this.index = index
  }
}

/** A report key given as text, PEM or bytes that does not parse. */
export class ReportKeyFormatError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ReportKeyFormatError'
  }
}
