/**
 * The report protocol (`/mirage/report/1.0.0`): how a sealed problem report
 * travels to its vendor (issue 5: "delivered over the overlay: directly
 * when the vendor is reachable, otherwise held by peers and handed over
 * when the vendor comes back").
 *
 * One exchange per stream. The sender writes one length-prefixed frame of
 * canonical DAG-CBOR `{ to, report }`: the vendor's peer id the report is
 * for, and the sealed report (src/report/seal.ts) that only the vendor can
 * open. The receiver answers one frame: `{ ok: true, held }`, where `held`
 * is `vendor` (it is the vendor and stored the report in its inbox: the
 * delivery is done) or `custody` (it keeps the report and will hand it to
 * the vendor itself), or `{ ok: false, reason }`.
 *
 * A custodian cannot read a report, only check its outer shape; the vendor
 * checks the signature inside when it opens it.
 */
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { MAX_SEALED_REPORT_BYTES } from '../report/index.ts'
import { CanonicalEncodingError, decodeCanonical, encodeCanonical } from '../trust/index.ts'
import { REPORT_PROTOCOL } from './constants.ts'
import type { PeerId, Stream } from '@libp2p/interface'

export { REPORT_PROTOCOL }

/** Largest request frame: a sealed report plus the `to` peer id and framing. */
export const MAX_REPORT_FRAME_BYTES = MAX_SEALED_REPORT_BYTES + 512
/** Largest answer frame. */
export const MAX_REPORT_ANSWER_BYTES = 256
/** How long one exchange may take (open, write, answer). */
export const REPORT_EXCHANGE_TIMEOUT_MS = 20_000

/** Why a receiver refused a report. */
export const REPORT_REFUSALS = ['malformed', 'full', 'unavailable'] as const
export type ReportRefusal = typeof REPORT_REFUSALS[number]

export type ReportAnswer =
  | { ok: true, held: 'vendor' | 'custody' }
  | { ok: false, reason: ReportRefusal }

export interface ReportDelivery {
  /** Peer id (text) of the vendor the report is for. */
  to: string
  /** The sealed report. */
  report: Uint8Array
}

/** A report-protocol frame that must not be acted on. */
export class ReportProtocolError extends Error {
  readonly reason: 'oversized' | 'malformed' | 'non-canonical' | 'invalid'

  constructor (reason: ReportProtocolError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ReportProtocolError'
    this.reason = reason
  }
}

const PEER_ID_TEXT = /^[1-9A-HJ-NP-Za-km-z]{40,80}$/
const deliverySchema = z.strictObject({
  to: z.string().regex(PEER_ID_TEXT, 'is not a peer id'),
  report: z.custom<Uint8Array>(v => v instanceof Uint8Array, 'must be bytes').refine(b => b.byteLength > 0 && b.byteLength <= MAX_SEALED_REPORT_BYTES, `must be 1 to ${MAX_SEALED_REPORT_BYTES} bytes`)
})
const answerSchema = z.union([
  z.strictObject({ ok: z.literal(true), held: z.enum(['vendor', 'custody']) }),
  z.strictObject({ ok: z.literal(false), reason: z.enum(REPORT_REFUSALS) })
])

export function encodeReportDelivery (delivery: ReportDelivery): Uint8Array {
  const parsed = checked(deliverySchema, delivery, 'report delivery')
  return encodeCanonical({ to: parsed.to, report: parsed.report })
}

/** Parses a delivery frame; ReportProtocolError on anything else (size checked before parsing). */
export function decodeReportDelivery (bytes: Uint8Array): ReportDelivery {
  const parsed = checked(deliverySchema, decodeFrame(bytes, MAX_REPORT_FRAME_BYTES, 'report delivery'), 'report delivery')
  return { to: parsed.to, report: parsed.report }
}

export function encodeReportAnswer (answer: ReportAnswer): Uint8Array {
  return encodeCanonical(checked(answerSchema, answer, 'report answer'))
}

export function decodeReportAnswer (bytes: Uint8Array): ReportAnswer {
  return checked(answerSchema, decodeFrame(bytes, MAX_REPORT_ANSWER_BYTES, 'report answer'), 'report answer')
}

function decodeFrame (bytes: Uint8Array, max: number, what: string): unknown {
  try {
    return decodeCanonical(bytes, max, what)
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new ReportProtocolError(err.reason, err.message, { cause: err })
  }
}

function checked<T> (schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue?.path.map(String).join('.') ?? ''
    throw new ReportProtocolError('invalid', `${what}${path === '' ? '' : ` field ${path}`}: ${issue?.message ?? 'invalid'}`)
  }
  return parsed.data
}

/** Opens protocol streams (a libp2p node is one). */
export interface ReportDialer {
  dialProtocol(peer: PeerId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
}

/** Sends one report to `peer` (the vendor, or a custodian) and returns its answer. */
export async function sendReport (dialer: ReportDialer, peer: PeerId, delivery: ReportDelivery, signal?: AbortSignal): Promise<ReportAnswer> {
  const frame = encodeReportDelivery(delivery)
  const deadline = signal === undefined ? AbortSignal.timeout(REPORT_EXCHANGE_TIMEOUT_MS) : AbortSignal.any([signal, AbortSignal.timeout(REPORT_EXCHANGE_TIMEOUT_MS)])
  const stream = await dialer.dialProtocol(peer, REPORT_PROTOCOL, { signal: deadline })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_REPORT_ANSWER_BYTES })
    await lp.write(frame, { signal: deadline })
    const answer = decodeReportAnswer((await readFrame(lp, deadline, MAX_REPORT_ANSWER_BYTES)).subarray())
    await stream.close({ signal: deadline }).catch(() => {})
    return answer
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** Decides on one received report (from `from`). */
export type ReportIntake = (delivery: ReportDelivery, from: PeerId) => Promise<ReportAnswer>

/**
 * Serves one report stream: reads the one frame under a timeout, asks
 * `intake`, writes its answer and closes. A malformed frame is answered
 * `malformed` before the stream closes; other errors abort it and are
 * rethrown (the caller logs them).
 */
export async function serveReportStream (stream: Stream, from: PeerId, intake: ReportIntake): Promise<ReportAnswer> {
  const deadline = AbortSignal.timeout(REPORT_EXCHANGE_TIMEOUT_MS)
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_REPORT_FRAME_BYTES })
    const frame = await readFrame(lp, deadline, MAX_REPORT_FRAME_BYTES)
    let answer: ReportAnswer
    try {
      answer = await intake(decodeReportDelivery(frame.subarray()), from)
    } catch (err) {
      if (!(err instanceof ReportProtocolError)) throw err
      answer = { ok: false, reason: 'malformed' }
    }
    await lp.write(encodeReportAnswer(answer), { signal: deadline })
    await stream.close({ signal: deadline })
    return answer
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

async function readFrame (lp: ReturnType<typeof lpStream>, signal: AbortSignal, max: number): Promise<{ subarray(): Uint8Array }> {
  try {
    return await lp.read({ signal })
  } catch (err) {
    const name = (err as Error).name
    if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
      throw new ReportProtocolError('oversized', `report frame announced more than the limit of ${max} bytes`, { cause: err })
    }
    throw err
  }
}
