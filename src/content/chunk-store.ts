/**
 * The on-disk chunk store: a content-addressed folder where each chunk lives
 * in `<dir>/<first 2 hex>/<64 hex of its SHA-256>`. Sharding by the first
 * byte keeps directories small (256 shards) for stores of many chunks.
 *
 * Bytes are checked on the way in (a chunk is stored only under its own
 * hash) and on the way out (a chunk corrupted on disk is never served), as
 * DESIGN.md requires of every chunk a node stores or serves.
 */
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { checkLayout, digestToHex, expectedChunkLength, sha256 } from './content-id.ts'
import type { ArtifactLayout } from './content-id.ts'
import { ATOMIC_TEMP_MARKER, writeFileAtomically } from './atomic-file.ts'
import { DIGEST_LENGTH_BYTES } from './constants.ts'
import { ChunkCorruptError, ChunkMismatchError, ChunkMissingError, ContentError } from './errors.ts'

const log = logger('mirage:content:chunk-store')

/**
 * Temp files of interrupted writes (`<hex><TEMP_MARKER><random>`) can never be
 * mistaken for a chunk: chunk names are exactly 64 hex characters.
 */
const TEMP_MARKER = ATOMIC_TEMP_MARKER

/** A content-addressed folder of chunks. */
export interface ChunkStore {
  /** The folder holding the shards. */
  readonly dir: string
  /**
   * Stores `bytes` under `digest` after checking that they hash to it
   * (ChunkMismatchError otherwise, nothing written). Atomic: temp file in the
   * shard dir, write, fsync, rename, fsync the shard dir. A chunk already
   * present (with the right length) is left alone. `durable: false` skips
   * the fsyncs (see ChunkPutOptions).
   */
  put: (digest: Uint8Array, bytes: Uint8Array, options?: ChunkPutOptions) => Promise<void>
  /**
   * Stores `bytes` under their own SHA-256 and returns it. Same guarantees as
   * `put`, hashing once: what a publisher chunking its own artifact wants.
   */
  add: (bytes: Uint8Array) => Promise<Uint8Array>
  /**
   * The chunk's bytes, hashed again after reading: ChunkMissingError if
   * absent, ChunkCorruptError if the disk no longer holds what was stored.
   */
  get: (digest: Uint8Array) => Promise<Uint8Array>
  /** Whether a chunk file exists (not verified: use `get` for that). */
  has: (digest: Uint8Array) => Promise<boolean>
  /** Where the chunk lives, whether or not it is there. */
  path: (digest: Uint8Array) => string
  /** Removes the chunk; removing an absent chunk is not an error. */
  delete: (digest: Uint8Array) => Promise<void>
}

export interface ChunkPutOptions {
  /**
   * Wait for the disk before resolving (default true). A chunk fetched from
   * peers may skip it: every reader of the store (`get`, `readArtifact`, a
   * resumed download) checks a chunk against its name, so one a machine
   * crash tore is found and fetched again, never served or installed, and
   * a download stores its artifact twice over in fsyncs otherwise (the
   * file and its shard folder, for every chunk).
   */
  durable?: boolean
}

/** What is wrong with one chunk of an artifact, as found by `verifyArtifactChunks`. */
export interface ChunkProblem {
  /** Position of the chunk in the layout. */
  index: number
  /** Lowercase hex digest the layout names for it. */
  digest: string
  /**
   * `missing`: not in the store; `corrupt`: the file does not hash to its
   * name; `wrong-length`: the bytes are intact but not the length the layout
   * needs at this position (the layout itself is inconsistent).
   */
  problem: 'missing' | 'corrupt' | 'wrong-length'
}

/**
 * Opens (creating it if needed) the chunk store in `dir`, removing temp files
 * a crash left behind in the shards.
 */
export async function openChunkStore (dir: string): Promise<ChunkStore> {
  const root = path.resolve(dir)
  await mkdir(root, { recursive: true })
  const shards = new Set<string>()
  let removed = 0
  for (const shard of await readdir(root, { withFileTypes: true })) {
    if (!shard.isDirectory() || !/^[0-9a-f]{2}$/.test(shard.name)) continue
    const shardDir = path.join(root, shard.name)
    shards.add(shardDir)
    for (const name of await readdir(shardDir)) {
      if (!name.includes(TEMP_MARKER)) continue
      await rm(path.join(shardDir, name), { force: true })
      removed++
    }
  }
  if (removed > 0) log('removed %d leftover temp files from %s', removed, root)
  return new DiskChunkStore(root, shards)
}

class DiskChunkStore implements ChunkStore {
  readonly dir: string
  /** Shard dirs known to exist, to skip a mkdir per put. */
  readonly #shards: Set<string>

  constructor (dir: string, shards: Set<string>) {
    this.dir = dir
    this.#shards = shards
  }

  path (digest: Uint8Array): string {
    return this.#pathOfHex(hexOf(digest))
  }

  async put (digest: Uint8Array, bytes: Uint8Array, options: ChunkPutOptions = {}): Promise<void> {
    const expected = hexOf(digest)
    const actual = digestToHex(sha256(bytes))
    if (actual !== expected) throw new ChunkMismatchError(expected, actual)
    await this.#write(expected, bytes, options.durable ?? true)
  }

  async add (bytes: Uint8Array): Promise<Uint8Array> {
    const digest = sha256(bytes)
    await this.#write(digestToHex(digest), bytes, true)
    return digest
  }

  async get (digest: Uint8Array): Promise<Uint8Array> {
    const expected = hexOf(digest)
    const file = this.#pathOfHex(expected)
    let bytes: Buffer
    try {
      bytes = await readFile(file)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new ChunkMissingError(expected, { cause: err })
      throw err
    }
    const actual = digestToHex(sha256(bytes))
    if (actual !== expected) throw new ChunkCorruptError(expected, actual, file)
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  async has (digest: Uint8Array): Promise<boolean> {
    try {
      return (await stat(this.path(digest))).isFile()
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false
      throw err
    }
  }

  async delete (digest: Uint8Array): Promise<void> {
    await rm(this.path(digest), { force: true })
  }

  #pathOfHex (hex: string): string {
    return path.join(this.dir, hex.slice(0, 2), hex)
  }

  async #write (hex: string, bytes: Uint8Array, durable: boolean): Promise<void> {
    const file = this.#pathOfHex(hex)
    // Content-addressed: an existing file of the right length already holds
    // these bytes unless the disk corrupted it, which `get` detects; a wrong
    // length (say, a torn write from a filesystem without atomic rename) is
    // replaced.
    try {
      const existing = await stat(file)
      if (existing.isFile() && existing.size === bytes.byteLength) return
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err
    }

    const shardDir = path.dirname(file)
    if (!this.#shards.has(shardDir)) {
      await mkdir(shardDir, { recursive: true })
      this.#shards.add(shardDir)
    }
    await writeFileAtomically(file, bytes, { durable })
  }
}

/**
 * Checks every chunk of `layout` in the store and reports all problems (not
 * just the first), in index order; an empty list means the artifact is whole.
 * The layout itself is checked first (ContentError if inconsistent).
 */
export async function verifyArtifactChunks (store: ChunkStore, layout: ArtifactLayout): Promise<ChunkProblem[]> {
  checkLayout(layout)
  const problems: ChunkProblem[] = []
  for (const [index, digest] of layout.chunks.entries()) {
    const hex = digestToHex(digest)
    try {
      const bytes = await store.get(digest)
      if (bytes.byteLength !== expectedChunkLength(layout, index)) problems.push({ index, digest: hex, problem: 'wrong-length' })
    } catch (err) {
      if (hasName(err, 'ChunkMissingError')) problems.push({ index, digest: hex, problem: 'missing' })
      else if (hasName(err, 'ChunkCorruptError')) problems.push({ index, digest: hex, problem: 'corrupt' })
      else throw err
    }
  }
  return problems
}

/**
 * Yields the artifact's chunks in order, each verified against its digest
 * and expected length; throws the first problem met (ChunkMissingError,
 * ChunkCorruptError, or ContentError 'chunk-length'). The next chunk is read
 * while the consumer handles the current one.
 */
export async function * readArtifact (store: ChunkStore, layout: ArtifactLayout): AsyncGenerator<Uint8Array> {
  checkLayout(layout)
  const read = (digest: Uint8Array): Promise<Uint8Array> => {
    const pending = store.get(digest)
    // Marked handled now: if the consumer stops early, a read-ahead that
    // fails must not surface as an unhandled rejection. Awaiting it below
    // still throws.
    pending.catch(() => {})
    return pending
  }
  const { chunks } = layout
  let next: Promise<Uint8Array> | undefined
  for (const [index, digest] of chunks.entries()) {
    const bytes = await (next ?? read(digest))
    const following = chunks[index + 1]
    next = following === undefined ? undefined : read(following)
    const want = expectedChunkLength(layout, index)
    if (bytes.byteLength !== want) {
      throw new ContentError('chunk-length', `chunk ${index} (${digestToHex(digest)}) is ${bytes.byteLength} bytes, the layout needs ${want}`)
    }
    yield bytes
  }
}

function hexOf (digest: Uint8Array): string {
  if (!(digest instanceof Uint8Array) || digest.byteLength !== DIGEST_LENGTH_BYTES) {
    throw new ContentError('digest', `a chunk digest is ${DIGEST_LENGTH_BYTES} bytes, got ${digest instanceof Uint8Array ? digest.byteLength : typeof digest}`)
  }
  return digestToHex(digest)
}

function isErrno (err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code
}

function hasName (err: unknown, name: string): boolean {
  return err instanceof Error && err.name === name
}
