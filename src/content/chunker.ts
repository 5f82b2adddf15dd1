/**
 * Fixed-size chunking of a byte stream. Fixed (not content-defined) chunks are
 * enough here: an artifact is published once and fetched whole, so there is
 * no cross-version dedup to win, and fixed sizes let a verifier know every
 * chunk's length from the layout alone.
 */
import { ContentError } from './errors.ts'

/**
 * Cuts `source` into chunks of exactly `chunkSize` bytes, except a shorter
 * last one; never yields an empty chunk (an empty source yields nothing).
 *
 * Bytes are copied only when a chunk spans several input buffers; a run of
 * whole chunks inside one input buffer is yielded as subarrays of it. Every
 * yielded chunk therefore stays valid after the next is produced, provided
 * the source does not reuse its own buffers once it has yielded them (node
 * streams and `packDirectory` do not).
 *
 * `chunkSize` must be a positive integer; the policy range of chunk sizes is
 * enforced by `checkLayout`, not here, so that small sizes stay testable.
 */
export async function * chunkStream (source: AsyncIterable<Uint8Array>, chunkSize: number): AsyncGenerator<Uint8Array> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new ContentError('chunk-size', `chunk size must be a positive integer, got ${String(chunkSize)}`)
  }
  // A chunk being assembled across input buffers, and how much of it is filled.
  let pending: Uint8Array | undefined
  let filled = 0

  for await (const input of source) {
    let offset = 0
    if (pending !== undefined) {
      const take = Math.min(chunkSize - filled, input.byteLength)
      pending.set(input.subarray(0, take), filled)
      filled += take
      offset = take
      if (filled < chunkSize) continue
      yield pending
      pending = undefined
      filled = 0
    }
    while (input.byteLength - offset >= chunkSize) {
      yield input.subarray(offset, offset + chunkSize)
      offset += chunkSize
    }
    if (offset < input.byteLength) {
      // A fresh buffer per chunk: the previous one is now the consumer's.
      pending = uninitialisedBytes(chunkSize)
      pending.set(input.subarray(offset), 0)
      filled = input.byteLength - offset
    }
  }
  // Copy the short tail into an exact-size buffer so no unwritten bytes sit
  // behind it in `.buffer` for a careless consumer to send or store.
  if (pending !== undefined && filled > 0) yield pending.slice(0, filled)
}

/**
 * A plain Uint8Array over fresh, unzeroed memory: every byte is overwritten
 * before it is yielded, so zeroing (a memset per chunk) would be wasted.
 */
function uninitialisedBytes (length: number): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(length)
  return new Uint8Array(buf.buffer, buf.byteOffset, length)
}
