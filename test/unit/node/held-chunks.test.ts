import { afterEach, describe, expect, it } from 'vitest'
import { MIN_CHUNK_SIZE_BYTES, artifactRoot, openChunkStore, sha256 } from '../../../src/content/index.ts'
import { HeldChunks } from '../../../src/node/held-chunks.ts'
import type { ArtifactLayout } from '../../../src/content/index.ts'
import { tempDirs } from '../content/helpers.ts'

const dirs = tempDirs()
afterEach(dirs.cleanup)

const chunk = (fill: number): Uint8Array => new Uint8Array(MIN_CHUNK_SIZE_BYTES).fill(fill)

function layoutOf (chunks: Uint8Array[]): ArtifactLayout {
  return { size: chunks.length * MIN_CHUNK_SIZE_BYTES, chunkSize: MIN_CHUNK_SIZE_BYTES, chunks: chunks.map(sha256) }
}

describe('HeldChunks', () => {
  it('knows by index which chunks of each artifact are held, from the disk and from chunks stored since', async () => {
    const store = await openChunkStore(await dirs.make())
    const [a, b, c, d] = [chunk(1), chunk(2), chunk(3), chunk(4)]
    // Release 2 repeats a chunk of its own and shares one with release 1.
    const first = layoutOf([a, b, c])
    const second = layoutOf([c, d, c])
    await store.add(b)
    const held = new HeldChunks(store)
    const firstRoot = artifactRoot(first)
    const secondRoot = artifactRoot(second)

    expect(await held.add(firstRoot, first)).toBe(1)
    expect([0, 1, 2].map(i => held.holds(firstRoot, i))).toEqual([false, true, false])
    expect(held.layout(firstRoot)).toBe(first)
    expect(held.store(firstRoot)).toBe(store)

    await store.add(c)
    held.stored(sha256(c))
    expect(held.holds(firstRoot, 2)).toBe(true)
    // Learnt in memory before release 2 was known: held there too, at both places, without asking the disk.
    expect(await held.add(secondRoot, second)).toBe(2)
    expect([0, 1, 2].map(i => held.holds(secondRoot, i))).toEqual([true, false, true])

    held.stored(sha256(d))
    expect(held.holds(secondRoot, 1)).toBe(true)
    expect(held.holds(secondRoot, 3), 'out of range').toBe(false)
  })

  it('re-reads the disk for chunks put there behind its back when an artifact is added again', async () => {
    const store = await openChunkStore(await dirs.make())
    const chunks = [chunk(5), chunk(6)]
    const layout = layoutOf(chunks)
    const root = artifactRoot(layout)
    const held = new HeldChunks(store)
    expect(await held.add(root, layout)).toBe(0)
    for (const bytes of chunks) await store.add(bytes)
    expect(held.holds(root, 0)).toBe(false)
    expect(await held.add(root, layout)).toBe(2)
    expect(held.holds(root, 1)).toBe(true)
  })

  it('answers nothing for an artifact it does not know', async () => {
    const held = new HeldChunks(await openChunkStore(await dirs.make()))
    const root = artifactRoot(layoutOf([chunk(7)]))
    expect(held.holds(root, 0)).toBe(false)
    expect(held.layout(root)).toBeUndefined()
    expect(held.store(root)).toBeUndefined()
  })

  it('wakes a held `have` when the count of an artifact\'s chunks changes, and not for a chunk it already held', async () => {
    const store = await openChunkStore(await dirs.make())
    const [a, b] = [chunk(8), chunk(9)]
    const layout = layoutOf([a, b, a])
    const root = artifactRoot(layout)
    const held = new HeldChunks(store)
    await held.add(root, layout)
    const never = new AbortController().signal

    // Already different: at once.
    let woken = false
    await held.changed(root, 1, never)
    // Same count: waits until a new chunk lands; a repeat of a held chunk is no news.
    const waiting = held.changed(root, 0, never).then(() => { woken = true })
    held.stored(sha256(a))
    await waiting
    expect(woken).toBe(true)
    expect([0, 1, 2].map(i => held.holds(root, i))).toEqual([true, false, true])

    let again = false
    const second = held.changed(root, 2, never).then(() => { again = true })
    held.stored(sha256(a))
    await new Promise(resolve => setImmediate(resolve))
    expect(again, 'a chunk already held changes nothing').toBe(false)
    held.stored(sha256(b))
    await second
    expect(again).toBe(true)
  })

  it('lets a held `have` go when its signal aborts, and answers an unknown artifact at once', async () => {
    const store = await openChunkStore(await dirs.make())
    const layout = layoutOf([chunk(10)])
    const root = artifactRoot(layout)
    const held = new HeldChunks(store)
    await held.changed(root, 0, new AbortController().signal)
    await held.add(root, layout)
    const controller = new AbortController()
    const waiting = held.changed(root, 0, controller.signal)
    controller.abort()
    await waiting
    expect(held.holds(root, 0)).toBe(false)
  })
})
