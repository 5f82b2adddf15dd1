import { readFile, readdir, stat, truncate, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  MIN_CHUNK_SIZE_BYTES,
  digestToHex,
  openChunkStore,
  readArtifact,
  sha256,
  verifyArtifactChunks
} from '../../../src/content/index.ts'
import type { ArtifactLayout, ChunkStore } from '../../../src/content/index.ts'
import { collect, concat, tempDirs } from './helpers.ts'

const dirs = tempDirs()
afterEach(dirs.cleanup)

/** Pseudo-random bytes (xorshift), so chunks cut from them all differ. */
function bytesOf (length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = (seed * 2654435761 + 1) >>> 0
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

async function filesUnder (dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()
}

async function flipByte (file: string, offset: number): Promise<void> {
  const bytes = await readFile(file)
  bytes[offset] = (bytes[offset] ?? 0) ^ 0xff
  await writeFile(file, bytes)
}

/** Stores an artifact of `size` bytes in MIN-size chunks; returns its layout and bytes. */
async function storeArtifact (store: ChunkStore, size: number): Promise<{ layout: ArtifactLayout, bytes: Uint8Array }> {
  const bytes = bytesOf(size, 3)
  const chunks: Uint8Array[] = []
  for (let offset = 0; offset < size; offset += MIN_CHUNK_SIZE_BYTES) {
    chunks.push(await store.add(bytes.subarray(offset, offset + MIN_CHUNK_SIZE_BYTES)))
  }
  return { layout: { size, chunkSize: MIN_CHUNK_SIZE_BYTES, chunks }, bytes }
}

describe('chunk store', () => {
  it('stores a chunk under its hex digest, sharded, and reads it back', async () => {
    const store = await openChunkStore(path.join(await dirs.make(), 'chunks'))
    const bytes = bytesOf(1000, 1)
    const digest = sha256(bytes)
    const hex = digestToHex(digest)
    expect(await store.has(digest)).toBe(false)
    await store.put(digest, bytes)
    expect(store.path(digest)).toBe(path.join(store.dir, hex.slice(0, 2), hex))
    expect(await filesUnder(store.dir)).toEqual([path.join(hex.slice(0, 2), hex)])
    expect(await store.has(digest)).toBe(true)
    expect(await store.get(digest)).toEqual(bytes)
    // A second put is a no-op and leaves no temp file behind.
    await store.put(digest, bytes)
    expect(await filesUnder(store.dir)).toEqual([path.join(hex.slice(0, 2), hex)])
    await store.delete(digest)
    expect(await store.has(digest)).toBe(false)
    await store.delete(digest)
  })

  it('add hashes the bytes itself and returns the digest', async () => {
    const store = await openChunkStore(await dirs.make())
    const bytes = bytesOf(5000, 2)
    const digest = await store.add(bytes)
    expect(digest).toEqual(sha256(bytes))
    expect(await store.get(digest)).toEqual(bytes)
  })

  it('refuses a put whose bytes do not match the digest, writing nothing', async () => {
    const store = await openChunkStore(await dirs.make())
    const bytes = bytesOf(1000, 1)
    const claimed = sha256(bytesOf(1000, 2))
    const err = await store.put(claimed, bytes).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'ChunkMismatchError', expected: digestToHex(claimed), actual: digestToHex(sha256(bytes)) })
    expect((err as Error).message).toContain(digestToHex(claimed))
    expect(await filesUnder(store.dir)).toEqual([])
    expect(await store.has(claimed)).toBe(false)
  })

  it('refuses digests that are not 32 bytes', async () => {
    const store = await openChunkStore(await dirs.make())
    await expect(store.put(new Uint8Array(16), new Uint8Array(1))).rejects.toMatchObject({ name: 'ContentError', reason: 'digest' })
    expect(() => store.path(new Uint8Array(33))).toThrow(expect.objectContaining({ reason: 'digest' }))
  })

  it('throws ChunkMissingError for an absent chunk', async () => {
    const store = await openChunkStore(await dirs.make())
    const digest = sha256(bytesOf(10, 1))
    await expect(store.get(digest)).rejects.toMatchObject({ name: 'ChunkMissingError', digest: digestToHex(digest) })
  })

  it('never serves a chunk corrupted on disk', async () => {
    const store = await openChunkStore(await dirs.make())
    const bytes = bytesOf(4096, 1)
    const digest = await store.add(bytes)
    await flipByte(store.path(digest), 100)
    const err = await store.get(digest).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'ChunkCorruptError', expected: digestToHex(digest), path: store.path(digest) })
    expect((err as { actual: string }).actual).not.toBe(digestToHex(digest))
  })

  it('replaces a stored chunk of the wrong length on put', async () => {
    const store = await openChunkStore(await dirs.make())
    const bytes = bytesOf(4096, 1)
    const digest = await store.add(bytes)
    await truncate(store.path(digest), 100)
    await store.put(digest, bytes)
    expect(await store.get(digest)).toEqual(bytes)
  })

  it('removes temp files left by a crash when opened, and keeps chunks', async () => {
    const dir = await dirs.make()
    const store = await openChunkStore(dir)
    const digest = await store.add(bytesOf(100, 1))
    const hex = digestToHex(digest)
    const leftover = path.join(dir, hex.slice(0, 2), `${hex}.tmp-0123456789abcdef`)
    await writeFile(leftover, 'half a chunk')
    await mkdir(path.join(dir, 'ff'), { recursive: true })
    await writeFile(path.join(dir, 'ff', `ff${'0'.repeat(62)}.tmp-aa`), 'x')
    await openChunkStore(dir)
    expect(await filesUnder(dir)).toEqual([path.join(hex.slice(0, 2), hex)])
    expect(await store.get(digest)).toEqual(bytesOf(100, 1))
  })

  it('survives concurrent puts of the same chunk', async () => {
    const store = await openChunkStore(await dirs.make())
    const bytes = bytesOf(200_000, 4)
    const digest = sha256(bytes)
    await Promise.all(Array.from({ length: 8 }, async () => { await store.put(digest, bytes) }))
    expect(await store.get(digest)).toEqual(bytes)
    expect((await filesUnder(store.dir)).length).toBe(1)
  })

  it('writes chunk files readable by others but not executable', async () => {
    const store = await openChunkStore(await dirs.make())
    const digest = await store.add(bytesOf(10, 1))
    expect((await stat(store.path(digest))).mode & 0o111).toBe(0)
  })
})

describe('verifyArtifactChunks', () => {
  it('reports nothing for a whole artifact', async () => {
    const store = await openChunkStore(await dirs.make())
    const { layout } = await storeArtifact(store, 3 * MIN_CHUNK_SIZE_BYTES + 10)
    expect(await verifyArtifactChunks(store, layout)).toEqual([])
  })

  it('reports every missing, corrupt and wrong-length chunk by index', async () => {
    const store = await openChunkStore(await dirs.make())
    const { layout } = await storeArtifact(store, 5 * MIN_CHUNK_SIZE_BYTES + 10)
    const [c0, , , c3, , c5] = layout.chunks
    if (c0 === undefined || c3 === undefined || c5 === undefined) throw new Error('unreachable')
    await store.delete(c0)
    await flipByte(store.path(c3), 0)
    await truncate(store.path(c5), 4) // corrupt too: the bytes no longer hash to the name
    // Chunk 2 holds intact bytes that are not the length the layout needs there.
    const short = bytesOf(10, 9)
    const shortDigest = await store.add(short)
    const problems = await verifyArtifactChunks(store, { ...layout, chunks: layout.chunks.map((d, i) => i === 2 ? shortDigest : d) })
    expect(problems).toEqual([
      { index: 0, digest: digestToHex(c0), problem: 'missing' },
      { index: 2, digest: digestToHex(shortDigest), problem: 'wrong-length' },
      { index: 3, digest: digestToHex(c3), problem: 'corrupt' },
      { index: 5, digest: digestToHex(c5), problem: 'corrupt' }
    ])
  })

  it('refuses an inconsistent layout before reading anything', async () => {
    const store = await openChunkStore(await dirs.make())
    await expect(verifyArtifactChunks(store, { size: 10, chunkSize: MIN_CHUNK_SIZE_BYTES, chunks: [] }))
      .rejects.toMatchObject({ name: 'ContentError', reason: 'chunk-count' })
  })
})

describe('readArtifact', () => {
  it('yields the verified chunks in order', async () => {
    const store = await openChunkStore(await dirs.make())
    const { layout, bytes } = await storeArtifact(store, 4 * MIN_CHUNK_SIZE_BYTES + 123)
    const chunks = await collect(readArtifact(store, layout))
    expect(chunks.map((c) => c.byteLength)).toEqual([...Array(4).fill(MIN_CHUNK_SIZE_BYTES), 123])
    expect(concat(chunks)).toEqual(bytes)
  })

  it('throws on the first bad chunk, after yielding the good ones before it', async () => {
    const store = await openChunkStore(await dirs.make())
    const { layout } = await storeArtifact(store, 4 * MIN_CHUNK_SIZE_BYTES)
    await flipByte(store.path(layout.chunks[2] ?? new Uint8Array()), 5)
    await store.delete(layout.chunks[3] ?? new Uint8Array())
    const seen: number[] = []
    const err = await (async () => { for await (const chunk of readArtifact(store, layout)) seen.push(chunk.byteLength) })().catch((e: unknown) => e)
    expect(seen).toEqual([MIN_CHUNK_SIZE_BYTES, MIN_CHUNK_SIZE_BYTES])
    expect(err).toMatchObject({ name: 'ChunkCorruptError', expected: digestToHex(layout.chunks[2] ?? new Uint8Array()) })
  })

  it('refuses a chunk whose length does not fit the layout', async () => {
    const store = await openChunkStore(await dirs.make())
    const { layout } = await storeArtifact(store, 2 * MIN_CHUNK_SIZE_BYTES)
    const short = await store.add(bytesOf(10, 1))
    await expect(collect(readArtifact(store, { ...layout, chunks: [short, layout.chunks[1] ?? short] })))
      .rejects.toMatchObject({ name: 'ContentError', reason: 'chunk-length' })
  })

  it('can be stopped early while a read-ahead of a missing chunk fails', async () => {
    const store = await openChunkStore(await dirs.make())
    const { layout } = await storeArtifact(store, 2 * MIN_CHUNK_SIZE_BYTES)
    await store.delete(layout.chunks[1] ?? new Uint8Array())
    for await (const chunk of readArtifact(store, layout)) {
      expect(chunk.byteLength).toBe(MIN_CHUNK_SIZE_BYTES)
      break
    }
    // An unhandled rejection from the abandoned read-ahead would fail the run.
    await new Promise((resolve) => setImmediate(resolve))
  })
})
