/**
 * The chunks-protocol codec: round trips, the canonical chunk layout, and
 * every way a frame can be wrong (after gossipsub's decode-rpc-limits
 * tests): malformed, truncated, oversized, non-canonical, off-schema, and
 * random mutations, which must only ever yield ChunkProtocolError.
 */
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { MAX_ARTIFACT_CHUNKS, MAX_CHUNK_SIZE_BYTES } from '../../../src/content/index.ts'
import {
  MAX_BITFIELD_BYTES, MAX_REQUEST_FRAME_BYTES, MAX_RESPONSE_FRAME_BYTES, MAX_SMALL_RESPONSE_FRAME_BYTES,
  bitfieldLength, bitfieldOf, countBits, createBitfield, decodeRequest, decodeResponse, encodeRequest, encodeResponse,
  hasBit, isValidBitfield, setBit
} from '../../../src/overlay/chunk-protocol.ts'
import type { ChunkRequest, ChunkResponse } from '../../../src/overlay/chunk-protocol.ts'

const root = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode('an artifact layout')))

function bytesOf (length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

function flat (list: Uint8ArrayList): Uint8Array {
  return list.subarray()
}

function failure (fn: () => unknown): { name: string, reason: string, field: string, message: string } {
  try {
    fn()
  } catch (err) {
    return err as { name: string, reason: string, field: string, message: string }
  }
  throw new Error('expected a ChunkProtocolError')
}

describe('requests', () => {
  it('round-trips have and get', () => {
    const requests: ChunkRequest[] = [
      { t: 'have', root },
      { t: 'have', root, wait: 0 },
      { t: 'have', root, wait: 300 },
      { t: 'have', root, wait: MAX_ARTIFACT_CHUNKS },
      { t: 'get', root, index: 0 },
      { t: 'get', root, index: 23 },
      { t: 'get', root, index: 24 },
      { t: 'get', root, index: 255 },
      { t: 'get', root, index: 256 },
      { t: 'get', root, index: MAX_ARTIFACT_CHUNKS - 1 }
    ]
    for (const request of requests) {
      const frame = encodeRequest(request)
      expect(frame.byteLength).toBeLessThanOrEqual(MAX_REQUEST_FRAME_BYTES)
      const decoded = decodeRequest(frame)
      expect(decoded.t).toBe(request.t)
      expect(decoded.root.equals(request.root)).toBe(true)
      if (request.t === 'get' && decoded.t === 'get') expect(decoded.index).toBe(request.index)
      if (request.t === 'have' && decoded.t === 'have') expect(decoded.wait).toBe(request.wait)
      // Also from a list of pieces, as lpStream hands them over.
      expect(decodeRequest(new Uint8ArrayList(frame.subarray(0, 3), frame.subarray(3)))).toEqual(decoded)
    }
  })

  it('is the canonical DAG-CBOR of the message', () => {
    expect(encodeRequest({ t: 'get', root, index: 7 })).toEqual(dagCbor.encode({ t: 'get', root, index: 7 }))
    expect(encodeRequest({ t: 'have', root, wait: 7 })).toEqual(dagCbor.encode({ t: 'have', root, wait: 7 }))
    // `wait: undefined` is a plain `have`, byte for byte.
    expect(encodeRequest({ t: 'have', root, wait: undefined })).toEqual(dagCbor.encode({ t: 'have', root }))
  })

  it('refuses an oversized frame before parsing', () => {
    const err = failure(() => decodeRequest(new Uint8Array(MAX_REQUEST_FRAME_BYTES + 1)))
    expect(err.name).toBe('ChunkProtocolError')
    expect(err.reason).toBe('oversized')
  })

  it('refuses malformed and truncated frames', () => {
    const frame = encodeRequest({ t: 'get', root, index: 300 })
    for (let cut = 0; cut < frame.byteLength; cut++) {
      const err = failure(() => decodeRequest(frame.subarray(0, cut)))
      expect(err.name).toBe('ChunkProtocolError')
      expect(['malformed', 'invalid']).toContain(err.reason)
    }
    expect(failure(() => decodeRequest(Uint8Array.from([0xff, 0x00]))).reason).toBe('malformed')
    // Trailing bytes after a complete value.
    expect(failure(() => decodeRequest(Uint8Array.from([...frame, 0x00]))).reason).toBe('malformed')
  })

  it('refuses non-canonical encodings', () => {
    // Keys out of canonical order.
    const reordered = Uint8Array.from([
      0xa3,
      0x65, ...new TextEncoder().encode('index'), 0x01,
      0x61, 0x74, 0x63, ...new TextEncoder().encode('get'),
      0x64, ...new TextEncoder().encode('root'), ...dagCbor.encode(root)
    ])
    expect(failure(() => decodeRequest(reordered)).reason).toBe('non-canonical')
    // A non-minimal integer (1 as 0x18 0x01) is refused by strict decoding or the canonical check.
    const canonical = encodeRequest({ t: 'get', root, index: 1 })
    const padded = Uint8Array.from([...canonical.subarray(0, canonical.byteLength - 1), 0x18, 0x01])
    expect(['malformed', 'non-canonical']).toContain(failure(() => decodeRequest(padded)).reason)
  })

  it('refuses values off the schema, naming the field', () => {
    const cases: Array<[unknown, string]> = [
      [[1, 2], ''],
      ['have', ''],
      [{ t: 'put', root }, 't'],
      [{ t: 'have' }, 'root'],
      [{ t: 'have', root, extra: 1 }, 'extra'],
      [{ t: 'have', root: 'bafy' }, 'root'],
      [{ t: 'have', root: CID.createV0(root.multihash) }, 'root'],
      [{ t: 'get', root }, 'index'],
      [{ t: 'get', root, index: -1 }, 'index'],
      [{ t: 'get', root, index: 1.5 }, 'index'],
      [{ t: 'get', root, index: MAX_ARTIFACT_CHUNKS }, 'index'],
      [{ t: 'get', root, index: '3' }, 'index'],
      [{ t: 'have', root, wait: -1 }, 'wait'],
      [{ t: 'have', root, wait: 2.5 }, 'wait'],
      [{ t: 'have', root, wait: MAX_ARTIFACT_CHUNKS + 1 }, 'wait'],
      [{ t: 'have', root, wait: '3' }, 'wait'],
      [{ t: 'have', root, wait: null }, 'wait'],
      [{ t: 'have', root, wait: 1, index: 1 }, 'index'],
      [{ t: 'get', root, index: 1, wait: 1 }, 'wait']
    ]
    for (const [value, field] of cases) {
      const err = failure(() => decodeRequest(dagCbor.encode(value)))
      expect(err.name).toBe('ChunkProtocolError')
      expect(err.reason).toBe('invalid')
      expect(err.field).toBe(field)
    }
  })

  it('will not encode a request a peer would refuse', () => {
    expect(failure(() => encodeRequest({ t: 'get', root, index: -3 })).reason).toBe('invalid')
  })
})

describe('responses', () => {
  it('round-trips have, chunk and missing', () => {
    const responses: ChunkResponse[] = [
      { t: 'have', root, bits: new Uint8Array(0) },
      { t: 'have', root, bits: Uint8Array.from([0x80, 0x01]) },
      { t: 'have', root, bits: new Uint8Array(MAX_BITFIELD_BYTES).fill(0xff) },
      { t: 'missing', index: 0 },
      { t: 'missing', index: 9000 },
      { t: 'chunk', index: 0, bytes: bytesOf(1) },
      { t: 'chunk', index: 3, bytes: bytesOf(23) },
      { t: 'chunk', index: 24, bytes: bytesOf(24) },
      { t: 'chunk', index: 300, bytes: bytesOf(255) },
      { t: 'chunk', index: 70, bytes: bytesOf(256) },
      { t: 'chunk', index: MAX_ARTIFACT_CHUNKS - 1, bytes: bytesOf(65_535) },
      { t: 'chunk', index: 5, bytes: bytesOf(65_536) },
      { t: 'chunk', index: 6, bytes: bytesOf(1024 * 1024 + 17) }
    ]
    for (const response of responses) {
      const frame = encodeResponse(response)
      expect(frame.byteLength).toBeLessThanOrEqual(MAX_RESPONSE_FRAME_BYTES)
      expect(decodeResponse(frame)).toEqual(response)
      expect(decodeResponse(flat(frame))).toEqual(response)
    }
  })

  it('encodes a chunk as the canonical DAG-CBOR, without copying its bytes', () => {
    for (const length of [1, 23, 24, 255, 256, 65_535, 65_536, 300_000]) {
      for (const index of [0, 23, 24, 255, 256, MAX_ARTIFACT_CHUNKS - 1]) {
        const bytes = bytesOf(length, index)
        const parts = encodeResponse({ t: 'chunk', index, bytes })
        expect(flat(parts)).toEqual(dagCbor.encode({ t: 'chunk', index, bytes }))
        expect([...parts].some((part) => part.buffer === bytes.buffer && part.byteOffset === bytes.byteOffset)).toBe(true)
      }
    }
  })

  it('decodes a chunk from a contiguous frame as a view, not a copy', () => {
    const frame = flat(encodeResponse({ t: 'chunk', index: 2, bytes: bytesOf(4096) }))
    const decoded = decodeResponse(frame)
    expect(decoded.t === 'chunk' && decoded.bytes.buffer === frame.buffer).toBe(true)
  })

  it('refuses oversized frames before parsing, including a tighter limit set by the caller', () => {
    expect(failure(() => decodeResponse(new Uint8Array(MAX_RESPONSE_FRAME_BYTES + 1))).reason).toBe('oversized')
    const frame = encodeResponse({ t: 'chunk', index: 1, bytes: bytesOf(2048) })
    expect(failure(() => decodeResponse(frame, 1024)).reason).toBe('oversized')
    // A frame that is not a chunk may not use the chunk-sized allowance.
    const big = dagCbor.encode({ t: 'missing', index: 1, pad: new Uint8Array(MAX_SMALL_RESPONSE_FRAME_BYTES) })
    expect(failure(() => decodeResponse(big)).reason).toBe('oversized')
  })

  it('refuses a chunk larger than the content area allows', () => {
    const head = flat(encodeResponse({ t: 'chunk', index: 1, bytes: bytesOf(10) })).subarray(0, 15)
    // Byte-string head claiming MAX_CHUNK_SIZE_BYTES + 1 bytes (4-byte length).
    const length = MAX_CHUNK_SIZE_BYTES + 1
    const frame = Uint8Array.from([...head, 0x5a, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff])
    const err = failure(() => decodeResponse(frame))
    expect(err.reason).toBe('invalid')
    expect(err.field).toBe('bytes')
  })

  it('refuses every truncation of a chunk frame', () => {
    const frame = flat(encodeResponse({ t: 'chunk', index: 300, bytes: bytesOf(40) }))
    for (let cut = 0; cut < frame.byteLength; cut++) {
      const err = failure(() => decodeResponse(frame.subarray(0, cut)))
      expect(err.name).toBe('ChunkProtocolError')
    }
  })

  it('refuses non-minimal lengths and indexes in the chunk layout', () => {
    const frame = flat(encodeResponse({ t: 'chunk', index: 5, bytes: bytesOf(10) }))
    // Length 10 written as a 1-byte argument (0x58 0x0a).
    const longLength = Uint8Array.from([...frame.subarray(0, 15), 0x58, 0x0a, ...frame.subarray(16)])
    expect(failure(() => decodeResponse(longLength)).reason).toBe('non-canonical')
    // Index 5 written as 0x18 0x05.
    const longIndex = Uint8Array.from([...frame.subarray(0, frame.byteLength - 1), 0x18, 0x05])
    expect(failure(() => decodeResponse(longIndex)).reason).toBe('non-canonical')
    // Trailing garbage.
    expect(failure(() => decodeResponse(Uint8Array.from([...frame, 0]))).reason).toBe('malformed')
    // Wrong key after the bytes.
    const wrongKey = Uint8Array.from(frame)
    wrongKey[15 + 1 + 10 + 1] = 0x4a // 'J' instead of 'i'
    expect(failure(() => decodeResponse(wrongKey)).reason).toBe('non-canonical')
  })

  it('refuses values off the schema', () => {
    const cases: unknown[] = [
      { t: 'have', root, bits: 'ff' },
      { t: 'have', root, bits: new Uint8Array(MAX_BITFIELD_BYTES + 1) },
      { t: 'have', bits: new Uint8Array(1) },
      { t: 'missing', index: -1 },
      { t: 'missing' },
      { t: 'chunk', index: 1, bytes: new Uint8Array(0) },
      { t: 'chunk', index: 1, bytes: 'abc' },
      { t: 'nope' },
      [1, 2, 3],
      root
    ]
    for (const value of cases) {
      const err = failure(() => decodeResponse(dagCbor.encode(value)))
      expect(err.name).toBe('ChunkProtocolError')
      expect(err.reason).toBe('invalid')
    }
  })

  it('turns any random mutation of a valid frame into a valid message or a ChunkProtocolError, never anything else', () => {
    const frames = [
      encodeRequest({ t: 'have', root }),
      encodeRequest({ t: 'get', root, index: 4000 }),
      flat(encodeResponse({ t: 'have', root, bits: Uint8Array.from([0xf0, 0x0f, 0xaa]) })),
      flat(encodeResponse({ t: 'missing', index: 12 })),
      flat(encodeResponse({ t: 'chunk', index: 300, bytes: bytesOf(300) }))
    ]
    const mutation = fc.record({
      frame: fc.integer({ min: 0, max: frames.length - 1 }),
      edits: fc.array(fc.record({
        kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 })
      }), { minLength: 1, maxLength: 6 })
    })
    fc.assert(fc.property(mutation, ({ frame, edits }) => {
      const bytes = [...(frames[frame] as Uint8Array)]
      for (const { kind, at, value } of edits) {
        const i = bytes.length === 0 ? 0 : at % bytes.length
        if (kind === 'flip') bytes[i] = (bytes[i] ?? 0) ^ (1 << (value & 7))
        else if (kind === 'set') bytes[i] = value
        else if (kind === 'insert') bytes.splice(i, 0, value)
        else if (kind === 'delete') bytes.splice(i, 1)
        else bytes.length = i
      }
      const mutated = Uint8Array.from(bytes)
      for (const decode of [decodeRequest, decodeResponse]) {
        try {
          decode(mutated)
        } catch (err) {
          expect((err as Error).name).toBe('ChunkProtocolError')
        }
      }
    }), { numRuns: 3000 })
  })

  it('turns random bytes into a ChunkProtocolError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      for (const decode of [decodeRequest, decodeResponse]) {
        try {
          decode(bytes)
        } catch (err) {
          expect((err as Error).name).toBe('ChunkProtocolError')
        }
      }
    }), { numRuns: 3000 })
  })
})

describe('bitfields', () => {
  it('uses bit i = byte i >> 3, mask 0x80 >> (i & 7)', () => {
    const bits = createBitfield(20)
    expect(bits.byteLength).toBe(3)
    setBit(bits, 0)
    setBit(bits, 9)
    setBit(bits, 19)
    expect([...bits]).toEqual([0x80, 0x40, 0x10])
    expect(hasBit(bits, 0)).toBe(true)
    expect(hasBit(bits, 1)).toBe(false)
    expect(hasBit(bits, 9)).toBe(true)
    expect(hasBit(bits, 19)).toBe(true)
    expect(countBits(bits)).toBe(3)
  })

  it('reads past the end and below zero as unset, and refuses to set there', () => {
    const bits = createBitfield(8)
    expect(hasBit(bits, 8)).toBe(false)
    expect(hasBit(bits, -1)).toBe(false)
    expect(hasBit(new Uint8Array(0), 0)).toBe(false)
    expect(() => { setBit(bits, 8) }).toThrow(RangeError)
    expect(() => { setBit(bits, -1) }).toThrow(RangeError)
  })

  it('builds a bitfield from a predicate', () => {
    const bits = bitfieldOf(10, (i) => i % 3 === 0)
    expect(bits.byteLength).toBe(bitfieldLength(10))
    expect([0, 3, 6, 9].every((i) => hasBit(bits, i))).toBe(true)
    expect(countBits(bits)).toBe(4)
  })

  it('accepts only empty or exact-length bitfields with clear padding', () => {
    expect(isValidBitfield(new Uint8Array(0), 10)).toBe(true)
    expect(isValidBitfield(Uint8Array.from([0xff, 0xc0]), 10)).toBe(true)
    expect(isValidBitfield(Uint8Array.from([0xff, 0xe0]), 10)).toBe(false)
    expect(isValidBitfield(Uint8Array.from([0xff]), 10)).toBe(false)
    expect(isValidBitfield(Uint8Array.from([0xff, 0x00, 0x00]), 10)).toBe(false)
    expect(isValidBitfield(Uint8Array.from([0xff]), 8)).toBe(true)
  })

  it('agrees with a set of indexes for any set (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }).chain((count) => fc.tuple(fc.constant(count), fc.uniqueArray(fc.integer({ min: 0, max: count - 1 })))), ([count, indexes]) => {
      const bits = createBitfield(count)
      for (const i of indexes) setBit(bits, i)
      const set = new Set(indexes)
      for (let i = 0; i < count; i++) expect(hasBit(bits, i)).toBe(set.has(i))
      expect(countBits(bits)).toBe(set.size)
      expect(isValidBitfield(bits, count)).toBe(true)
    }))
  })
})

describe('chunk CIDs are not roots', () => {
  it('accepts any CIDv1 as a root (unknown roots get empty bits from the server)', () => {
    const other = CID.createV1(raw.code, root.multihash)
    expect(decodeRequest(encodeRequest({ t: 'have', root: other })).root.equals(other)).toBe(true)
  })
})
