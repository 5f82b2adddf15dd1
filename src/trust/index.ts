/**
 * Trust: Ed25519 keys, domain-separated signatures in canonical CBOR
 * envelopes, and the vendor keys a machine trusts per app.
 *
 * Implements the trust model of DESIGN.md: releases, cluster maps and
 * overrides are signed by the vendor; outcomes by the reporting node. A
 * signature is bound to its purpose (`SIGNATURE_DOMAINS`), so it can never be
 * replayed as something else.
 */
export { SIGNATURE_DOMAINS, APP_NAME_PATTERN, MAX_ENVELOPE_BYTES } from './constants.ts'
export type { SignatureDomain } from './constants.ts'
export { KeyFileError, PublicKeyFormatError, SignatureError, CanonicalEncodingError } from './errors.ts'
export { encodeCanonical, decodeCanonical, bytesEqual } from './canonical-cbor.ts'
export { generateSigningKey, savePrivateKey, loadPrivateKey, publicKeyToText, publicKeyFromText, publicKeyFromBytes } from './keys.ts'
export { sealEnvelope, openEnvelope, signedBytes } from './signed-envelope.ts'
export type { OpenedEnvelope } from './signed-envelope.ts'
export { trustedVendorKeys } from './trusted-keys.ts'
export type { TrustedVendorKeys } from './trusted-keys.ts'
