import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RecordInvalidError, membershipKey, openStore, outcomeKey } from '../../../src/store/index.ts'
import type { RecordCollection, Store } from '../../../src/store/index.ts'
import { createRecordCollection, prefixUpperBound } from '../../../src/store/record-collection.ts'
import type { SublevelHandle } from '../../../src/store/record-collection.ts'
import { membershipRecordSchema } from '../../../src/store/record-schemas.ts'
import { cleanUp, makeTempDir } from './harness.ts'
import { envelopeFor, installFor, membershipFor, outcomeFor, releaseFor, reportFor } from './fixtures/records.ts'

let store: Store | undefined

afterEach(async () => {
  await store?.close()
  store = undefined
  vi.restoreAllMocks()
  await cleanUp()
})

async function freshStore (): Promise<Store> {
  store = await openStore({ dir: await makeTempDir() })
  return store
}

async function collect<T> (gen: AsyncGenerator<[string, T]>): Promise<Array<[string, T]>> {
  const out: Array<[string, T]> = []
  for await (const entry of gen) {
    out.push(entry)
  }
  return out
}

/** Writes raw bytes under `key` in `sublevel`, bypassing every check of the store. */
async function writeRaw (dir: string, sublevel: string, key: string, bytes: Uint8Array): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  await db.sublevel<string, Uint8Array>(sublevel, { valueEncoding: 'view' }).put(key, bytes)
  await db.close()
}

describe('record collections', () => {
  it('waits for fsync on every write of a syncing store, except a put that says it need not', async () => {
    const syncs: Array<[string, boolean]> = []
    const sublevel: SublevelHandle = {
      get: async () => undefined,
      has: async () => false,
      put: async (key, _value, options) => { syncs.push(['put ' + key, options.sync]) },
      del: async (key, options) => { syncs.push(['del ' + key, options.sync]) },
      batch: async (_ops, options) => { syncs.push(['batch', options.sync]) },
      iterator: async function * () {}
    }
    const codec = { sublevel: 'memberships', schema: membershipRecordSchema, keyOf: membershipKey }
    const syncing = createRecordCollection({ dir: '(test)', sublevel, codec, sync: true })
    const member = membershipFor(1)
    const key = membershipKey(member)
    await syncing.put(key, member)
    await syncing.put(key, member, { durable: true })
    await syncing.put(key, member, { durable: false })
    await syncing.delete(key)
    await syncing.batch([{ type: 'put', key, value: member }])
    // A store that never syncs (tests, simulations) does not start because a put asks.
    const relaxed = createRecordCollection({ dir: '(test)', sublevel, codec, sync: false })
    await relaxed.put(key, member, { durable: true })
    expect(syncs).toEqual([
      [`put ${key}`, true], [`put ${key}`, true], [`put ${key}`, false], [`del ${key}`, true], ['batch', true], [`put ${key}`, false]
    ])
  })

  it('round-trips a record through every collection', async () => {
    const s = await freshStore()
    const release = releaseFor(1)
    const outcome = outcomeFor(1)
    const membership = membershipFor(1)
    const install = installFor('webapp')
    const report = reportFor(1)

    await s.releases.put(release.releaseId, release)
    await s.outcomes.put(outcomeKey(outcome), outcome)
    await s.memberships.put(membershipKey(membership), membership)
    await s.installs.put(install.app, install)
    await s.reports.put(report.reportId, report)

    expect(await s.releases.get(release.releaseId)).toEqual(release)
    expect(await s.outcomes.get(outcomeKey(outcome))).toEqual(outcome)
    expect(await s.memberships.get(membershipKey(membership))).toEqual(membership)
    expect(await s.installs.get('webapp')).toEqual(install)
    expect(await s.reports.get(report.reportId)).toEqual(report)
    // Decoded bytes are plain Uint8Arrays, comparable byte for byte.
    expect((await s.releases.get(release.releaseId))?.envelope).toStrictEqual(envelopeFor(1))
  })

  it('keeps collections apart: the same key in two sublevels is two records', async () => {
    const s = await freshStore()
    await s.installs.put('webapp', installFor('webapp'))
    expect(await s.releases.has('webapp')).toBe(false)
    expect(await collect(s.releases.entries())).toEqual([])
  })

  it('omits optional fields left undefined, and reads them back as absent', async () => {
    const s = await freshStore()
    await s.installs.put('idle-app', { app: 'idle-app', state: 'idle', releaseId: undefined, updatedAt: 5 })
    const read = await s.installs.get('idle-app')
    expect(read).toEqual({ app: 'idle-app', state: 'idle', updatedAt: 5 })
    expect(read !== undefined && 'releaseId' in read).toBe(false)
  })

  it('answers get, has and delete for present and missing keys', async () => {
    const s = await freshStore()
    const r = releaseFor(7)
    expect(await s.releases.get(r.releaseId)).toBeUndefined()
    expect(await s.releases.has(r.releaseId)).toBe(false)
    await s.releases.put(r.releaseId, r)
    expect(await s.releases.has(r.releaseId)).toBe(true)
    await s.releases.delete(r.releaseId)
    expect(await s.releases.has(r.releaseId)).toBe(false)
    await s.releases.delete(r.releaseId) // deleting nothing is fine
  })

  it.each([
    ['a negative sequence', { sequence: -1 }, 'sequence'],
    ['a fractional timestamp', { receivedAt: 1.5 }, 'receivedAt'],
    ['an unsafe integer', { sequence: 2 ** 60 }, 'sequence'],
    ['a string envelope', { envelope: 'bytes' }, 'envelope'],
    ['an unknown field', { extra: true }, '(record)'],
    ['an empty app', { app: '' }, 'app'],
    ['a slash in an id', { app: 'a/b' }, 'app']
  ])('refuses to put a release with %s, naming the field', async (_what, change, field) => {
    const s = await freshStore()
    const bad = { ...releaseFor(1), ...change }
    const err = await s.releases.put(bad.releaseId, bad as never).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RecordInvalidError)
    expect(err).toMatchObject({ name: 'RecordInvalidError', sublevel: 'releases', key: bad.releaseId })
    expect((err as RecordInvalidError).reason).toContain(field)
    expect(await s.releases.has(bad.releaseId)).toBe(false)
  })

  it('refuses an install record in an unknown state', async () => {
    const s = await freshStore()
    const bad = { ...installFor('webapp'), state: 'exploded' }
    await expect(s.installs.put('webapp', bad as never)).rejects.toMatchObject({ name: 'RecordInvalidError', sublevel: 'installs' })
  })

  it('refuses a record stored under a key that is not its own', async () => {
    const s = await freshStore()
    const r = releaseFor(1)
    await expect(s.releases.put('some-other-id', r)).rejects.toMatchObject({ name: 'RecordInvalidError', key: 'some-other-id' })
    const o = outcomeFor(1)
    await expect(s.outcomes.put(o.peerId, o)).rejects.toThrow(/belongs under/)
  })

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(1025)],
    ['a lone surrogate', 'key-\ud800']
  ])('refuses a key that is %s, on every operation', async (_what, key) => {
    const s = await freshStore()
    const install = { ...installFor('webapp'), app: key }
    await expect(s.installs.put(key, install)).rejects.toBeInstanceOf(RecordInvalidError)
    await expect(s.installs.get(key)).rejects.toBeInstanceOf(RecordInvalidError)
    await expect(s.installs.has(key)).rejects.toBeInstanceOf(RecordInvalidError)
    await expect(s.installs.delete(key)).rejects.toBeInstanceOf(RecordInvalidError)
  })

  it('reports garbage bytes stored under a key as RecordInvalidError, on get and on entries', async () => {
    const dir = await makeTempDir()
    const s = await openStore({ dir })
    await s.releases.put('rel-000001', releaseFor(1))
    await s.close()
    // 0xff is a CBOR "break" with nothing to break: not a value at all.
    await writeRaw(dir, 'releases', 'rel-000002', new Uint8Array([0xff, 0x00, 0x13]))

    store = await openStore({ dir })
    const err = await store.releases.get('rel-000002').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RecordInvalidError)
    expect(err).toMatchObject({ sublevel: 'releases', key: 'rel-000002' })
    expect((err as Error).message).toMatch(/releases\/"rel-000002".*not valid CBOR/)

    // The good record before it is still served; the bad one stops the scan loudly.
    const seen: string[] = []
    const scan = (async () => {
      for await (const [key] of store.releases.entries()) {
        seen.push(key)
      }
    })()
    await expect(scan).rejects.toMatchObject({ name: 'RecordInvalidError', key: 'rel-000002' })
    expect(seen).toEqual(['rel-000001'])
    // Nothing was deleted or reset.
    await expect(store.releases.get('rel-000002')).rejects.toBeInstanceOf(RecordInvalidError)
  })

  it('reports valid CBOR of the wrong shape as RecordInvalidError naming the field', async () => {
    const dir = await makeTempDir()
    await (await openStore({ dir })).close()
    await writeRaw(dir, 'reports', 'report-1', dagCbor.encode({ ...reportFor(1), attempts: 'yes' }))
    store = await openStore({ dir })
    const err = await store.reports.get('report-1').catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RecordInvalidError', sublevel: 'reports', key: 'report-1' })
    expect((err as RecordInvalidError).reason).toMatch(/^attempts: /)
  })

  describe('entries', () => {
    let releases: RecordCollection<ReturnType<typeof releaseFor>>

    async function seed (count: number): Promise<void> {
      const s = await freshStore()
      releases = s.releases
      await releases.batch(Array.from({ length: count }, (_, i) => ({ type: 'put' as const, key: releaseFor(i).releaseId, value: releaseFor(i) })))
    }

    const keysOf = async (options?: Parameters<typeof releases.entries>[0]): Promise<string[]> =>
      (await collect(releases.entries(options))).map(([k]) => k)

    it('yields all records in key order, with their values', async () => {
      await seed(5)
      const all = await collect(releases.entries())
      expect(all).toEqual([0, 1, 2, 3, 4].map((i) => [releaseFor(i).releaseId, releaseFor(i)]))
    })

    it('honours gt, gte, lt, lte, limit and reverse', async () => {
      await seed(6)
      const k = (i: number): string => releaseFor(i).releaseId
      expect(await keysOf({ gte: k(2), lt: k(4) })).toEqual([k(2), k(3)])
      expect(await keysOf({ gt: k(2), lte: k(4) })).toEqual([k(3), k(4)])
      expect(await keysOf({ limit: 2 })).toEqual([k(0), k(1)])
      expect(await keysOf({ reverse: true, limit: 2 })).toEqual([k(5), k(4)])
      expect(await keysOf({ limit: 0 })).toEqual([])
      await expect(keysOf({ limit: -1 })).rejects.toThrow(RangeError)
    })

    it('scans a prefix exactly, forwards and backwards', async () => {
      const s = await freshStore()
      const outcomes = [
        { ...outcomeFor(1), releaseId: 'rel-a', clusterId: 'c1' },
        { ...outcomeFor(2), releaseId: 'rel-a', clusterId: 'c2' },
        { ...outcomeFor(3), releaseId: 'rel-ab', clusterId: 'c1' },
        { ...outcomeFor(4), releaseId: 'rel-b', clusterId: 'c1' }
      ]
      for (const o of outcomes) {
        await s.outcomes.put(outcomeKey(o), o)
      }
      const keys = async (prefix: string, reverse = false): Promise<string[]> =>
        (await collect(s.outcomes.entries({ prefix, reverse }))).map(([k]) => k)
      expect(await keys('rel-a/')).toEqual([outcomeKey(outcomes[0]!), outcomeKey(outcomes[1]!)])
      expect(await keys('rel-a/', true)).toEqual([outcomeKey(outcomes[1]!), outcomeKey(outcomes[0]!)])
      expect(await keys('rel-a/c1/')).toEqual([outcomeKey(outcomes[0]!)])
      expect(await keys('rel-c/')).toEqual([])
      expect(await keys('')).toHaveLength(4)
      await expect(collect(s.outcomes.entries({ prefix: 'rel-a/', gte: 'x' }))).rejects.toThrow(TypeError)
    })

    it('stops reading when the caller breaks out early', async () => {
      await seed(50)
      let n = 0
      for await (const _ of releases.entries()) {
        if (++n === 3) break
      }
      expect(n).toBe(3)
      // The iterator was released: the store still closes promptly.
      await store?.close()
    })
  })

  it('computes prefix upper bounds in UTF-8 order', () => {
    expect(prefixUpperBound('')).toBeUndefined()
    expect(prefixUpperBound('rel-a/')).toBe('rel-a0')
    expect(prefixUpperBound('a\ud7ff')).toBe('a\ue000')
    expect(prefixUpperBound('a\u{1f600}')).toBe('a\u{1f601}')
    expect(() => prefixUpperBound('a\u{10ffff}')).toThrow(RangeError)
  })

  describe('batch', () => {
    it('applies puts and deletes together', async () => {
      const s = await freshStore()
      await s.reports.put('report-1', reportFor(1))
      await s.reports.batch([
        { type: 'del', key: 'report-1' },
        { type: 'put', key: 'report-2', value: reportFor(2) },
        { type: 'put', key: 'report-3', value: reportFor(3) }
      ])
      expect((await collect(s.reports.entries())).map(([k]) => k)).toEqual(['report-2', 'report-3'])
    })

    it('writes nothing when one operation is invalid', async () => {
      const s = await freshStore()
      await s.reports.put('report-1', reportFor(1))
      const err = await s.reports.batch([
        { type: 'del', key: 'report-1' },
        { type: 'put', key: 'report-2', value: reportFor(2) },
        { type: 'put', key: 'report-3', value: { ...reportFor(3), createdAt: -5 } }
      ]).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'RecordInvalidError', key: 'report-3' })
      expect((await collect(s.reports.entries())).map(([k]) => k)).toEqual(['report-1'])
    })

    it('refuses a batch over the size limit', async () => {
      const s = await freshStore()
      const ops = Array.from({ length: 10_001 }, (_, i) => ({ type: 'del' as const, key: `k${i}` }))
      await expect(s.reports.batch(ops)).rejects.toThrow(RangeError)
    })
  })

  describe('durability option', () => {
    // A process kill cannot tell a fsynced write from a cached one (the OS
    // keeps both), so check that `sync` really reaches classic-level.
    type Writes = Record<'_put' | '_del' | '_batch', (...args: unknown[]) => Promise<void>>
    const writes = Level.prototype as unknown as Writes

    it('fsyncs every write by default', async () => {
      const put = vi.spyOn(writes, '_put')
      const del = vi.spyOn(writes, '_del')
      const batch = vi.spyOn(writes, '_batch')
      const s = await freshStore()
      await s.releases.put('rel-000001', releaseFor(1))
      await s.releases.delete('rel-000001')
      await s.releases.batch([{ type: 'put', key: 'rel-000002', value: releaseFor(2) }])
      expect(put).toHaveBeenCalledWith(expect.anything(), expect.anything(), expect.objectContaining({ sync: true }))
      expect(del).toHaveBeenCalledWith(expect.anything(), expect.objectContaining({ sync: true }))
      expect(batch).toHaveBeenCalledWith(expect.anything(), expect.objectContaining({ sync: true }))
    })

    it('can be turned off for simulations', async () => {
      const put = vi.spyOn(writes, '_put')
      store = await openStore({ dir: await makeTempDir(), sync: false })
      await store.releases.put('rel-000001', releaseFor(1))
      expect(put).toHaveBeenCalledWith(expect.anything(), expect.anything(), expect.objectContaining({ sync: false }))
    })
  })
})
