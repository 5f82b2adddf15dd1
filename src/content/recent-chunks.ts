/**
 * A chunk store that remembers the chunks it stored last. A follower is asked
 * for a chunk soon after it got it: peers learn of it from the next bitfield
 * and fetch rarest first, so the newest chunks are the most requested. Kept
 * in memory, they are served without a disk read and a second SHA-256 (they
 * were verified on the way in), which `get` on the disk store repeats for
 * every request.
 */
import { ChunkLru } from './chunk-lru.ts'
import { digestToHex } from './content-id.ts'
import type { ChunkPutOptions, ChunkStore } from './chunk-store.ts'

/**
 * Chunk bytes remembered per store: the last four default-size (1 MiB)
 * chunks, a few seconds of downloading at the rates bench/overlay.bench.ts
 * sees, by which time peers have learned of them (a held `have` answers
 * within HAVE_SPREAD_MS). Every node pays it once it has downloaded that
 * much, so it stays small: 50 in-process machines hold 200 MiB of it.
 */
export const DEFAULT_RECENT_CHUNK_BYTES = 4 * 1024 * 1024

/** Wraps `store`; `get` answers the chunks stored through it last, up to `maxBytes`, from memory. */
export function withRecentChunks (store: ChunkStore, maxBytes = DEFAULT_RECENT_CHUNK_BYTES): ChunkStore {
  return new RecentChunks(store, maxBytes)
}

class RecentChunks implements ChunkStore {
  readonly #store: ChunkStore
  /** Verified bytes by hex digest. */
  readonly #recent: ChunkLru

  constructor (store: ChunkStore, maxBytes: number) {
    this.#store = store
    this.#recent = new ChunkLru(maxBytes)
  }

  get dir (): string {
    return this.#store.dir
  }

  async put (digest: Uint8Array, bytes: Uint8Array, options?: ChunkPutOptions): Promise<void> {
    // Remembered only once stored, so nothing is served that put refused.
    await this.#store.put(digest, bytes, options)
    this.#recent.set(digestToHex(digest), bytes)
  }

  async add (bytes: Uint8Array): Promise<Uint8Array> {
    const digest = await this.#store.add(bytes)
    this.#recent.set(digestToHex(digest), bytes)
    return digest
  }

  async get (digest: Uint8Array): Promise<Uint8Array> {
    return this.#recent.get(digestToHex(digest)) ?? await this.#store.get(digest)
  }

  async has (digest: Uint8Array): Promise<boolean> {
    return this.#recent.has(digestToHex(digest)) || await this.#store.has(digest)
  }

  path (digest: Uint8Array): string {
    return this.#store.path(digest)
  }

  async delete (digest: Uint8Array): Promise<void> {
    this.#recent.delete(digestToHex(digest))
    await this.#store.delete(digest)
  }
}
