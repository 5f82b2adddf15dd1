import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { BUILT_IN_MIGRATIONS, CURRENT_SCHEMA_VERSION, RecordInvalidError, StoreSchemaError, membershipKey, openStore, outcomeKey } from '../../../src/store/index.ts'
import type { Migration, OutcomeRecord, Store } from '../../../src/store/index.ts'
import { planMigrations } from '../../../src/store/migrations.ts'
import { cleanUp, makeTempDir, spawnFixture } from './harness.ts'
import { membershipFor, outcomeFor, releaseFor } from './fixtures/records.ts'

const stores: Store[] = []

afterEach(async () => {
  await Promise.all(stores.map(async (s) => { await s.close() }))
  stores.length = 0
  await cleanUp()
})

async function track (opening: Promise<Store>): Promise<Store> {
  const s = await opening
  stores.push(s)
  return s
}

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

/** Outcome times as written at (fictional) version 1: seconds since the epoch. */
const SECONDS = 1_700_000_000
const v1Outcome = (i: number): OutcomeRecord => ({ ...outcomeFor(i), receivedAt: SECONDS + i })

/** A closed version-1 store with 4 outcomes and 4 memberships (two of them stale). */
async function versionOneStore (): Promise<string> {
  const dir = await makeTempDir()
  const s = await openStore({ dir })
  for (let i = 0; i < 4; i++) {
    await s.outcomes.put(outcomeKey(v1Outcome(i)), v1Outcome(i))
    const m = { ...membershipFor(i), seenAt: i < 2 ? 0 : 1_700_000_000_000 }
    await s.memberships.put(membershipKey(m), m)
  }
  await s.close()
  return dir
}

/**
 * Test step 1 -> 2: outcome times move from seconds to milliseconds (a
 * value rewrite), and memberships never seen (seenAt 0) are dropped (deletes).
 */
function secondsToMillis (calls: { count: number }): Migration {
  return {
    from: 1,
    to: 2,
    description: 'outcome receivedAt in ms; drop never-seen memberships',
    async migrate (context) {
      calls.count++
      expect(context.from).toBe(1)
      expect(context.to).toBe(2)
      for await (const [key, value] of context.entries('outcomes')) {
        const outcome = value as OutcomeRecord
        context.put('outcomes', key, { ...outcome, receivedAt: outcome.receivedAt * 1000 })
      }
      for await (const [key, value] of context.entries('memberships')) {
        if ((value as { seenAt: number }).seenAt === 0) {
          context.del('memberships', key)
        }
      }
    }
  }
}

async function outcomeTimes (s: Store): Promise<number[]> {
  const times: number[] = []
  for await (const [, o] of s.outcomes.entries()) {
    times.push(o.receivedAt)
  }
  // Keys order outcomes by cluster, not by i.
  return times.sort((a, b) => a - b)
}

async function membershipCount (s: Store): Promise<number> {
  let n = 0
  for await (const _ of s.memberships.entries()) n++
  return n
}

describe('schema migrations', () => {
  it('ships no built-in migration while the schema is at version 1', () => {
    expect(CURRENT_SCHEMA_VERSION).toBe(1)
    expect(BUILT_IN_MIGRATIONS).toEqual([])
  })

  it('runs a registered v1 -> v2 migration once, transforming the records', async () => {
    const dir = await versionOneStore()
    const calls = { count: 0 }
    const init = { dir, migrations: [secondsToMillis(calls)], targetSchemaVersion: 2 }

    const s = await openStore(init)
    expect(s.schemaVersion).toBe(2)
    expect(calls.count).toBe(1)
    expect(await outcomeTimes(s)).toEqual([0, 1, 2, 3].map((i) => (SECONDS + i) * 1000))
    expect(await membershipCount(s)).toBe(2)
    await s.close()
    expect(await rawSchemaVersion(dir)).toBe(2)

    // Reopening does not run it again (times would be multiplied twice).
    const again = await track(openStore(init))
    expect(again.schemaVersion).toBe(2)
    expect(calls.count).toBe(1)
    expect(await outcomeTimes(again)).toEqual([0, 1, 2, 3].map((i) => (SECONDS + i) * 1000))
    await again.close()

    // And this build's default (version 1) now refuses the newer data.
    await expect(openStore({ dir })).rejects.toMatchObject({ name: 'StoreSchemaError', dataVersion: 2, supportedVersion: 1 })
  })

  it('initialises an empty store at the target version without migrating', async () => {
    const calls = { count: 0 }
    const s = await track(openStore({ dir: await makeTempDir(), migrations: [secondsToMillis(calls)], targetSchemaVersion: 2 }))
    expect(s.schemaVersion).toBe(2)
    expect(calls.count).toBe(0)
  })

  it('leaves the data at the old version, unchanged, when a step throws', async () => {
    const dir = await versionOneStore()
    const failing: Migration = {
      ...secondsToMillis({ count: 0 }),
      description: 'rewrites, then fails',
      async migrate (context) {
        await secondsToMillis({ count: 0 }).migrate(context)
        throw new Error('disk full, say')
      }
    }
    const err = await openStore({ dir, migrations: [failing], targetSchemaVersion: 2 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreSchemaError)
    expect(err).toMatchObject({ name: 'StoreSchemaError', dataVersion: 1, supportedVersion: 2 })
    expect((err as Error).message).toMatch(/from schema version 1 to 2 \(rewrites, then fails\) failed, the data stays at version 1: disk full, say/)
    expect(((err as Error).cause as Error).message).toBe('disk full, say')

    expect(await rawSchemaVersion(dir)).toBe(1)
    const s = await track(openStore({ dir }))
    expect(s.schemaVersion).toBe(1)
    expect(await outcomeTimes(s)).toEqual([0, 1, 2, 3].map((i) => SECONDS + i))
    expect(await membershipCount(s)).toBe(4)
  })

  it('commits each step of a chain on its own: a failure in step two keeps step one', async () => {
    const dir = await versionOneStore()
    const calls = { count: 0 }
    const brokenStep2: Migration = { from: 2, to: 3, description: 'broken', async migrate () { throw new Error('bug in step 2') } }
    await expect(openStore({ dir, migrations: [brokenStep2, secondsToMillis(calls)], targetSchemaVersion: 3 }))
      .rejects.toMatchObject({ name: 'StoreSchemaError', dataVersion: 2 })
    expect(await rawSchemaVersion(dir)).toBe(2)
    expect(calls.count).toBe(1)

    // With step two fixed, only step two runs.
    const fixedStep2: Migration = {
      from: 2,
      to: 3,
      description: 'mark releases of app webapp',
      async migrate (context) {
        context.put('releases', 'rel-999999', { ...releaseFor(999_999) })
      }
    }
    const s = await track(openStore({ dir, migrations: [secondsToMillis(calls), fixedStep2], targetSchemaVersion: 3 }))
    expect(s.schemaVersion).toBe(3)
    expect(calls.count).toBe(1)
    expect(await s.releases.get('rel-999999')).toEqual(releaseFor(999_999))
    expect(await outcomeTimes(s)).toEqual([0, 1, 2, 3].map((i) => (SECONDS + i) * 1000))
  })

  it('refuses a chain with a missing step before changing anything', async () => {
    const dir = await versionOneStore()
    const step2: Migration = { from: 2, to: 3, description: 'two to three', async migrate () {} }
    const err = await openStore({ dir, migrations: [step2], targetSchemaVersion: 3 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'StoreSchemaError', dataVersion: 1, supportedVersion: 3 })
    expect((err as Error).message).toMatch(/no migration from version 1/)
    expect(await rawSchemaVersion(dir)).toBe(1)
  })

  it('plans chains step by step and names the gap', () => {
    const step = (from: number, to: number): Migration => ({ from, to, description: `${from}->${to}`, async migrate () {} })
    expect(planMigrations([step(2, 3), step(1, 2)], 1, 3)).toEqual([step(1, 2), step(2, 3)].map((m) => expect.objectContaining({ from: m.from, to: m.to })))
    expect(planMigrations([step(1, 3)], 1, 3)).toHaveLength(1)
    expect(planMigrations([step(1, 3)], 1, 2)).toMatch(/past the supported version 2/)
    expect(planMigrations([], 1, 2)).toMatch(/no migration from version 1/)
    expect(planMigrations([step(1, 2)], 2, 2)).toEqual([])
  })

  it('refuses a malformed migration list as a bug, on every open', async () => {
    const dir = await makeTempDir()
    const step = (from: number, to: number): Migration => ({ from, to, description: `${from}->${to}`, async migrate () {} })
    await expect(openStore({ dir, migrations: [step(1, 2), step(1, 3)] })).rejects.toThrow(/two migrations start at schema version 1/)
    await expect(openStore({ dir, migrations: [step(2, 2)] })).rejects.toThrow(TypeError)
    await expect(openStore({ dir, migrations: [step(0.5, 2)] })).rejects.toThrow(TypeError)
  })

  it('forbids a step from writing the meta sublevel', async () => {
    const dir = await versionOneStore()
    const sneaky: Migration = { from: 1, to: 2, description: 'sneaky', async migrate (context) { context.put('meta', 'schema-version', 7) } }
    const err = await openStore({ dir, migrations: [sneaky], targetSchemaVersion: 2 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'StoreSchemaError' })
    expect((err as Error).cause).toBeInstanceOf(TypeError)
    expect(await rawSchemaVersion(dir)).toBe(1)
  })

  it('fails the step, naming the record, when old data is not CBOR', async () => {
    const dir = await versionOneStore()
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    await db.open()
    await db.sublevel<string, Uint8Array>('outcomes', { valueEncoding: 'view' }).put('zzz', new Uint8Array([0xff]))
    await db.close()
    const err = await openStore({ dir, migrations: [secondsToMillis({ count: 0 })], targetSchemaVersion: 2 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'StoreSchemaError', dataVersion: 1 })
    expect((err as Error).cause).toBeInstanceOf(RecordInvalidError)
    expect((err as Error).cause).toMatchObject({ sublevel: 'outcomes', key: 'zzz' })
    expect(await rawSchemaVersion(dir)).toBe(1)
  })

  it('keeps the old version when the process is killed in the middle of a migration', async () => {
    const dir = await makeTempDir()
    const seed = await openStore({ dir })
    for (let i = 0; i < 20; i++) {
      await seed.releases.put(releaseFor(i).releaseId, releaseFor(i))
    }
    await seed.close()

    const child = spawnFixture('hang-in-migration.ts', [dir])
    await child.waitFor((lines) => lines.includes('migrating'))
    expect(await child.kill()).toEqual({ code: null, signal: 'SIGKILL' })

    const s = await track(openStore({ dir }))
    expect(s.schemaVersion).toBe(1)
    for (let i = 0; i < 20; i++) {
      expect(await s.releases.get(releaseFor(i).releaseId)).toEqual(releaseFor(i))
    }
  })
})
