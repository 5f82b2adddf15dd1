import type { CID } from 'multiformats/cid'
import type { ArtifactLayout, ChunkStore } from '../content/index.ts'
import type { ChunkSource } from '../overlay/index.ts'

const hex = (digest: Uint8Array): string => Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex')

interface Artifact {
  layout: ArtifactLayout
  /** 1 where the chunk at that index is verified and stored. */
  held: Uint8Array
  /** How many entries of `held` are 1. */
  count: number
  /** Held `have` requests waiting for the count to change (see `changed`). */
  readonly waiters: Set<() => void>
}

/**
 * What this node can serve: every artifact it knows the layout of, and, in
 * memory, which of their chunks it holds verified (the chunk server asks on
 * every request, so the answer must not touch the disk). Partial downloads
 * serve what they already have: that is what lets followers feed each other.
 *
 * Answers are by index, from a per-artifact array: a `have` answer asks
 * about every chunk of an artifact, several times a second per downloading
 * peer, so no digest is turned into a string on that path.
 */
export class HeldChunks implements ChunkSource {
  readonly #store: ChunkStore
  readonly #artifacts = new Map<string, Artifact>()
  /** Where each digest sits in the known artifacts (a chunk may repeat, or be shared between releases). */
  readonly #places = new Map<string, Array<{ artifact: Artifact, index: number }>>()

  constructor (store: ChunkStore) {
    this.#store = store
  }

  /** Registers an artifact and learns which of its chunks are already on disk; resolves to how many it holds. */
  async add (root: CID, layout: ArtifactLayout): Promise<number> {
    const key = root.toString()
    let artifact = this.#artifacts.get(key)
    if (artifact === undefined) {
      artifact = { layout, held: new Uint8Array(layout.chunks.length), count: 0, waiters: new Set() }
      this.#artifacts.set(key, artifact)
      for (const [index, digest] of layout.chunks.entries()) {
        const digestKey = hex(digest)
        const places = this.#places.get(digestKey) ?? []
        // Held under another artifact already: held here too.
        if (places.some(place => place.artifact.held[place.index] === 1)) mark(artifact, index)
        places.push({ artifact, index })
        this.#places.set(digestKey, places)
      }
    }
    let count = 0
    for (const [index, digest] of layout.chunks.entries()) {
      if (artifact.held[index] !== 1 && await this.#store.has(digest)) this.stored(digest)
      count += artifact.held[index] ?? 0
    }
    return count
  }

  /** A chunk was verified and stored. */
  stored (digest: Uint8Array): void {
    for (const place of this.#places.get(hex(digest)) ?? []) mark(place.artifact, place.index)
  }

  layout = (root: CID): ArtifactLayout | undefined => this.#artifacts.get(root.toString())?.layout

  store = (root: CID): ChunkStore | undefined => this.#artifacts.has(root.toString()) ? this.#store : undefined

  holds = (root: CID, index: number): boolean => this.#artifacts.get(root.toString())?.held[index] === 1

  changed = async (root: CID, count: number, signal: AbortSignal): Promise<void> => {
    const artifact = this.#artifacts.get(root.toString())
    if (artifact === undefined || artifact.count !== count || signal.aborted) return
    const { promise, resolve } = Promise.withResolvers<void>()
    const done = (): void => {
      artifact.waiters.delete(done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    artifact.waiters.add(done)
    signal.addEventListener('abort', done, { once: true })
    return promise
  }
}

/** Marks a chunk held and wakes the `have` requests held on that artifact. */
function mark (artifact: Artifact, index: number): void {
  if (artifact.held[index] === 1) return
  artifact.held[index] = 1
  artifact.count++
  for (const wake of [...artifact.waiters]) wake()
}
