/** A key file that cannot be used: missing, unreadable, too open, or not a key. */
export class KeyFileError extends Error {
  readonly reason: 'missing' | 'exists' | 'permissions' | 'malformed' | 'wrong-type'
  readonly path: string

  constructor (reason: KeyFileError['reason'], path: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'KeyFileError'
    this.reason = reason
    this.path = path
  }
}

/** A public key given as text (CLI argument, config) that does not parse. */
export class PublicKeyFormatError extends Error {

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'PublicKeyFormatError'
  }
}

/**
 * A signed envelope that must not be believed. `reason` says which rule failed,
 * so callers (gossip validators, `release verify`) can report it precisely.
 */
export class SignatureError extends Error {
  readonly reason: 'malformed' | 'oversized' | 'non-canonical' | 'wrong-domain' | 'bad-signature' | 'untrusted-signer'

  constructor (reason: SignatureError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SignatureError'
    this.reason = reason
  }
}

/** Bytes that are not the one canonical CBOR encoding of a value. */
export class CanonicalEncodingError extends Error {
  readonly reason: 'oversized' | 'malformed' | 'non-canonical'

  constructor (reason: CanonicalEncodingError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CanonicalEncodingError'
    this.reason = reason
  }
}
