/**
 * The census reporter against fake vendors reached over in-memory streams:
 * when it sends (start, change of digest), to whom (every trusted vendor
 * key), what (the fingerprint without notes, signed by the machine), and
 * how it backs off, gives up and stops.
 */
import { streamPair } from '@libp2p/utils'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { parseNodeConfig } from '../../../src/node/config.ts'
import { censusApps, createCensusReporter } from '../../../src/node/census-reporter.ts'
import type { CensusReportEvent, CensusReporter, CensusReporterInit } from '../../../src/node/census-reporter.ts'
import { openCensus, serveCensusStream } from '../../../src/overlay/index.ts'
import type { CensusAnswer, CensusDialer, OpenedCensus } from '../../../src/overlay/index.ts'
import { generateSigningKey, publicKeyToText } from '../../../src/trust/index.ts'
import type { Fingerprint } from '../../../src/env/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import { makeMachine, sampleFingerprint } from '../../helpers/census-fixtures.ts'
import type { Machine } from '../../helpers/census-fixtures.ts'
import type { PeerId } from '@libp2p/interface'

/** A vendor seed as far as the reporter sees it: reachable or not, answering as told. */
interface FakeVendor {
  keyText: string
  peerId: PeerId
  reachable: boolean
  answer: CensusAnswer
  received: OpenedCensus[]
}

async function makeVendor (): Promise<FakeVendor> {
  const key = await generateSigningKey()
  return { keyText: publicKeyToText(key.publicKey), peerId: peerIdFromPrivateKey(key), reachable: true, answer: { ok: true }, received: [] }
}

/** Streams from `machine` to whichever fake vendor is dialled. */
function dialerFor (machine: Machine, vendors: FakeVendor[]): CensusDialer {
  return {
    async dialProtocol (peer) {
      const vendor = vendors.find(v => v.peerId.equals(peer))
      if (vendor === undefined || !vendor.reachable) throw new Error(`no route to ${peer.toString()}`)
      const [outbound, inbound] = await streamPair({ delay: 0 })
      void serveCensusStream(inbound, machine.peerId, async (bytes) => {
        vendor.received.push(await openCensus(bytes))
        return vendor.answer
      }).catch(() => {})
      return outbound
    }
  }
}

const reporters: CensusReporter[] = []
afterEach(async () => {
  for (const reporter of reporters.splice(0)) await reporter.stop()
})

function startReporter (machine: Machine, vendors: FakeVendor[], init: Partial<CensusReporterInit> & { fingerprint?: () => Promise<Fingerprint> } = {}): { reporter: CensusReporter, events: CensusReportEvent[] } {
  const events: CensusReportEvent[] = []
  const reporter = createCensusReporter({ dialer: dialerFor(machine, vendors), privateKey: machine.key }, {
    apps: [{ app: 'webshop', vendorKeys: vendors.map(v => v.keyText), cluster: {} }],
    initialDelayMs: 0,
    retryMinMs: 10,
    retryMaxMs: 40,
    fingerprint: async () => ({ ...sampleFingerprint(), notes: ['/etc/php.ini: read as text (parse error at line 3)'] }),
    onEvent: event => events.push(event),
    ...init
  })
  reporters.push(reporter)
  reporter.start()
  return { reporter, events }
}

describe('census reporter', () => {
  it('sends the fingerprint, without its notes and signed by the machine, to every trusted vendor', async () => {
    const machine = await makeMachine()
    const vendors = [await makeVendor(), await makeVendor()]
    const { events } = startReporter(machine, vendors)
    await waitFor('both vendors to receive the census', () => vendors.every(v => v.received.length === 1))
    for (const vendor of vendors) {
      const [census] = vendor.received
      expect(census?.signerPeerId.equals(machine.peerId)).toBe(true)
      expect(census?.report.app).toBe('webshop')
      expect(census?.report.fingerprint).toEqual(sampleFingerprint())
    }
    await waitFor('two sent events', () => events.filter(e => e.type === 'sent').length === 2)
  })

  it('retries an unreachable vendor with growing delays, then gets through', async () => {
    const machine = await makeMachine()
    const vendor = await makeVendor()
    vendor.reachable = false
    const { events } = startReporter(machine, [vendor], { retryMinMs: 10, retryMaxMs: 1_000 })
    await waitFor('three failed attempts', () => events.filter(e => e.type === 'failed').length >= 3)
    const delays = events.flatMap(e => e.type === 'failed' ? [e.retryInMs] : [])
    // Jittered doubling: the n-th delay lies in [½, 1] × 10 × 2^(n-1) ms.
    delays.slice(0, 3).forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(5 * 2 ** i)
      expect(delay).toBeLessThanOrEqual(10 * 2 ** i)
    })
    vendor.reachable = true
    await waitFor('the census to get through', () => vendor.received.length === 1)
    await waitFor('a sent event', () => events.some(e => e.type === 'sent'))
  })

  it('gives up after maxAttempts and rests a whole interval', async () => {
    const machine = await makeMachine()
    const vendor = await makeVendor()
    vendor.answer = { ok: false, reason: 'rate-limited' }
    const { events } = startReporter(machine, [vendor], { maxAttempts: 3, intervalMs: 3_600_000 })
    await waitFor('three failed attempts', () => events.filter(e => e.type === 'failed').length === 3)
    const failed = events.filter(e => e.type === 'failed')
    expect(failed.map(e => e.type === 'failed' ? e.retryInMs : 0)[2]).toBe(3_600_000)
    expect(vendor.received).toHaveLength(3)
  })

  it('does not repeat a census the vendor refused for good', async () => {
    const machine = await makeMachine()
    const vendor = await makeVendor()
    vendor.answer = { ok: false, reason: 'unknown-app' }
    let checks = 0
    const { events } = startReporter(machine, [vendor], { checkIntervalMs: 10, fingerprint: async () => { checks++; return sampleFingerprint() } })
    await waitFor('a refused event', () => events.find(e => e.type === 'refused'))
    expect(events.find(e => e.type === 'refused')).toMatchObject({ reason: 'unknown-app' })
    // Many fingerprint checks later (the digest did not change), still that one census.
    await waitFor('several more checks', () => checks >= 6)
    expect(vendor.received).toHaveLength(1)
    expect(events.filter(e => e.type === 'failed')).toHaveLength(0)
  })

  it('sends again when the fingerprint digest changes', async () => {
    const machine = await makeMachine()
    const vendor = await makeVendor()
    let variant = 'a'
    startReporter(machine, [vendor], { checkIntervalMs: 10, fingerprint: async () => sampleFingerprint('webshop', variant) })
    await waitFor('the first census', () => vendor.received.length === 1)
    variant = 'b'
    await waitFor('a second census after the change', () => vendor.received.length === 2)
    expect(vendor.received[1]?.report.fingerprint).toEqual(sampleFingerprint('webshop', 'b'))
  })

  it('reports a fingerprint that cannot be read, and tries again at the next check', async () => {
    const machine = await makeMachine()
    const vendor = await makeVendor()
    let calls = 0
    const { events } = startReporter(machine, [vendor], {
      checkIntervalMs: 10,
      fingerprint: async () => {
        calls++
        if (calls === 1) throw new Error('spec file vanished')
        return sampleFingerprint()
      }
    })
    await waitFor('the census after the failed read', () => vendor.received.length === 1)
    expect(events[0]).toMatchObject({ type: 'fingerprint-failed', error: 'spec file vanished' })
  })

  it('start is idempotent and stop ends every loop, even during the initial delay', async () => {
    const machine = await makeMachine()
    const vendor = await makeVendor()
    const { reporter } = startReporter(machine, [vendor], { initialDelayMs: 3_600_000 })
    reporter.start()
    await reporter.stop()
    await reporter.stop()
    expect(vendor.received).toHaveLength(0)
  })
})

describe('census opt-in in the node config', () => {
  it('is off unless the app says census: true', async () => {
    const vendorKey = publicKeyToText((await generateSigningKey()).publicKey)
    const config = parseNodeConfig(JSON.stringify({
      dataDir: 'data',
      apps: {
        webshop: { vendorKeys: [vendorKey], installDir: 'install', census: true },
        blog: { vendorKeys: [vendorKey], installDir: 'install-blog' }
      }
    }), '/etc/mirage/node.json')
    expect(censusApps(config)).toEqual([{ app: 'webshop', vendorKeys: [vendorKey], cluster: {} }])
    expect(() => parseNodeConfig(JSON.stringify({ dataDir: 'd', apps: { webshop: { vendorKeys: [vendorKey], installDir: 'i', census: 'yes' } } }), 'node.json'))
      .toThrow(expect.objectContaining({ name: 'ConfigError', path: 'apps.webshop.census' }))
  })
})
