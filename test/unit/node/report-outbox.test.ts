/**
 * The report outbox against a real LevelDB store: what it keeps, what it
 * refuses, and that a vendor-bound report lands in the vendor's inbox once.
 * Delivery over libp2p is covered by test/integration/rollout/fix-loop.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_CUSTODY_BYTES, MAX_CUSTODY_REPORTS, ReportOutbox, reportIdOf } from '../../../src/node/report-outbox.ts'
import { generateReportKeyPair, sealReport } from '../../../src/report/index.ts'
import { openStore } from '../../../src/store/index.ts'
import type { Store } from '../../../src/store/index.ts'
import { makeMachine, sampleReport } from '../report/report-fixtures.ts'
import type { Machine } from '../report/report-fixtures.ts'

let dir: string | undefined
let store: Store | undefined
afterEach(async () => {
  await store?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  store = undefined
  dir = undefined
})

async function outboxWith (self: Machine, acceptOwn?: (sealed: Uint8Array) => Promise<void>): Promise<ReportOutbox> {
  dir = await mkdtemp(join(tmpdir(), 'mirage-outbox-'))
  store = await openStore({ dir })
  return new ReportOutbox({
    store,
    machineKey: self.key,
    self: self.peerId,
    dialer: { dialProtocol: async () => { throw new Error('no network in this test') } },
    connectedPeers: () => [],
    reachable: async () => false,
    ...(acceptOwn === undefined ? {} : { acceptOwn })
  })
}

describe('report outbox', () => {
  it('files its own report sealed (only the vendor key opens it) and keeps it until the vendor acknowledges', async () => {
    const me = await makeMachine()
    const vendor = await makeMachine()
    const keys = generateReportKeyPair()
    const outbox = await outboxWith(me)
    const id = await outbox.file({ report: sampleReport(me.peerId.toString()), vendorReportKey: keys.publicKey, to: [vendor.peerId.toString()] })
    const record = await store?.reports.get(id)
    expect(record).toMatchObject({ origin: 'own', to: [vendor.peerId.toString()], attempts: 0 })
    expect(record?.deliveredAt).toBeUndefined()
    expect(reportIdOf(record?.sealed ?? new Uint8Array())).toBe(id)
    expect(await outbox.pending()).toEqual({ own: 1, custody: 0, delivered: 0 })
  })

  it('holds reports for others up to its limit, refuses beyond it, and takes a duplicate without storing it twice', async () => {
    const me = await makeMachine()
    const author = await makeMachine()
    const vendor = await makeMachine()
    const keys = generateReportKeyPair()
    const outbox = await outboxWith(me)
    const to = vendor.peerId.toString()
    const sealed: Uint8Array[] = []
    for (let i = 0; i <= MAX_CUSTODY_REPORTS; i++) {
      sealed.push(await sealReport(sampleReport(author.peerId.toString(), { at: 1_790_000_000_000 + i }), author.key, keys.publicKey))
    }
    expect(sealed.reduce((sum, s) => sum + s.byteLength, 0), 'the count limit is the one reached').toBeLessThan(MAX_CUSTODY_BYTES)
    for (const report of sealed.slice(0, MAX_CUSTODY_REPORTS)) {
      expect(await outbox.receive({ to, report }, author.peerId)).toEqual({ ok: true, held: 'custody' })
    }
    expect(await outbox.receive({ to, report: sealed[0] ?? new Uint8Array() }, author.peerId), 'a copy it already holds').toEqual({ ok: true, held: 'custody' })
    expect(await outbox.receive({ to, report: sealed[MAX_CUSTODY_REPORTS] ?? new Uint8Array() }, author.peerId)).toEqual({ ok: false, reason: 'full' })
    expect(await outbox.pending()).toEqual({ own: 0, custody: MAX_CUSTODY_REPORTS, delivered: 0 })
  })

  it('refuses what is not a sealed report, and a report for itself unless it is a vendor with an inbox', async () => {
    const me = await makeMachine()
    const author = await makeMachine()
    const keys = generateReportKeyPair()
    const sealed = await sealReport(sampleReport(author.peerId.toString()), author.key, keys.publicKey)
    const machine = await outboxWith(me)
    expect(await machine.receive({ to: me.peerId.toString(), report: Uint8Array.of(1, 2, 3) }, author.peerId)).toEqual({ ok: false, reason: 'malformed' })
    expect(await machine.receive({ to: me.peerId.toString(), report: sealed }, author.peerId)).toEqual({ ok: false, reason: 'unavailable' })
    await store?.close()
    store = undefined

    const inbox: Uint8Array[] = []
    const vendorSide = await outboxWith(me, async (bytes) => { inbox.push(bytes) })
    expect(await vendorSide.receive({ to: me.peerId.toString(), report: sealed }, author.peerId)).toEqual({ ok: true, held: 'vendor' })
    expect(inbox).toEqual([sealed])
    expect(await vendorSide.pending(), 'the vendor keeps nothing in custody for itself').toEqual({ own: 0, custody: 0, delivered: 0 })
  })
})
