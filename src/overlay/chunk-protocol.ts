/**
 * The chunks protocol (`/mirage/chunks/1.0.0`): how a follower pulls verified
 * chunks of an artifact from peers (DESIGN.md, "Wire and storage").
 *
 * One stream carries many sequential request/response exchanges, each message
 * one length-prefixed frame of canonical DAG-CBOR. A client may pipeline
 * requests; the server answers them in order.
 *
 * - `{ t: 'have', root }` → `{ t: 'have', root, bits }`: a bitfield of the
 *   chunk indexes the server holds verified (bit i is byte `i >> 3`, mask
 *   `0x80 >> (i & 7)`); an unknown root gets empty bits.
 * - `{ t: 'have', root, wait }` (a long poll): the same answer, which the
 *   server may hold until the number of chunks it holds differs from
 *   `wait` (the count the client last saw), for at most HAVE_HOLD_MS. A
 *   downloader keeps one such request open per peer, so it learns of a new
 *   chunk at once and a peer with nothing new costs nothing: asking every
 *   peer a few times a second was most of a swarm's messages (50 machines
 *   in one process made thousands of exchanges a second).
 * - `{ t: 'get', root, index }` → `{ t: 'chunk', index, bytes }` or
 *   `{ t: 'missing', index }`.
 *
 * Every frame is size-limited before parsing and validated after: a request
 * frame is at most MAX_REQUEST_FRAME_BYTES, a response at most
 * MAX_RESPONSE_FRAME_BYTES. Anything else is a ChunkProtocolError, and the
 * peer that sent it has its stream aborted.
 *
 * A chunk response is the hot path (DESIGN.md measured the JS stack, not the
 * wire, as the limit): it is encoded as parts around the chunk bytes and
 * decoded by a strict hand parser of its one canonical layout, so the chunk
 * is never copied by the codec. Measured on our machines: dag-cbor encode
 * ≈ 0.45 ms/MiB, decode ≈ 0.22 ms/MiB, re-encoding for a canonical check
 * another 0.45 ms/MiB, next to ≈ 4 ms/MiB for the transfer itself.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { MAX_ARTIFACT_CHUNKS, MAX_CHUNK_SIZE_BYTES } from '../content/index.ts'
import { CHUNKS_PROTOCOL } from './constants.ts'

export { CHUNKS_PROTOCOL }

/**
 * Largest request frame. A request is a tag, a root CID (≈ 40 bytes) and an
 * index: ≈ 60 bytes, so 1 KiB leaves room for longer CIDs and nothing else.
 */
export const MAX_REQUEST_FRAME_BYTES = 1024

/** Framing overhead allowed on top of a chunk in a response (tag, keys, index). */
export const RESPONSE_OVERHEAD_BYTES = 1024

/** Largest response frame: the largest chunk the content area allows plus overhead. */
export const MAX_RESPONSE_FRAME_BYTES = MAX_CHUNK_SIZE_BYTES + RESPONSE_OVERHEAD_BYTES

/** Longest bitfield: one bit per chunk of the largest artifact (2 KiB). */
export const MAX_BITFIELD_BYTES = Math.ceil(MAX_ARTIFACT_CHUNKS / 8)

/**
 * Largest frame that is not a chunk response (`have` with a full bitfield,
 * `missing`): a non-chunk frame past this is refused before parsing, so only
 * the hand parser ever looks at large frames.
 */
export const MAX_SMALL_RESPONSE_FRAME_BYTES = MAX_BITFIELD_BYTES + RESPONSE_OVERHEAD_BYTES

/** Which rule a frame broke. */
export type ChunkProtocolErrorReason =
  /** Larger than the limit for its kind; refused before parsing. */
  | 'oversized'
  /** Not CBOR, truncated, or trailing bytes. */
  | 'malformed'
  /** CBOR, but not the one canonical DAG-CBOR encoding of its value. */
  | 'non-canonical'
  /** Canonical CBOR that is not a message of this protocol (`field` says where). */
  | 'invalid'

/** A frame of the chunks protocol that must not be acted on. */
export class ChunkProtocolError extends Error {
  readonly reason: ChunkProtocolErrorReason
  /** The offending field for `invalid` (`''` when it is the message itself). */
  readonly field: string

  constructor (reason: ChunkProtocolErrorReason, message: string, field = '', options?: ErrorOptions) {
    super(message, options)
    this.name = 'ChunkProtocolError'
    this.reason = reason
    this.field = field
  }
}

/**
 * Longest a server holds a `have` request that carries `wait` before it
 * answers anyway (with an unchanged bitfield). Well inside the server's
 * idle timeout and a client's request timeout, and long enough that a
 * quiet peer costs one exchange per few seconds.
 */
export const HAVE_HOLD_MS = 5_000

/**
 * Which chunks of `root` the server holds. With `wait` (how many chunks the
 * client last saw it hold), the server may hold the answer until its count
 * differs, up to HAVE_HOLD_MS.
 */
export interface HaveRequest { t: 'have', root: CID, wait?: number }
/** One chunk of `root`, by its position in the layout. */
export interface GetRequest { t: 'get', root: CID, index: number }
export type ChunkRequest = HaveRequest | GetRequest

/** Bitfield of the chunks of `root` the server holds verified; empty if it does not know `root`. */
export interface HaveResponse { t: 'have', root: CID, bits: Uint8Array }
/** The chunk's bytes; the client verifies them against the manifest before use. */
export interface ChunkDataResponse { t: 'chunk', index: number, bytes: Uint8Array }
/** The server does not hold (or will not serve) that chunk. */
export interface MissingResponse { t: 'missing', index: number }
export type ChunkResponse = HaveResponse | ChunkDataResponse | MissingResponse

type Frame = Uint8Array | Uint8ArrayList

// ---------------------------------------------------------------------------
// Requests

/** Canonical frame of a request (validated first, so we never send what a peer would refuse). */
export function encodeRequest (request: ChunkRequest): Uint8Array {
  const checked = checkRequest(request)
  const bytes = checked.t === 'get'
    ? dagCbor.encode({ t: 'get', root: checked.root, index: checked.index })
    : dagCbor.encode(checked.wait === undefined ? { t: 'have', root: checked.root } : { t: 'have', root: checked.root, wait: checked.wait })
  if (bytes.byteLength > MAX_REQUEST_FRAME_BYTES) {
    throw new ChunkProtocolError('oversized', `request is ${bytes.byteLength} bytes, more than the limit of ${MAX_REQUEST_FRAME_BYTES}`)
  }
  return bytes
}

/** Parses and validates a request frame; ChunkProtocolError on anything else. */
export function decodeRequest (frame: Frame): ChunkRequest {
  if (frame.byteLength > MAX_REQUEST_FRAME_BYTES) {
    throw new ChunkProtocolError('oversized', `request frame is ${frame.byteLength} bytes, more than the limit of ${MAX_REQUEST_FRAME_BYTES}`)
  }
  return checkRequest(decodeCanonicalFrame(contiguous(frame), 'request'))
}

function checkRequest (value: unknown): ChunkRequest {
  const message = checkMessage(value, 'request')
  if (message.t === 'have') {
    // `wait: undefined` (only ever from our own code, CBOR has no undefined) is no `wait`.
    if (message.wait === undefined) {
      checkKeys(message, 'wait' in message ? ['t', 'root', 'wait'] : ['t', 'root'], 'have request')
      return { t: 'have', root: checkRoot(message.root) }
    }
    checkKeys(message, ['t', 'root', 'wait'], 'have request')
    return { t: 'have', root: checkRoot(message.root), wait: checkCount(message.wait) }
  }
  if (message.t === 'get') {
    checkKeys(message, ['t', 'root', 'index'], 'get request')
    return { t: 'get', root: checkRoot(message.root), index: checkIndex(message.index) }
  }
  throw new ChunkProtocolError('invalid', `unknown request type ${describe(message.t)}`, 't')
}

// ---------------------------------------------------------------------------
// Responses

/**
 * Canonical frame of a response, as a list of parts: a chunk's bytes are
 * referenced, not copied, between a small header and trailer. The parts
 * concatenated equal `dagCbor.encode(response)` (tested).
 */
export function encodeResponse (response: ChunkResponse): Uint8ArrayList {
  const checked = checkResponse(response)
  if (checked.t === 'chunk') return encodeChunkParts(checked.index, checked.bytes)
  const bytes = checked.t === 'have'
    ? dagCbor.encode({ t: 'have', root: checked.root, bits: plain(checked.bits) })
    : dagCbor.encode({ t: 'missing', index: checked.index })
  return new Uint8ArrayList(bytes)
}

/**
 * Parses and validates a response frame; ChunkProtocolError on anything
 * else. `maxBytes` lets a client hold a peer to the chunk size it expects
 * (never above MAX_RESPONSE_FRAME_BYTES). A chunk's bytes are a view into
 * `frame` when it is one contiguous array.
 */
export function decodeResponse (frame: Frame, maxBytes = MAX_RESPONSE_FRAME_BYTES): ChunkResponse {
  const limit = Math.min(maxBytes, MAX_RESPONSE_FRAME_BYTES)
  if (frame.byteLength > limit) {
    throw new ChunkProtocolError('oversized', `response frame is ${frame.byteLength} bytes, more than the limit of ${limit}`)
  }
  if (startsWith(frame, CHUNK_PREFIX)) return decodeChunkFrame(frame)
  if (frame.byteLength > MAX_SMALL_RESPONSE_FRAME_BYTES) {
    throw new ChunkProtocolError('oversized', `non-chunk response frame is ${frame.byteLength} bytes, more than the limit of ${MAX_SMALL_RESPONSE_FRAME_BYTES}`)
  }
  return checkResponse(decodeCanonicalFrame(contiguous(frame), 'response'))
}

function checkResponse (value: unknown): ChunkResponse {
  const message = checkMessage(value, 'response')
  switch (message.t) {
    case 'have': {
      checkKeys(message, ['t', 'root', 'bits'], 'have response')
      const bits = message.bits
      if (!(bits instanceof Uint8Array)) throw new ChunkProtocolError('invalid', 'bits is not a byte string', 'bits')
      if (bits.byteLength > MAX_BITFIELD_BYTES) {
        throw new ChunkProtocolError('invalid', `bits is ${bits.byteLength} bytes, more than the limit of ${MAX_BITFIELD_BYTES}`, 'bits')
      }
      return { t: 'have', root: checkRoot(message.root), bits }
    }
    case 'chunk': {
      checkKeys(message, ['t', 'index', 'bytes'], 'chunk response')
      const bytes = message.bytes
      if (!(bytes instanceof Uint8Array)) throw new ChunkProtocolError('invalid', 'bytes is not a byte string', 'bytes')
      checkChunkLength(bytes.byteLength)
      return { t: 'chunk', index: checkIndex(message.index), bytes }
    }
    case 'missing':
      checkKeys(message, ['t', 'index'], 'missing response')
      return { t: 'missing', index: checkIndex(message.index) }
    default:
      throw new ChunkProtocolError('invalid', `unknown response type ${describe(message.t)}`, 't')
  }
}

// The canonical DAG-CBOR of `{ t: 'chunk', index, bytes }`: map(3), then the
// keys sorted length-first ("t", "bytes", "index"), so the bytes sit between
// a fixed prefix and a short trailer.
const ASCII = new TextEncoder()
/** `a3 61 't' 65 'chunk' 65 'bytes'` — what every chunk frame starts with. */
const CHUNK_PREFIX = Uint8Array.from([0xa3, 0x61, ...ASCII.encode('t'), 0x65, ...ASCII.encode('chunk'), 0x65, ...ASCII.encode('bytes')])
/** `65 'index'` — the key after the bytes. */
const INDEX_KEY = Uint8Array.from([0x65, ...ASCII.encode('index')])
const MAJOR_UINT = 0x00
const MAJOR_BYTES = 0x40

function encodeChunkParts (index: number, bytes: Uint8Array): Uint8ArrayList {
  const head = new Uint8Array(CHUNK_PREFIX.byteLength + 9)
  head.set(CHUNK_PREFIX)
  const headLength = CHUNK_PREFIX.byteLength + writeHead(head, CHUNK_PREFIX.byteLength, MAJOR_BYTES, bytes.byteLength)
  const tail = new Uint8Array(INDEX_KEY.byteLength + 9)
  tail.set(INDEX_KEY)
  const tailLength = INDEX_KEY.byteLength + writeHead(tail, INDEX_KEY.byteLength, MAJOR_UINT, index)
  return new Uint8ArrayList(head.subarray(0, headLength), plain(bytes), tail.subarray(0, tailLength))
}

/** Writes a CBOR head (major type + minimal-length argument) at `offset`; returns its length. */
function writeHead (into: Uint8Array, offset: number, major: number, value: number): number {
  if (value < 24) {
    into[offset] = major | value
    return 1
  }
  if (value < 0x100) {
    into[offset] = major | 24
    into[offset + 1] = value
    return 2
  }
  if (value < 0x10000) {
    into[offset] = major | 25
    into[offset + 1] = value >>> 8
    into[offset + 2] = value & 0xff
    return 3
  }
  // Chunks and indexes are far below 2^32 (MAX_CHUNK_SIZE_BYTES, MAX_ARTIFACT_CHUNKS).
  into[offset] = major | 26
  new DataView(into.buffer, into.byteOffset).setUint32(offset + 1, value)
  return 5
}

/**
 * Strict parser of the one canonical chunk frame: prefix, minimal byte-string
 * head, bytes, `index` key, minimal unsigned index, end of frame.
 */
function decodeChunkFrame (frame: Frame): ChunkDataResponse {
  let offset = CHUNK_PREFIX.byteLength
  const length = readHead(frame, offset, MAJOR_BYTES, 'bytes')
  offset += length.size
  checkChunkLength(length.value)
  const bytesStart = offset
  offset += length.value
  if (offset + INDEX_KEY.byteLength > frame.byteLength) {
    throw new ChunkProtocolError('malformed', `chunk frame is truncated: ${frame.byteLength} bytes, the chunk alone needs ${offset}`)
  }
  for (let i = 0; i < INDEX_KEY.byteLength; i++) {
    if (frame instanceof Uint8Array ? frame[offset + i] !== INDEX_KEY[i] : frame.get(offset + i) !== INDEX_KEY[i]) {
      throw new ChunkProtocolError('non-canonical', 'chunk frame does not continue with the "index" key after the bytes', 'index')
    }
  }
  offset += INDEX_KEY.byteLength
  const index = readHead(frame, offset, MAJOR_UINT, 'index')
  offset += index.size
  if (offset !== frame.byteLength) {
    throw new ChunkProtocolError('malformed', `chunk frame has ${frame.byteLength - offset} trailing bytes`)
  }
  const bytes = frame.subarray(bytesStart, bytesStart + length.value)
  return { t: 'chunk', index: checkIndex(index.value), bytes }
}

/** Reads a canonical CBOR head of the given major type at `offset`. */
function readHead (frame: Frame, offset: number, major: number, field: string): { value: number, size: number } {
  const at = (i: number): number => {
    if (i >= frame.byteLength) throw new ChunkProtocolError('malformed', `chunk frame is truncated in the ${field} field`, field)
    return (frame instanceof Uint8Array ? frame[i] : frame.get(i)) ?? 0
  }
  const initial = at(offset)
  if ((initial & 0xe0) !== major) {
    throw new ChunkProtocolError('invalid', `${field} has CBOR major type ${initial >> 5}, expected ${major >> 5}`, field)
  }
  const info = initial & 0x1f
  let value: number
  let size: number
  let min: number
  if (info < 24) {
    return { value: info, size: 1 }
  } else if (info === 24) {
    value = at(offset + 1); size = 2; min = 24
  } else if (info === 25) {
    value = at(offset + 1) * 0x100 + at(offset + 2); size = 3; min = 0x100
  } else if (info === 26) {
    value = ((at(offset + 1) * 0x100 + at(offset + 2)) * 0x100 + at(offset + 3)) * 0x100 + at(offset + 4); size = 5; min = 0x10000
  } else {
    // 8-byte lengths and indefinite lengths are never needed here (and never canonical for our values).
    throw new ChunkProtocolError('invalid', `${field} uses an unsupported CBOR length encoding (${info})`, field)
  }
  if (value < min) throw new ChunkProtocolError('non-canonical', `${field} is not minimally encoded`, field)
  return { value, size }
}

// ---------------------------------------------------------------------------
// Shared validation

function decodeCanonicalFrame (bytes: Uint8Array, what: string): unknown {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new ChunkProtocolError('malformed', `${what} is not valid DAG-CBOR: ${(err as Error)?.message ?? String(err)}`, '', { cause: err })
  }
  let again: Uint8Array
  try {
    again = dagCbor.encode(value)
  } catch (err) {
    throw new ChunkProtocolError('non-canonical', `${what} decodes to a value with no canonical encoding`, '', { cause: err })
  }
  if (!Buffer.from(again.buffer, again.byteOffset, again.byteLength).equals(bytes)) {
    throw new ChunkProtocolError('non-canonical', `${what} is not in canonical DAG-CBOR form`)
  }
  return value
}

function checkMessage (value: unknown, what: string): Record<string, unknown> & { t: unknown } {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array || CID.asCID(value) !== null) {
    throw new ChunkProtocolError('invalid', `${what} is not a map`)
  }
  return value as Record<string, unknown> & { t: unknown }
}

function checkKeys (message: Record<string, unknown>, keys: string[], what: string): void {
  const present = Object.keys(message)
  for (const key of present) {
    if (!keys.includes(key)) throw new ChunkProtocolError('invalid', `${what} has an unexpected field ${JSON.stringify(key.slice(0, 40))}`, key)
  }
  for (const key of keys) {
    if (!(key in message)) throw new ChunkProtocolError('invalid', `${what} lacks the field ${JSON.stringify(key)}`, key)
  }
}

function checkRoot (value: unknown): CID {
  const cid = CID.asCID(value)
  if (cid === null || cid.version !== 1) throw new ChunkProtocolError('invalid', 'root is not a CIDv1', 'root')
  return cid
}

function checkIndex (value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= MAX_ARTIFACT_CHUNKS) {
    throw new ChunkProtocolError('invalid', `index ${describe(value)} is not an integer in [0, ${MAX_ARTIFACT_CHUNKS})`, 'index')
  }
  return value
}

/** A count of chunks: 0 … MAX_ARTIFACT_CHUNKS (every chunk of the largest artifact). */
function checkCount (value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_ARTIFACT_CHUNKS) {
    throw new ChunkProtocolError('invalid', `wait ${describe(value)} is not an integer in [0, ${MAX_ARTIFACT_CHUNKS}]`, 'wait')
  }
  return value
}

function checkChunkLength (length: number): void {
  if (length < 1 || length > MAX_CHUNK_SIZE_BYTES) {
    throw new ChunkProtocolError('invalid', `chunk of ${length} bytes is outside [1, ${MAX_CHUNK_SIZE_BYTES}]`, 'bytes')
  }
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40))
  if (typeof value === 'number') return String(value)
  return typeof value
}

function startsWith (frame: Frame, prefix: Uint8Array): boolean {
  if (frame.byteLength < prefix.byteLength) return false
  for (let i = 0; i < prefix.byteLength; i++) {
    if ((frame instanceof Uint8Array ? frame[i] : frame.get(i)) !== prefix[i]) return false
  }
  return true
}

function contiguous (frame: Frame): Uint8Array {
  return frame instanceof Uint8Array ? frame : frame.subarray()
}

/** dag-cbor refuses Buffer subclasses' extra shape in deep equality; view them as plain arrays. */
function plain (bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

// ---------------------------------------------------------------------------
// Bitfields

/** Bytes needed for one bit per chunk. */
export function bitfieldLength (chunkCount: number): number {
  return Math.ceil(chunkCount / 8)
}

/** An all-clear bitfield for `chunkCount` chunks. */
export function createBitfield (chunkCount: number): Uint8Array {
  return new Uint8Array(bitfieldLength(chunkCount))
}

/** Sets bit `index` (byte `index >> 3`, mask `0x80 >> (index & 7)`). */
export function setBit (bits: Uint8Array, index: number): void {
  const byte = index >> 3
  if (index < 0 || byte >= bits.byteLength) throw new RangeError(`bit ${index} is outside a ${bits.byteLength}-byte bitfield`)
  bits[byte] = (bits[byte] ?? 0) | (0x80 >> (index & 7))
}

/** Whether bit `index` is set; false for any index past the end (so empty bits hold nothing). */
export function hasBit (bits: Uint8Array, index: number): boolean {
  if (index < 0) return false
  return (((bits[index >> 3] ?? 0) << (index & 7)) & 0x80) !== 0
}

/** How many bits are set. */
export function countBits (bits: Uint8Array): number {
  let count = 0
  for (let byte of bits) {
    while (byte !== 0) {
      byte &= byte - 1
      count++
    }
  }
  return count
}

/** The bitfield of the indexes in [0, chunkCount) for which `holds` answers true. */
export function bitfieldOf (chunkCount: number, holds: (index: number) => boolean): Uint8Array {
  const bits = createBitfield(chunkCount)
  for (let i = 0; i < chunkCount; i++) if (holds(i)) setBit(bits, i)
  return bits
}

/**
 * Whether `bits` is a well-formed answer about an artifact of `chunkCount`
 * chunks: empty (the peer does not know the artifact), or exactly one bit
 * per chunk with the padding bits of the last byte clear.
 */
export function isValidBitfield (bits: Uint8Array, chunkCount: number): boolean {
  if (bits.byteLength === 0) return true
  if (bits.byteLength !== bitfieldLength(chunkCount)) return false
  const used = chunkCount & 7
  if (used === 0) return true
  const padding = 0xff >> used
  return ((bits[bits.byteLength - 1] ?? 0) & padding) === 0
}
