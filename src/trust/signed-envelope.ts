import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { bytesEqual, decodeCanonical, encodeCanonical } from './canonical-cbor.ts'
import { MAX_ENVELOPE_BYTES, SIGNATURE_CONTEXT } from './constants.ts'
import { CanonicalEncodingError, SignatureError } from './errors.ts'
import { publicKeyFromBytes } from './keys.ts'
import type { SignatureDomain } from './constants.ts'
import type { Ed25519PrivateKey, Ed25519PublicKey } from '@libp2p/interface'

/**
 * A signed envelope: opaque payload bytes, the domain they were signed for,
 * the signer's public key and the signature. Encoded as canonical CBOR with
 * short keys: `{ d, k, p, s }`.
 */
export interface OpenedEnvelope {
  domain: SignatureDomain
  signer: Ed25519PublicKey
  payload: Uint8Array
}

interface EnvelopeFields { d: string, k: Uint8Array, p: Uint8Array, s: Uint8Array }

const ED25519_SIGNATURE_BYTES = 64
const textEncoder = new TextEncoder()

/**
 * The bytes actually signed: a versioned context, the domain, then the
 * payload. Because the domain is inside the signed bytes, changing the
 * envelope's `d` field (or replaying the signature elsewhere) breaks it.
 */
export function signedBytes (domain: SignatureDomain, payload: Uint8Array): Uint8Array {
  const prefix = textEncoder.encode(`${SIGNATURE_CONTEXT}\n${domain}\n`)
  const out = new Uint8Array(prefix.byteLength + payload.byteLength)
  out.set(prefix, 0)
  out.set(payload, prefix.byteLength)
  return out
}

export async function sealEnvelope (domain: SignatureDomain, payload: Uint8Array, key: Ed25519PrivateKey): Promise<Uint8Array> {
  const signature = await key.sign(signedBytes(domain, payload))
  const fields: EnvelopeFields = { d: domain, k: publicKeyToProtobuf(key.publicKey), p: payload, s: signature }
  const bytes = encodeCanonical(fields)
  if (bytes.byteLength > MAX_ENVELOPE_BYTES) {
    throw new SignatureError('oversized', `signed ${domain} is ${bytes.byteLength} bytes, more than the limit of ${MAX_ENVELOPE_BYTES}`)
  }
  return bytes
}

/**
 * Decodes an envelope and checks that it is canonical, made for `domain`, and
 * carries a valid signature by the key it names. Whether that key is one we
 * trust is the caller's question (see `trusted-keys.ts`).
 */
export async function openEnvelope (bytes: Uint8Array, domain: SignatureDomain): Promise<OpenedEnvelope> {
  const fields = decodeEnvelopeFields(bytes, domain)
  if (fields.d !== domain) {
    throw new SignatureError('wrong-domain', `expected a signed ${domain}, got a signed ${abbreviate(fields.d)}`)
  }
  let signer: Ed25519PublicKey
  try {
    signer = publicKeyFromBytes(fields.k)
  } catch (err) {
    throw new SignatureError('malformed', `signed ${domain}: the signer key is not an Ed25519 public key`, { cause: err })
  }
  // The protobuf decoder is lenient (tags, extra fields); one key must have one encoding.
  if (!bytesEqual(publicKeyToProtobuf(signer), fields.k)) {
    throw new SignatureError('non-canonical', `signed ${domain}: the signer key is not in canonical form`)
  }
  if (fields.s.byteLength !== ED25519_SIGNATURE_BYTES) {
    throw new SignatureError('malformed', `signed ${domain}: the signature is ${fields.s.byteLength} bytes, not ${ED25519_SIGNATURE_BYTES}`)
  }
  const valid = await signer.verify(signedBytes(domain, fields.p), fields.s)
  if (!valid) {
    throw new SignatureError('bad-signature', `signed ${domain}: the signature does not match the content and the key ${signer.toString()}`)
  }
  return { domain, signer, payload: fields.p }
}

function decodeEnvelopeFields (bytes: Uint8Array, domain: SignatureDomain): EnvelopeFields {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_ENVELOPE_BYTES, `signed ${domain}`)
  } catch (err) {
    const reason = err instanceof CanonicalEncodingError ? err.reason : 'malformed'
    throw new SignatureError(reason, (err as Error).message, { cause: err })
  }
  if (!isRecord(value)) {
    throw new SignatureError('malformed', `signed ${domain}: the envelope is not a map`)
  }
  const keys = Object.keys(value)
  if (keys.length !== 4 || !('d' in value && 'k' in value && 'p' in value && 's' in value)) {
    throw new SignatureError('malformed', `signed ${domain}: the envelope must have exactly the fields d, k, p, s (has ${keys.map(k => abbreviate(k)).join(', ')})`)
  }
  const { d, k, p, s } = value
  if (typeof d !== 'string' || !(k instanceof Uint8Array) || !(p instanceof Uint8Array) || !(s instanceof Uint8Array)) {
    throw new SignatureError('malformed', `signed ${domain}: envelope fields have the wrong types`)
  }
  return { d, k, p, s }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

function abbreviate (text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}
