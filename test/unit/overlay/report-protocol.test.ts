import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_SEALED_REPORT_BYTES } from '../../../src/report/index.ts'
import {
  MAX_REPORT_ANSWER_BYTES, MAX_REPORT_FRAME_BYTES, ReportProtocolError,
  decodeReportAnswer, decodeReportDelivery, encodeReportAnswer, encodeReportDelivery
} from '../../../src/overlay/report-protocol.ts'
import { encodeCanonical } from '../../../src/trust/index.ts'
import { byteMutation, mutateBytes } from '../../helpers/byte-mutation.ts'

const VENDOR = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const delivery = { to: VENDOR, report: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff) }

function reasonOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof ReportProtocolError) return err.reason
    throw err
  }
  return undefined
}

describe('report protocol frames', () => {
  it('round-trips deliveries and answers', () => {
    expect(decodeReportDelivery(encodeReportDelivery(delivery))).toEqual(delivery)
    for (const answer of [{ ok: true, held: 'vendor' }, { ok: true, held: 'custody' }, { ok: false, reason: 'full' }, { ok: false, reason: 'malformed' }] as const) {
      expect(decodeReportAnswer(encodeReportAnswer(answer))).toEqual(answer)
    }
  })

  it('refuses oversized frames before parsing', () => {
    const big = new Uint8Array(MAX_REPORT_FRAME_BYTES + 1)
    expect(reasonOf(() => decodeReportDelivery(big))).toBe('oversized')
    expect(reasonOf(() => decodeReportAnswer(new Uint8Array(MAX_REPORT_ANSWER_BYTES + 1)))).toBe('oversized')
    // A report over the sealed limit inside an otherwise small-enough frame is refused by the schema.
    const tooLong = encodeCanonical({ to: VENDOR, report: new Uint8Array(MAX_SEALED_REPORT_BYTES + 1) })
    expect(reasonOf(() => decodeReportDelivery(tooLong))).toBe('invalid')
    expect(() => encodeReportDelivery({ to: VENDOR, report: new Uint8Array(MAX_SEALED_REPORT_BYTES + 1) })).toThrow(ReportProtocolError)
  })

  it('refuses malformed, non-canonical and wrongly shaped frames, naming the field', () => {
    expect(reasonOf(() => decodeReportDelivery(Uint8Array.of(0xa2, 0x62)))).toBe('malformed')
    expect(reasonOf(() => decodeReportDelivery(new Uint8Array(0)))).toBe('malformed')
    // Keys in the wrong order (canonical is length-first: "to", then "report"): valid CBOR, not canonical.
    const reordered = Uint8Array.from([0xa2, ...encodeCanonical({ report: delivery.report }).subarray(1), ...encodeCanonical({ to: VENDOR }).subarray(1)])
    expect(reasonOf(() => decodeReportDelivery(reordered))).toBe('non-canonical')
    const cases: Array<[unknown, string]> = [
      [{ to: 'not a peer id!', report: delivery.report }, 'to'],
      [{ to: VENDOR, report: 'text' }, 'report'],
      [{ to: VENDOR, report: new Uint8Array(0) }, 'report'],
      [{ to: VENDOR }, 'report'],
      [{ to: VENDOR, report: delivery.report, extra: 1 }, ''],
      [[VENDOR, delivery.report], '']
    ]
    for (const [value, field] of cases) {
      try {
        decodeReportDelivery(encodeCanonical(value))
        expect.unreachable(`accepted ${JSON.stringify(value)}`)
      } catch (err) {
        expect(err).toBeInstanceOf(ReportProtocolError)
        expect((err as ReportProtocolError).reason).toBe('invalid')
        if (field !== '') expect((err as Error).message).toContain(field)
      }
    }
    expect(reasonOf(() => decodeReportAnswer(encodeCanonical({ ok: true, held: 'somewhere' })))).toBe('invalid')
    expect(reasonOf(() => decodeReportAnswer(encodeCanonical({ ok: false, reason: 'because' })))).toBe('invalid')
  })

  it('never accepts a mutated frame as something else than what was sent, and never throws anything but its own error', () => {
    const frame = encodeReportDelivery(delivery)
    fc.assert(fc.property(byteMutation, (mutation) => {
      const mutated = mutateBytes(frame, mutation)
      try {
        const decoded = decodeReportDelivery(mutated)
        // A mutation inside the report bytes still decodes (the vendor's open checks those); the address cannot change silently to garbage.
        expect(decoded.to).toMatch(/^[1-9A-HJ-NP-Za-km-z]{40,80}$/)
      } catch (err) {
        expect(err).toBeInstanceOf(ReportProtocolError)
      }
    }), { seed: 5, numRuns: 2_000 })
  })
})
