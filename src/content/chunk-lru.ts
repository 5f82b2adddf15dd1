/**
 * Verified chunks kept in memory, bounded by their total bytes: the least
 * recently used goes first. Shared by the node's recent-chunk store and the
 * chunk server's cache of what it served.
 */
export class ChunkLru {
  readonly maxBytes: number
  /** Bytes by key (hex digest), least recently used first. */
  readonly #chunks = new Map<string, Uint8Array>()
  #bytes = 0

  constructor (maxBytes: number) {
    this.maxBytes = maxBytes
  }

  /** The chunk under `key`, now the most recently used, or undefined. */
  get (key: string): Uint8Array | undefined {
    const bytes = this.#chunks.get(key)
    if (bytes === undefined) return undefined
    this.#chunks.delete(key)
    this.#chunks.set(key, bytes)
    return bytes
  }

  has (key: string): boolean {
    return this.#chunks.has(key)
  }

  /** Keeps `bytes` under `key` as the most recently used, dropping the oldest past `maxBytes`; a chunk larger than that is not kept. */
  set (key: string, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxBytes) return
    this.delete(key)
    this.#chunks.set(key, bytes)
    this.#bytes += bytes.byteLength
    for (const [oldest, old] of this.#chunks) {
      if (this.#bytes <= this.maxBytes) break
      this.#chunks.delete(oldest)
      this.#bytes -= old.byteLength
    }
  }

  delete (key: string): void {
    const old = this.#chunks.get(key)
    if (old === undefined) return
    this.#chunks.delete(key)
    this.#bytes -= old.byteLength
  }

  clear (): void {
    this.#chunks.clear()
    this.#bytes = 0
  }
}
