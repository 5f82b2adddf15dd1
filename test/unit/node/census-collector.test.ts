/**
 * The census collector with a real store (LevelDB in a temp dir) and a fake
 * registrar: what it accepts, what it refuses and why, latest-per-machine,
 * its bounds (rate, entries, concurrency) and its lifecycle.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { streamPair } from '@libp2p/utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createCensusCollector } from '../../../src/node/census-collector.ts'
import type { CensusCollector, CensusCollectorInit, CensusCollectorRegistrar } from '../../../src/node/census-collector.ts'
import { CENSUS_PROTOCOL, sendCensus } from '../../../src/overlay/index.ts'
import { censusKey, openStore } from '../../../src/store/index.ts'
import type { Store } from '../../../src/store/index.ts'
import { SIGNATURE_DOMAINS, encodeCanonical, sealEnvelope } from '../../../src/trust/index.ts'
import { censusEnvelope, makeMachine, sampleFingerprint } from '../../helpers/census-fixtures.ts'
import type { Machine } from '../../helpers/census-fixtures.ts'
import type { PeerId, StreamHandler } from '@libp2p/interface'

class FakeRegistrar implements CensusCollectorRegistrar {
  handler: StreamHandler | undefined
  handles = 0
  unhandles = 0

  async handle (protocol: string, handler: StreamHandler): Promise<void> {
    expect(protocol).toBe(CENSUS_PROTOCOL)
    this.handles++
    this.handler = handler
  }

  async unhandle (): Promise<void> {
    this.unhandles++
    this.handler = undefined
  }
}

let dir: string
let store: Store
let registrar: FakeRegistrar
let clock: number
const collectors: CensusCollector[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirage-census-'))
  store = await openStore({ dir: join(dir, 'store') })
  registrar = new FakeRegistrar()
  clock = 1_790_000_000_000
})

afterEach(async () => {
  for (const collector of collectors.splice(0)) await collector.stop()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

async function startCollector (init: Partial<CensusCollectorInit> = {}): Promise<CensusCollector> {
  const collector = createCensusCollector({ registrar, store }, { serves: app => app === 'webshop', now: () => clock, ...init })
  collectors.push(collector)
  await collector.start()
  return collector
}

/** Moves the fake clock past the per-peer rate limit. */
function later (ms = 60_000): void {
  clock += ms
}

async function entries (collector: CensusCollector, app = 'webshop'): Promise<Array<{ peerId: string, variant: string | undefined }>> {
  const out = []
  for await (const entry of collector.census(app)) {
    out.push({ peerId: entry.peerId, variant: entry.fingerprint.facts.find(f => f.item === 'PHP.memory_limit')?.value })
  }
  return out
}

describe('census collector', () => {
  let a: Machine
  let b: Machine

  beforeEach(async () => {
    a = await makeMachine()
    b = await makeMachine()
  })

  it('stores a census signed by the stream\'s own peer and lists it', async () => {
    const collector = await startCollector()
    expect(await collector.take(await censusEnvelope(a.key, sampleFingerprint(), clock), a.peerId)).toEqual({ ok: true })
    const listed = []
    for await (const entry of collector.census('webshop')) listed.push(entry)
    expect(listed).toEqual([{ peerId: a.peerId.toString(), receivedAt: clock, fingerprint: sampleFingerprint() }])
    expect(collector.stats()).toMatchObject({ accepted: 1, refused: {} })
  })

  it('refuses a census signed by another machine than the stream\'s peer, and stores nothing', async () => {
    const collector = await startCollector()
    // b's signature, sent over a's stream: a filing (or replacing) b's census.
    expect(await collector.take(await censusEnvelope(b.key, sampleFingerprint(), clock), a.peerId)).toEqual({ ok: false, reason: 'wrong-signer' })
    expect(await store.census.get(censusKey({ app: 'webshop', peerId: a.peerId.toString() }))).toBeUndefined()
    expect(await store.census.get(censusKey({ app: 'webshop', peerId: b.peerId.toString() }))).toBeUndefined()
    expect(await entries(collector)).toEqual([])
  })

  it('refuses malformed, badly signed, wrong-domain, unknown-app and future censuses', async () => {
    const collector = await startCollector()
    const cases: Array<[string, () => Promise<Uint8Array>, string]> = [
      ['not CBOR', async () => new Uint8Array([0xff]), 'malformed'],
      ['signed as an outcome', async () => sealEnvelope(SIGNATURE_DOMAINS.outcome, encodeCanonical({ v: 1 }), a.key), 'malformed'],
      ['not a census', async () => sealEnvelope(SIGNATURE_DOMAINS.census, encodeCanonical({ v: 1 }), a.key), 'malformed'],
      ['bad signature', async () => {
        const bytes = await censusEnvelope(a.key, sampleFingerprint(), clock)
        bytes[bytes.byteLength - 1] = (bytes[bytes.byteLength - 1] ?? 0) ^ 1
        return bytes
      }, 'bad-signature'],
      ['an app this seed does not serve', async () => censusEnvelope(a.key, sampleFingerprint('other'), clock), 'unknown-app'],
      ['an hour ahead of the seed\'s clock', async () => censusEnvelope(a.key, sampleFingerprint(), clock + 3_600_000), 'future']
    ]
    for (const [what, make, reason] of cases) {
      later()
      expect(await collector.take(await make(), a.peerId), what).toEqual({ ok: false, reason })
    }
    expect(await entries(collector)).toEqual([])
    expect(collector.stats().refused).toEqual({ malformed: 3, 'bad-signature': 1, 'unknown-app': 1, future: 1 })
  })

  it('keeps the latest census per machine: an older or equal one is stale', async () => {
    const collector = await startCollector()
    const t0 = clock
    expect(await collector.take(await censusEnvelope(a.key, sampleFingerprint('webshop', 'new'), t0 - 1000), a.peerId)).toEqual({ ok: true })
    later()
    expect(await collector.take(await censusEnvelope(a.key, sampleFingerprint('webshop', 'old'), t0 - 5000), a.peerId)).toEqual({ ok: false, reason: 'stale' })
    later()
    expect(await collector.take(await censusEnvelope(a.key, sampleFingerprint('webshop', 'same-time'), t0 - 1000), a.peerId)).toEqual({ ok: false, reason: 'stale' })
    expect((await entries(collector)).map(e => e.variant)).toEqual([sampleFingerprint('webshop', 'new').facts[2]?.value])
    later()
    expect(await collector.take(await censusEnvelope(a.key, sampleFingerprint('webshop', 'newer'), clock), a.peerId)).toEqual({ ok: true })
    expect((await entries(collector)).map(e => e.variant)).toEqual([sampleFingerprint('webshop', 'newer').facts[2]?.value])
  })

  it('rate-limits each peer, counting refused attempts too', async () => {
    const collector = await startCollector({ minIntervalPerPeerMs: 10_000 })
    expect(await collector.take(new Uint8Array([0xff]), a.peerId)).toEqual({ ok: false, reason: 'malformed' })
    clock += 9_999
    expect(await collector.take(await censusEnvelope(a.key, sampleFingerprint(), clock), a.peerId)).toEqual({ ok: false, reason: 'rate-limited' })
    // Another peer is not affected.
    expect(await collector.take(await censusEnvelope(b.key, sampleFingerprint(), clock), b.peerId)).toEqual({ ok: true })
    clock += 10_000
    expect(await collector.take(await censusEnvelope(a.key, sampleFingerprint(), clock), a.peerId)).toEqual({ ok: true })
  })

  it('holds at most maxEntriesPerApp machines, counted from the store after a restart, and still takes updates', async () => {
    const first = await startCollector({ maxEntriesPerApp: 2 })
    expect(await first.take(await censusEnvelope(a.key, sampleFingerprint(), clock), a.peerId)).toEqual({ ok: true })
    await first.stop()
    // A new collector on the same store counts what is there.
    const collector = await startCollector({ maxEntriesPerApp: 2 })
    expect(await collector.take(await censusEnvelope(b.key, sampleFingerprint(), clock), b.peerId)).toEqual({ ok: true })
    const c = await makeMachine()
    expect(await collector.take(await censusEnvelope(c.key, sampleFingerprint(), clock), c.peerId)).toEqual({ ok: false, reason: 'full' })
    later()
    expect(await collector.take(await censusEnvelope(a.key, sampleFingerprint('webshop', 'b'), clock), a.peerId)).toEqual({ ok: true })
    expect((await entries(collector)).map(e => e.peerId).sort()).toEqual([a.peerId.toString(), b.peerId.toString()].sort())
  })

  it('answers over a stream, and resets streams beyond its concurrency', async () => {
    const collector = await startCollector()
    const dialer = (from: PeerId) => ({
      async dialProtocol () {
        const [outbound, inbound] = await streamPair({ delay: 0 })
        void Promise.resolve(registrar.handler?.(inbound, { remotePeer: from } as never))
        return outbound
      }
    })
    expect(await sendCensus(dialer(a.peerId), a.peerId, await censusEnvelope(a.key, sampleFingerprint(), clock))).toEqual({ ok: true })
    await collector.stop()
    const busy = await startCollector({ maxConcurrent: 0 })
    await expect(sendCensus(dialer(b.peerId), b.peerId, await censusEnvelope(b.key, sampleFingerprint(), clock))).rejects.toThrow()
    expect(busy.stats().busy).toBe(1)
    expect(await store.census.get(censusKey({ app: 'webshop', peerId: b.peerId.toString() }))).toBeUndefined()
  })

  it('start and stop are idempotent', async () => {
    const collector = await startCollector()
    await collector.start()
    expect(registrar.handles).toBe(1)
    await collector.stop()
    await collector.stop()
    expect(registrar.unhandles).toBe(1)
    await collector.start()
    expect(registrar.handles).toBe(2)
  })
})
