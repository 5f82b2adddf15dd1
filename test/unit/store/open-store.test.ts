import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { CURRENT_SCHEMA_VERSION, StoreCorruptError, StoreLockedError, StoreOpenError, StoreSchemaError, openStore } from '../../../src/store/index.ts'
import type { Store } from '../../../src/store/index.ts'
import { cleanUp, makeTempDir, snapshotFiles, spawnFixture } from './harness.ts'
import { releaseFor } from './fixtures/records.ts'

const stores: Store[] = []

afterEach(async () => {
  await Promise.all(stores.map(async (s) => { await s.close() }))
  stores.length = 0
  await cleanUp()
})

async function open (dir: string): Promise<Store> {
  const s = await openStore({ dir })
  stores.push(s)
  return s
}

/** A closed store in a new dir holding `count` releases. */
async function storeWithData (count = 3): Promise<string> {
  const dir = await makeTempDir()
  const s = await openStore({ dir })
  for (let i = 0; i < count; i++) {
    await s.releases.put(releaseFor(i).releaseId, releaseFor(i))
  }
  await s.close()
  return dir
}

/** The raw meta/schema-version value, read around the store. */
async function rawSchemaVersion (dir: string): Promise<unknown> {
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  try {
    const bytes = await db.sublevel<string, Uint8Array>('meta', { valueEncoding: 'view' }).get('schema-version')
    return bytes === undefined ? undefined : dagCbor.decode(bytes)
  } finally {
    await db.close()
  }
}

async function writeRawVersion (dir: string, version: number | undefined): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  const meta = db.sublevel<string, Uint8Array>('meta', { valueEncoding: 'view' })
  await (version === undefined ? meta.del('schema-version') : meta.put('schema-version', dagCbor.encode(version)))
  await db.close()
}

describe('openStore', () => {
  it('creates a missing directory and writes the current schema version', async () => {
    const dir = join(await makeTempDir(), 'nested', 'store')
    const s = await open(dir)
    expect(s.dir).toBe(dir)
    expect(s.schemaVersion).toBe(CURRENT_SCHEMA_VERSION)
    await s.close()
    expect(await rawSchemaVersion(dir)).toBe(CURRENT_SCHEMA_VERSION)
  })

  it('keeps data across close and reopen', async () => {
    const dir = await storeWithData(10)
    const s = await open(dir)
    expect(s.schemaVersion).toBe(CURRENT_SCHEMA_VERSION)
    for (let i = 0; i < 10; i++) {
      expect(await s.releases.get(releaseFor(i).releaseId)).toEqual(releaseFor(i))
    }
  })

  it('closes idempotently, also when called concurrently', async () => {
    const s = await openStore({ dir: await makeTempDir() })
    await Promise.all([s.close(), s.close()])
    await s.close()
    await expect(s.releases.get('rel-000001')).rejects.toThrow()
  })

  it('refuses data with a newer schema version, naming both versions, and leaves it untouched', async () => {
    const dir = await storeWithData()
    await writeRawVersion(dir, CURRENT_SCHEMA_VERSION + 1)
    const err = await openStore({ dir }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreSchemaError)
    expect(err).toMatchObject({ name: 'StoreSchemaError', dataVersion: CURRENT_SCHEMA_VERSION + 1, supportedVersion: CURRENT_SCHEMA_VERSION })
    expect((err as Error).message).toContain(`schema version ${CURRENT_SCHEMA_VERSION + 1}`)
    expect((err as Error).message).toContain(`up to version ${CURRENT_SCHEMA_VERSION}`)
    expect(await rawSchemaVersion(dir)).toBe(CURRENT_SCHEMA_VERSION + 1)
  })

  it('refuses a non-empty database without a schema version instead of resetting it', async () => {
    const dir = await storeWithData()
    await writeRawVersion(dir, undefined)
    await expect(openStore({ dir })).rejects.toMatchObject({ name: 'StoreSchemaError', dataVersion: undefined })
    // The records are all still there.
    await writeRawVersion(dir, CURRENT_SCHEMA_VERSION)
    expect(await (await open(dir)).releases.get(releaseFor(2).releaseId)).toEqual(releaseFor(2))
  })

  it('refuses an unreadable schema version', async () => {
    const dir = await storeWithData()
    await writeRawVersion(dir, 0)
    await expect(openStore({ dir })).rejects.toMatchObject({ name: 'StoreSchemaError', message: expect.stringMatching(/unreadable/) })
  })

  it('releases the lock after a refused open, so a fixed store opens', async () => {
    const dir = await storeWithData()
    await writeRawVersion(dir, 99)
    await expect(openStore({ dir })).rejects.toBeInstanceOf(StoreSchemaError)
    await writeRawVersion(dir, CURRENT_SCHEMA_VERSION) // would fail with LEVEL_LOCKED if still open
    expect((await open(dir)).schemaVersion).toBe(CURRENT_SCHEMA_VERSION)
  })

  it('names the directory when the path is a file', async () => {
    const file = join(await makeTempDir(), 'not-a-dir')
    await writeFile(file, 'hello')
    const err = await openStore({ dir: file }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreOpenError)
    expect((err as Error).message).toContain(file)
    expect(await readFile(file, 'utf8')).toBe('hello')
  })

  describe('lock', () => {
    it('refuses a store held by another process, then opens once it is released', async () => {
      const dir = await storeWithData()
      const holder = spawnFixture('hold-store.ts', [dir])
      await holder.waitFor((lines) => lines.includes('opened'))

      const err = await openStore({ dir }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreLockedError)
      expect(err).toMatchObject({ name: 'StoreLockedError', dir })
      expect((err as Error).message).toContain(dir)
      expect((err as Error).message).toMatch(/another Mirage process/)
      // classic-level's own words, kept as the cause chain.
      expect(((err as Error).cause as Error & { cause: { code: string } }).cause.code).toBe('LEVEL_LOCKED')

      holder.process.stdin?.end()
      expect(await holder.closed).toEqual({ code: 0, signal: null })
      expect(await (await open(dir)).releases.get(releaseFor(0).releaseId)).toEqual(releaseFor(0))
    })

    it('refuses a second open of the same store in this process', async () => {
      const dir = await storeWithData()
      const first = await open(dir)
      await expect(openStore({ dir })).rejects.toMatchObject({ name: 'StoreLockedError', dir })
      expect(await first.releases.get(releaseFor(1).releaseId)).toEqual(releaseFor(1))
    })
  })

  describe('corruption', () => {
    /** Corrupts with `damage`, expects StoreCorruptError, and proves nothing else changed. */
    async function expectRefusedUntouched (dir: string, damage: () => Promise<void>): Promise<Error> {
      await damage()
      const before = await snapshotFiles(dir)
      const err = await openStore({ dir }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreCorruptError)
      expect(err).toMatchObject({ name: 'StoreCorruptError', dir })
      expect((err as Error).message).toContain(dir)
      expect(await snapshotFiles(dir)).toEqual(before)
      return err as Error
    }

    it('refuses a CURRENT file holding binary garbage', async () => {
      const dir = await storeWithData()
      const current = await readFile(join(dir, 'CURRENT'))
      const err = await expectRefusedUntouched(dir, async () => { await writeFile(join(dir, 'CURRENT'), Buffer.from([0x00, 0x9f, 0xff, 0x42])) })
      expect(err.message).toMatch(/CURRENT file does not end with newline/)
      // Putting the right CURRENT back proves no data was lost.
      await writeFile(join(dir, 'CURRENT'), current)
      expect(await (await open(dir)).releases.get(releaseFor(2).releaseId)).toEqual(releaseFor(2))
    })

    it('refuses a CURRENT file naming a manifest that does not exist', async () => {
      // LevelDB reports this one as an I/O error (LEVEL_IO_ERROR), not corruption.
      const dir = await storeWithData()
      const current = await readFile(join(dir, 'CURRENT'))
      const err = await expectRefusedUntouched(dir, async () => { await writeFile(join(dir, 'CURRENT'), 'garbage\n') })
      expect(err.message).toMatch(/CURRENT does not name a MANIFEST/)
      await writeFile(join(dir, 'CURRENT'), 'MANIFEST-999999\n')
      await expect(openStore({ dir })).rejects.toThrow(/CURRENT names MANIFEST-999999, which is missing/)
      await writeFile(join(dir, 'CURRENT'), current)
      expect(await (await open(dir)).releases.get(releaseFor(0).releaseId)).toEqual(releaseFor(0))
    })

    it('refuses a garbage MANIFEST', async () => {
      const dir = await storeWithData()
      const manifest = (await readdir(dir)).find((name) => name.startsWith('MANIFEST-'))
      expect(manifest).toBeDefined()
      const original = await readFile(join(dir, manifest!))
      const err = await expectRefusedUntouched(dir, async () => { await writeFile(join(dir, manifest!), Buffer.alloc(256, 0xab)) })
      expect(err.message).toMatch(/Corruption/)
      await writeFile(join(dir, manifest!), original)
      expect(await (await open(dir)).releases.get(releaseFor(1).releaseId)).toEqual(releaseFor(1))
    })

    it('refuses a store whose CURRENT file is gone instead of starting an empty database over it', async () => {
      // Measured: classic-level with createIfMissing treats this as a new
      // database and deletes the old table files.
      const dir = await storeWithData()
      const current = await readFile(join(dir, 'CURRENT'))
      const err = await expectRefusedUntouched(dir, async () => { await rm(join(dir, 'CURRENT')) })
      expect(err.message).toMatch(/no LevelDB CURRENT file/)
      await writeFile(join(dir, 'CURRENT'), current)
      expect(await (await open(dir)).releases.get(releaseFor(2).releaseId)).toEqual(releaseFor(2))
    })

    /** A closed store whose records sit in a table (.ldb) file; returns the table's path. */
    async function storeWithTable (dir: string): Promise<string> {
      const s = await openStore({ dir, sync: false })
      for (let i = 0; i < 2000; i++) {
        const r = { ...releaseFor(i), envelope: new Uint8Array(100).fill(i & 0xff) }
        await s.releases.put(r.releaseId, r)
      }
      await s.close()
      // Reopening turns the write-ahead log into a table file.
      await (await openStore({ dir })).close()
      const table = (await readdir(dir)).find((name) => name.endsWith('.ldb'))
      expect(table).toBeDefined()
      return join(dir, table!)
    }

    /** Flips every byte of `file` in [from, to), as a failing disk might. */
    async function damage (file: string, from: number, to: number): Promise<void> {
      const bytes = await readFile(file)
      expect(to).toBeLessThan(bytes.byteLength)
      for (let i = from; i < to; i++) {
        bytes[i] = bytes[i]! ^ 0x5a
      }
      await writeFile(file, bytes)
    }

    it('refuses to open when the block holding the schema version is corrupt', async () => {
      const dir = await makeTempDir()
      const table = await storeWithTable(dir)
      // meta/schema-version sorts before every record: it is in the first block.
      await damage(table, 16, 4000)
      const damaged = await readFile(table)
      // LevelDB opens fine (a successful open starts a new log and MANIFEST,
      // its normal routine) and meets the damage on the first read.
      const err = await openStore({ dir }).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'StoreCorruptError', dir, message: expect.stringMatching(/Corruption/) })
      expect(await readFile(table)).toEqual(damaged)
    })

    it('reports a corrupt block met while reading records as StoreCorruptError', async () => {
      const dir = await makeTempDir()
      const table = await storeWithTable(dir)
      const size = (await readFile(table)).byteLength
      await damage(table, Math.floor(size * 0.4), Math.floor(size * 0.4) + 4000)

      const s = await open(dir)
      const scan = (async () => {
        let n = 0
        for await (const _ of s.releases.entries()) n++
        return n
      })()
      await expect(scan).rejects.toMatchObject({ name: 'StoreCorruptError', dir, message: expect.stringMatching(/reading releases.*Corruption/) })
    })
  })
})
