/**
 * Which writes wait for the disk. An fsync cannot be observed from outside
 * short of pulling the power, so `open` is wrapped to record every
 * FileHandle.sync: the file and the folder are otherwise real.
 */
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openChunkStore, sha256, writeFileAtomically } from '../../../src/content/index.ts'
import { tempDirs } from './helpers.ts'

const synced = vi.hoisted(() => [] as string[])
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const open: typeof real.open = async (file, ...rest) => {
    const handle = await real.open(file, ...rest)
    const sync = handle.sync.bind(handle)
    handle.sync = async () => {
      synced.push(String(file))
      await sync()
    }
    return handle
  }
  return { ...real, default: { ...real, open }, open }
})

const dirs = tempDirs()
beforeEach(() => { synced.length = 0 })
afterEach(dirs.cleanup)

describe('writeFileAtomically', () => {
  it('fsyncs the temp file and then its folder by default', async () => {
    const dir = await dirs.make('atomic')
    const file = path.join(dir, 'state.json')
    await writeFileAtomically(file, '{"a":1}\n')
    expect(await readFile(file, 'utf8')).toBe('{"a":1}\n')
    expect(synced).toHaveLength(2)
    expect(path.dirname(synced[0] ?? '')).toBe(dir)
    expect(path.basename(synced[0] ?? '')).toMatch(/^state\.json\.tmp-[0-9a-f]{16}$/)
    expect(synced[1]).toBe(dir)
    expect(await readdir(dir)).toEqual(['state.json'])
  })

  it('writes the same bytes, atomically renamed, without any fsync when not durable', async () => {
    const dir = await dirs.make('atomic')
    const file = path.join(dir, 'chunk')
    await writeFileAtomically(file, 'old')
    synced.length = 0
    await writeFileAtomically(file, Uint8Array.of(1, 2, 3), { durable: false })
    expect([...await readFile(file)]).toEqual([1, 2, 3])
    expect(synced).toEqual([])
    expect(await readdir(dir)).toEqual(['chunk'])
  })
})

describe('chunk store put', () => {
  it('fsyncs unless told the chunk need not be durable', async () => {
    const store = await openChunkStore(await dirs.make('chunks'))
    const durable = Uint8Array.of(1, 2, 3)
    await store.put(sha256(durable), durable)
    expect(synced).toHaveLength(2)

    synced.length = 0
    const fetched = Uint8Array.of(4, 5, 6)
    await store.put(sha256(fetched), fetched, { durable: false })
    expect(synced).toEqual([])
    expect([...await store.get(sha256(fetched))]).toEqual([4, 5, 6])
  })

  it('still refuses bytes that do not hash to the digest, durable or not', async () => {
    const store = await openChunkStore(await dirs.make('chunks'))
    await expect(store.put(sha256(Uint8Array.of(1)), Uint8Array.of(2), { durable: false })).rejects.toThrow(/ChunkMismatch|does not match|hash/i)
    expect(await store.has(sha256(Uint8Array.of(1)))).toBe(false)
  })
})
