import type { CID } from 'multiformats/cid'
import type { ArtifactLayout, ChunkStore } from '../content/index.ts'
import type { ChunkSource } from '../overlay/index.ts'

const hex = (digest: Uint8Array): string => Buffer.from(digest).toString('hex')

/**
 * What this node can serve: every artifact it knows the layout of, and, in
 * memory, which of their chunks it holds verified (the chunk server asks on
 * every request, so the answer must not touch the disk). Partial downloads
 * serve what they already have: that is what lets followers feed each other.
 */
export class HeldChunks implements ChunkSource {
  readonly #store: ChunkStore
  readonly #layouts = new Map<string, ArtifactLayout>()
  readonly #held = new Set<string>()

  constructor (store: ChunkStore) {
    this.#store = store
  }

  /** Registers an artifact and learns which of its chunks are already on disk. */
  async add (root: CID, layout: ArtifactLayout): Promise<number> {
    this.#layouts.set(root.toString(), layout)
    let count = 0
    for (const digest of layout.chunks) {
      if (this.#held.has(hex(digest)) || await this.#store.has(digest)) {
        this.#held.add(hex(digest))
        count++
      }
    }
    return count
  }

  /** A chunk was verified and stored. */
  stored (digest: Uint8Array): void {
    this.#held.add(hex(digest))
  }

  layout = (root: CID): ArtifactLayout | undefined => this.#layouts.get(root.toString())

  store = (root: CID): ChunkStore | undefined => this.#layouts.has(root.toString()) ? this.#store : undefined

  holds = (root: CID, index: number): boolean => {
    const digest = this.#layouts.get(root.toString())?.chunks[index]
    return digest !== undefined && this.#held.has(hex(digest))
  }
}
