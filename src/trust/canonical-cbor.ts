import * as dagCbor from '@ipld/dag-cbor'
import { CanonicalEncodingError } from './errors.ts'

/**
 * Deterministic CBOR (DAG-CBOR): one value has exactly one encoding, so a
 * signature over bytes is a signature over a meaning.
 */
export function encodeCanonical (value: unknown): Uint8Array {
  return dagCbor.encode(value)
}

/**
 * Decodes bytes that must be the canonical encoding of their value. Anything
 * else is refused: oversized input before parsing, malformed CBOR, and valid
 * CBOR that re-encodes differently (so no two byte strings carry one meaning,
 * and nothing is accepted that a signer did not produce exactly).
 */
export function decodeCanonical (bytes: Uint8Array, maxBytes: number, what: string): unknown {
  if (bytes.byteLength > maxBytes) {
    throw new CanonicalEncodingError('oversized', `${what} is ${bytes.byteLength} bytes, more than the limit of ${maxBytes}`)
  }
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new CanonicalEncodingError('malformed', `${what} is not valid CBOR: ${(err as Error).message}`, { cause: err })
  }
  let again: Uint8Array
  try {
    again = dagCbor.encode(value)
  } catch (err) {
    throw new CanonicalEncodingError('non-canonical', `${what} decodes to a value that has no canonical encoding`, { cause: err })
  }
  if (!bytesEqual(again, bytes)) {
    throw new CanonicalEncodingError('non-canonical', `${what} is not in canonical DAG-CBOR form`)
  }
  return value
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}
