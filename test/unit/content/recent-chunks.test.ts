import { rm, writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { openChunkStore, sha256, withRecentChunks } from '../../../src/content/index.ts'
import { tempDirs } from './helpers.ts'

const dirs = tempDirs()
afterEach(dirs.cleanup)

const chunk = (fill: number, length = 1024): Uint8Array => new Uint8Array(length).fill(fill)

describe('withRecentChunks', () => {
  it('answers the chunks stored last from memory, the rest from the disk store, verified', async () => {
    const disk = await openChunkStore(await dirs.make('recent'))
    const store = withRecentChunks(disk, 2048)
    const [a, b, c] = [chunk(1), chunk(2), chunk(3)]
    for (const bytes of [a, b, c]) await store.put(sha256(bytes), bytes, { durable: false })
    // Behind the cache's back, the disk copies of b and a go bad.
    await writeFile(disk.path(sha256(b)), chunk(9))
    await writeFile(disk.path(sha256(a)), chunk(9))
    // b and c are the last 2048 bytes stored: from memory, as verified on the way in.
    expect(await store.get(sha256(b))).toBe(b)
    expect(await store.get(sha256(c))).toBe(c)
    // a was pushed out: read from disk, where the store's check catches the damage.
    await expect(store.get(sha256(a))).rejects.toMatchObject({ name: 'ChunkCorruptError' })
  })

  it('keeps the most recently read chunks when it must drop one', async () => {
    const disk = await openChunkStore(await dirs.make('recent'))
    const store = withRecentChunks(disk, 2048)
    const [a, b, c] = [chunk(1), chunk(2), chunk(3)]
    await store.put(sha256(a), a)
    await store.put(sha256(b), b)
    expect(await store.get(sha256(a))).toBe(a)
    await store.put(sha256(c), c)
    await rm(disk.path(sha256(a)))
    await rm(disk.path(sha256(b)))
    expect(await store.get(sha256(a))).toBe(a)
    await expect(store.get(sha256(b))).rejects.toMatchObject({ name: 'ChunkMissingError' })
  })

  it('remembers nothing put refused, nothing larger than itself, nothing deleted', async () => {
    const disk = await openChunkStore(await dirs.make('recent'))
    const store = withRecentChunks(disk, 2048)
    const good = chunk(1)
    await expect(store.put(sha256(good), chunk(2))).rejects.toMatchObject({ name: 'ChunkMismatchError' })
    expect(await store.has(sha256(good))).toBe(false)

    const big = chunk(3, 4096)
    await store.put(sha256(big), big)
    await writeFile(disk.path(sha256(big)), chunk(9, 4096))
    await expect(store.get(sha256(big))).rejects.toMatchObject({ name: 'ChunkCorruptError' })

    await store.put(sha256(good), good)
    await store.delete(sha256(good))
    expect(await store.has(sha256(good))).toBe(false)
    await expect(store.get(sha256(good))).rejects.toMatchObject({ name: 'ChunkMissingError' })
  })

  it('remembers what add stored, under the digest add returns', async () => {
    const disk = await openChunkStore(await dirs.make('recent'))
    const store = withRecentChunks(disk)
    const bytes = chunk(7)
    const digest = await store.add(bytes)
    expect(digest).toEqual(sha256(bytes))
    await rm(disk.path(digest))
    expect(await store.get(digest)).toBe(bytes)
    expect(store.dir).toBe(disk.dir)
  })
})
