/**
 * The census protocol's decoders (payload, envelope, answer) against valid,
 * malformed, oversized, non-canonical, wrong-domain and wrongly signed
 * input, and one exchange over an in-memory stream pair.
 */
import { lpStream, streamPair } from '@libp2p/utils'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CENSUS_PROTOCOL, MAX_CENSUS_ANSWER_BYTES, MAX_CENSUS_FRAME_BYTES, MAX_CENSUS_PAYLOAD_BYTES, decodeCensusAnswer, decodeCensusReport,
  encodeCensusAnswer, encodeCensusReport, openCensus, sealCensus, sendCensus, serveCensusStream
} from '../../../src/overlay/index.ts'
import type { CensusDialer, CensusReport } from '../../../src/overlay/index.ts'
import { SIGNATURE_DOMAINS, bytesEqual, encodeCanonical, sealEnvelope } from '../../../src/trust/index.ts'
import type { Fingerprint } from '../../../src/env/index.ts'
import { censusEnvelope, makeMachine, sampleFingerprint, valueHash } from '../../helpers/census-fixtures.ts'
import type { Stream } from '@libp2p/interface'
import { byteMutation, mutateBytes } from '../../helpers/byte-mutation.ts'

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)
const report: CensusReport = { v: 1, app: 'webshop', at: 1_790_000_000_000, fingerprint: sampleFingerprint() }

/** The name and reason of what `fn` throws (or 'none'). */
async function failure (fn: () => unknown): Promise<string> {
  try {
    await fn()
    return 'none'
  } catch (err) {
    return `${(err as Error).name}:${(err as { reason?: string }).reason ?? ''}`
  }
}

describe('census payload', () => {
  it('round-trips, weights as floats and integers included', () => {
    expect(decodeCensusReport(encodeCensusReport(report))).toEqual(report)
    const weights = [0, 0.5, 0.1 + 0.2, 1e-7, 999.999, 1000, 3]
    for (const weight of weights) {
      const fingerprint = sampleFingerprint()
      fingerprint.resources['php.ini'] = { kind: 'ini', relevant: true, weight }
      const decoded = decodeCensusReport(encodeCensusReport({ ...report, fingerprint }))
      expect(Object.is(decoded.fingerprint.resources['php.ini']?.weight, weight)).toBe(true)
    }
  })

  it('normalises a -0 weight, so the encoding is its own round trip', () => {
    const fingerprint = sampleFingerprint()
    fingerprint.resources['php.ini'] = { kind: 'ini', relevant: true, weight: -0 }
    const bytes = encodeCensusReport({ ...report, fingerprint })
    expect(Object.is(decodeCensusReport(bytes).fingerprint.resources['php.ini']?.weight, 0)).toBe(true)
    expect(bytesEqual(encodeCensusReport(decodeCensusReport(bytes)), bytes)).toBe(true)
  })

  it('refuses to encode what a collector would refuse (a fingerprint with a field it does not know)', () => {
    const fingerprint = Object.assign(sampleFingerprint(), { secret: 'not for the vendor' })
    expect(() => encodeCensusReport({ ...report, fingerprint })).toThrow(expect.objectContaining({ name: 'CensusProtocolError', reason: 'invalid' }))
  })

  it('refuses malformed, oversized, non-canonical and invalid payloads with a named error', async () => {
    const fingerprint = sampleFingerprint()
    const cases: Array<[string, Uint8Array, string]> = [
      ['empty', new Uint8Array(0), 'CensusProtocolError:malformed'],
      ['not CBOR', new Uint8Array([0xff]), 'CensusProtocolError:malformed'],
      ['truncated', encodeCanonical(report).subarray(0, 20), 'CensusProtocolError:malformed'],
      ['oversized', new Uint8Array(MAX_CENSUS_PAYLOAD_BYTES + 1), 'CensusProtocolError:oversized'],
      // `{ v: 1.0 }` as a float64: decodes to the integer 1, which re-encodes as `01`.
      ['non-canonical', Uint8Array.from([0xa1, 0x61, 0x76, 0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]), 'CensusProtocolError:non-canonical'],
      ['not a map', encodeCanonical([report]), 'CensusProtocolError:invalid'],
      ['version 2', encodeCanonical({ ...report, v: 2 }), 'CensusProtocolError:invalid'],
      ['extra field', encodeCanonical({ ...report, extra: 1 }), 'CensusProtocolError:invalid'],
      ['missing at', encodeCanonical({ v: 1, app: 'webshop', fingerprint }), 'CensusProtocolError:invalid'],
      ['bad app', encodeCanonical({ ...report, app: '../etc' }), 'CensusProtocolError:invalid'],
      ['negative at', encodeCanonical({ ...report, at: -1 }), 'CensusProtocolError:invalid'],
      ['fractional at', encodeCanonical({ ...report, at: 1.5 }), 'CensusProtocolError:invalid'],
      ['fingerprint of another app', encodeCanonical({ ...report, fingerprint: sampleFingerprint('other') }), 'CensusProtocolError:invalid'],
      ['unsorted facts', encodeCanonical({ ...report, fingerprint: { ...fingerprint, facts: [...fingerprint.facts].reverse() } }), 'CensusProtocolError:invalid'],
      ['a fact of an unlisted resource', encodeCanonical({ ...report, fingerprint: { ...fingerprint, facts: [...fingerprint.facts, { resource: 'zzz', item: '', value: valueHash('z') }] } }), 'CensusProtocolError:invalid'],
      ['a value that is not a hash', encodeCanonical({ ...report, fingerprint: { ...fingerprint, facts: [{ resource: 'libmysql', item: '', value: 'plain text value' }] } }), 'CensusProtocolError:invalid'],
      ['weight out of range', encodeCanonical({ ...report, fingerprint: { ...fingerprint, resources: { ...fingerprint.resources, libmysql: { kind: 'binary', relevant: true, weight: 1001 } } } }), 'CensusProtocolError:invalid'],
      ['fingerprint format 2', encodeCanonical({ ...report, fingerprint: { ...fingerprint, format: 2 } }), 'CensusProtocolError:invalid']
    ]
    for (const [what, bytes, expected] of cases) expect(await failure(() => decodeCensusReport(bytes)), what).toBe(expected)
  })

  it('refuses a resource named __proto__ (no spec allows it; assigned as a key it would replace a prototype)', async () => {
    // Canonical CBOR: DAG-CBOR keeps `__proto__` as an own key, so only the schema can refuse it.
    const resources = new Map([['__proto__', { kind: 'env', relevant: true, weight: 1 }]])
    const fingerprint = new Map<string, unknown>([['app', 'webshop'], ['facts', []], ['notes', []], ['format', 1], ['resources', resources]])
    const bytes = dagCbor.encode(new Map<string, unknown>([['v', 1], ['at', 5], ['app', 'webshop'], ['fingerprint', fingerprint]]))
    expect(await failure(() => decodeCensusReport(bytes))).toBe('CensusProtocolError:invalid')
  })

  it('refuses to encode a fingerprint too large for a census', () => {
    const facts: Fingerprint['facts'] = []
    for (let i = 0; i < 30_000; i++) facts.push({ resource: 'packages', item: `package-${String(i).padStart(6, '0')}-with-a-long-name`, value: valueHash(String(i)) })
    const fingerprint: Fingerprint = { format: 1, app: 'webshop', resources: { packages: { kind: 'packages', relevant: true, weight: 1 } }, facts, notes: [] }
    expect(() => encodeCensusReport({ ...report, fingerprint })).toThrow(expect.objectContaining({ name: 'CensusProtocolError', reason: 'oversized' }))
  })
})

describe('census envelope', () => {
  it('opens what it sealed, naming the signer', async () => {
    const machine = await makeMachine()
    const bytes = await sealCensus(report, machine.key)
    const opened = await openCensus(bytes)
    expect(opened.report).toEqual(report)
    expect(opened.signerPeerId.equals(machine.peerId)).toBe(true)
    expect(opened.bytes).toBe(bytes)
  })

  it('refuses oversized, malformed, wrong-domain and wrongly signed envelopes', async () => {
    const machine = await makeMachine()
    const payload = encodeCensusReport(report)
    const good = await sealCensus(report, machine.key)
    const fields = dagCbor.decode<{ d: string, k: Uint8Array, p: Uint8Array, s: Uint8Array }>(good)
    const otherPayload = encodeCensusReport({ ...report, at: report.at + 1 })
    const cases: Array<[string, Uint8Array, string]> = [
      ['oversized', new Uint8Array(MAX_CENSUS_FRAME_BYTES + 1), 'CensusProtocolError:oversized'],
      ['not CBOR', new Uint8Array([0x00, 0xff]), 'CensusProtocolError:malformed'],
      ['not an envelope', encodeCanonical({ hello: 'world' }), 'CensusProtocolError:malformed'],
      ['signed as an outcome', await sealEnvelope(SIGNATURE_DOMAINS.outcome, payload, machine.key), 'CensusProtocolError:wrong-domain'],
      ['domain field swapped', dagCbor.encode({ ...fields, d: 'outcome' }), 'CensusProtocolError:wrong-domain'],
      ['payload swapped under the signature', dagCbor.encode({ ...fields, p: otherPayload }), 'CensusProtocolError:bad-signature'],
      ['signature cut', dagCbor.encode({ ...fields, s: fields.s.subarray(0, 63) }), 'CensusProtocolError:malformed'],
      ['signed payload that is not a census', await sealEnvelope(SIGNATURE_DOMAINS.census, encodeCanonical({ v: 1 }), machine.key), 'CensusProtocolError:invalid']
    ]
    for (const [what, bytes, expected] of cases) expect(await failure(async () => openCensus(bytes)), what).toBe(expected)
  })

  it('hundreds of mutations: a named error or the same census, never a crash', async () => {
    const machine = await makeMachine()
    const valid = await censusEnvelope(machine.key, sampleFingerprint(), report.at)
    await fc.assert(fc.asyncProperty(byteMutation, async (m) => {
      const bytes = mutateBytes(valid, m)
      try {
        const opened = await openCensus(bytes)
        // Accepted only as the exact bytes the machine signed.
        expect(bytesEqual(bytes, valid)).toBe(true)
        expect(opened.report.at).toBe(report.at)
      } catch (err) {
        expect((err as Error).name, (err as Error).message).toBe('CensusProtocolError')
      }
    }), { numRuns: 400 })
  })
})

describe('census answer', () => {
  it('round-trips both answers', () => {
    expect(decodeCensusAnswer(encodeCensusAnswer({ ok: true }))).toEqual({ ok: true })
    expect(decodeCensusAnswer(encodeCensusAnswer({ ok: false, reason: 'wrong-signer' }))).toEqual({ ok: false, reason: 'wrong-signer' })
  })

  it('refuses malformed, oversized and unknown answers', async () => {
    const cases: Array<[string, Uint8Array, string]> = [
      ['empty', new Uint8Array(0), 'CensusProtocolError:malformed'],
      ['oversized', new Uint8Array(MAX_CENSUS_ANSWER_BYTES + 1), 'CensusProtocolError:oversized'],
      // `{ reason, ok }`: keys out of canonical order.
      ['non-canonical', Uint8Array.from([0xa2, 0x66, ...ascii('reason'), 0x65, ...ascii('stale'), 0x62, ...ascii('ok'), 0xf4]), 'CensusProtocolError:non-canonical'],
      ['indefinite length', Uint8Array.from([0xbf, 0x62, ...ascii('ok'), 0xf5, 0xff]), 'CensusProtocolError:malformed'],
      ['unknown reason', encodeCanonical({ ok: false, reason: 'because' }), 'CensusProtocolError:invalid'],
      ['ok with a reason', encodeCanonical({ ok: true, reason: 'stale' }), 'CensusProtocolError:invalid'],
      ['refusal without a reason', encodeCanonical({ ok: false }), 'CensusProtocolError:invalid'],
      ['ok as text', encodeCanonical({ ok: 'yes' }), 'CensusProtocolError:invalid']
    ]
    for (const [what, bytes, expected] of cases) expect(await failure(() => decodeCensusAnswer(bytes)), what).toBe(expected)
  })
})

describe('census exchange over a stream', () => {
  /** A dialer whose streams go to `serve` (the collector's side), seen as coming from `from`. */
  function dialerTo (serve: (stream: Stream) => Promise<unknown>): CensusDialer & { served: Array<Promise<unknown>> } {
    const served: Array<Promise<unknown>> = []
    return {
      served,
      async dialProtocol (_peer, protocol) {
        expect(protocol).toBe(CENSUS_PROTOCOL)
        const [outbound, inbound] = await streamPair({ delay: 0 })
        served.push(serve(inbound).catch((err: unknown) => err))
        return outbound
      }
    }
  }

  it('sends one frame and gets the answer of the intake', async () => {
    const machine = await makeMachine()
    const envelope = await censusEnvelope(machine.key)
    const seen: Uint8Array[] = []
    const dialer = dialerTo(async stream => serveCensusStream(stream, machine.peerId, async (bytes) => {
      seen.push(bytes)
      return { ok: false, reason: 'stale' }
    }))
    expect(await sendCensus(dialer, machine.peerId, envelope)).toEqual({ ok: false, reason: 'stale' })
    expect(await dialer.served[0]).toEqual({ ok: false, reason: 'stale' })
    expect(bytesEqual(seen[0] ?? new Uint8Array(0), envelope)).toBe(true)
  })

  it('the server refuses a frame announced over the limit before reading it', async () => {
    const machine = await makeMachine()
    const [client, server] = await streamPair({ delay: 0 })
    const served = serveCensusStream(server, machine.peerId, async () => ({ ok: true })).catch((err: unknown) => err)
    // Only the length prefix of an oversized frame: the server must not wait for the body.
    const varint = [0x81, 0x80, 0x80, 0x01] // 2^21 + 1
    expect(MAX_CENSUS_FRAME_BYTES).toBe(2 ** 21)
    client.send(Uint8Array.from(varint))
    expect(await served).toMatchObject({ name: 'CensusProtocolError', reason: 'oversized' })
  })

  it('the server gives up on a silent client after its timeout', async () => {
    const machine = await makeMachine()
    const [, server] = await streamPair({ delay: 0 })
    const error = await serveCensusStream(server, machine.peerId, async () => ({ ok: true }), { timeoutMs: 50 }).catch((err: unknown) => err)
    expect((error as Error).name).toMatch(/Abort|Timeout/)
  })

  it('the client refuses a malformed or oversized answer', async () => {
    const machine = await makeMachine()
    const envelope = await censusEnvelope(machine.key)
    for (const [answer, reason] of [[encodeCanonical({ ok: 'maybe' }), 'invalid'], [new Uint8Array(MAX_CENSUS_ANSWER_BYTES + 1), 'oversized']] as const) {
      const dialer = dialerTo(async stream => {
        const lp = lpStream(stream)
        await lp.read()
        await lp.write(answer)
        await stream.close()
      })
      await expect(sendCensus(dialer, machine.peerId, envelope)).rejects.toMatchObject({ name: 'CensusProtocolError', reason })
      await Promise.all(dialer.served)
    }
  })

  it('the client refuses to send an oversized envelope', async () => {
    const machine = await makeMachine()
    const dialer = dialerTo(async () => {})
    await expect(sendCensus(dialer, machine.peerId, new Uint8Array(MAX_CENSUS_FRAME_BYTES + 1))).rejects.toMatchObject({ name: 'CensusProtocolError', reason: 'oversized' })
    expect(dialer.served).toHaveLength(0)
  })
})
