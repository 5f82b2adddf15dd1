import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'

/**
 * Everything a test prints, seen through a fixed window: every byte is
 * counted and hashed (the signed outcome carries the digest, so a report
 * can be matched to it), but only the last `capacity` bytes are kept, in a
 * ring buffer, so a test that prints gigabytes costs no more memory than one
 * that prints a line.
 */
export class OutputLog {
  readonly #ring: Buffer
  readonly #hash: Hash = createHash('sha256')
  /** Where the next byte goes in the ring. */
  #end = 0
  #bytes = 0

  constructor (capacity: number) {
    this.#ring = Buffer.alloc(capacity)
  }

  /** Total bytes added. */
  get bytes (): number {
    return this.#bytes
  }

  add (chunk: Uint8Array): void {
    this.#hash.update(chunk)
    this.#bytes += chunk.byteLength
    const capacity = this.#ring.byteLength
    if (capacity === 0 || chunk.byteLength === 0) return
    // Only the last `capacity` bytes of a large chunk can survive anyway.
    const kept = chunk.byteLength > capacity ? chunk.subarray(chunk.byteLength - capacity) : chunk
    const first = Math.min(kept.byteLength, capacity - this.#end)
    this.#ring.set(kept.subarray(0, first), this.#end)
    this.#ring.set(kept.subarray(first), 0)
    this.#end = (this.#end + kept.byteLength) % capacity
  }

  /** Hex SHA-256 of every byte added, in order. Call once, at the end. */
  digest (): string {
    return this.#hash.digest('hex')
  }

  /** The kept tail, oldest byte first. */
  tail (): Buffer {
    const capacity = this.#ring.byteLength
    if (this.#bytes <= capacity) return this.#ring.subarray(0, this.#bytes)
    return Buffer.concat([this.#ring.subarray(this.#end), this.#ring.subarray(0, this.#end)])
  }

  /**
   * The tail as text. When the window cut into a multi-byte UTF-8
   * character, its stray continuation bytes are dropped rather than shown
   * as a replacement character; anything else invalid is replaced.
   */
  tailText (): string {
    let tail = this.tail()
    if (this.#bytes > tail.byteLength) {
      let skip = 0
      while (skip < 3 && skip < tail.byteLength && ((tail[skip] as number) & 0xc0) === 0x80) skip++
      tail = tail.subarray(skip)
    }
    return tail.toString('utf8')
  }
}
