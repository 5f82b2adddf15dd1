/**
 * The census protocol (`/mirage/census/1.0.0`): how a machine that opted in
 * sends its salted fingerprint to the vendor, who clusters the population
 * (Mirage §4.1; issue 4 item 5). See docs/PROTOCOL.md §19.
 *
 * One request per stream. The machine writes ONE length-prefixed frame: a
 * signed envelope (§4, domain `census`, signed with the machine's libp2p
 * key) around the canonical DAG-CBOR payload
 *
 *     { v: 1, app, at, fingerprint }
 *
 * where `fingerprint` is the machine's `Fingerprint` (src/env) as a plain
 * map. The vendor's seed answers ONE frame `{ ok: true }` or
 * `{ ok: false, reason }` and closes.
 *
 * The fingerprint travels as it is (not re-shaped into a denser form) so
 * that what a vendor stores and what `checkFingerprint` reads are the same
 * object: numbers are DAG-CBOR integers when whole and float64 otherwise
 * (weights such as 0.5 round-trip exactly), and there is nothing optional
 * to become `undefined`. Every decoder here refuses, with a named error,
 * oversized input before parsing, malformed and non-canonical CBOR, an
 * envelope of another domain or with a bad signature, and a payload that
 * fails its schema or `checkFingerprint`.
 */
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { checkFingerprint } from '../env/index.ts'
import {
  APP_NAME_PATTERN, CanonicalEncodingError, MAX_ENVELOPE_BYTES, SIGNATURE_DOMAINS, SignatureError, decodeCanonical, encodeCanonical,
  openEnvelope, sealEnvelope
} from '../trust/index.ts'
import { CENSUS_PROTOCOL } from './constants.ts'
import type { Fingerprint } from '../env/index.ts'
import type { Ed25519PrivateKey, Ed25519PublicKey, PeerId, Stream } from '@libp2p/interface'

export { CENSUS_PROTOCOL }

/**
 * Largest request frame: the frame IS the signed envelope, and no envelope
 * above MAX_ENVELOPE_BYTES (2 MiB) can be opened (`openEnvelope`) or stored
 * (the store's envelope field has the same bound), so a larger frame could
 * only be refused after reading it; it is refused from its length prefix
 * instead. 2 MiB holds ≈ 20,000 facts of typical size (≈ 100 bytes each
 * with a 32-character value hash); a spec that yields more is narrowed by
 * the owner (the sender refuses to seal it, with a named error).
 */
export const MAX_CENSUS_FRAME_BYTES = MAX_ENVELOPE_BYTES

/**
 * Room the envelope's own fields take around the payload (domain, the
 * 36-byte signer key, the 64-byte signature, CBOR heads: under 200 bytes).
 */
const ENVELOPE_OVERHEAD_BYTES = 1024

/** Largest payload, so that its envelope always fits in a frame. */
export const MAX_CENSUS_PAYLOAD_BYTES = MAX_CENSUS_FRAME_BYTES - ENVELOPE_OVERHEAD_BYTES

/** An answer is `{ ok, reason }` with a short reason: 64 bytes is ample and bounds a hostile server. */
export const MAX_CENSUS_ANSWER_BYTES = 64

/**
 * How long each side waits for the other's frame (and for its own write).
 * A 2 MiB frame takes well under a second even on a loaded machine
 * (DESIGN.md: one stream moves ≈ 230 MB/s); 20 s, as for sync, leaves room
 * for a busy 2-core machine while a stuck peer cannot hold a stream.
 */
export const CENSUS_TIMEOUT_MS = 20_000

/**
 * Why the collector refused a census:
 *   malformed      the frame is not a valid census (encoding, schema, fingerprint)
 *   bad-signature  the envelope's signature does not verify
 *   wrong-signer   signed by a key other than the stream's peer (a census for another machine)
 *   unknown-app    this seed does not collect a census of that app
 *   future         `at` is further ahead of the collector's clock than the allowed skew
 *   stale          the collector holds a census of this machine at least as recent
 *   rate-limited   this machine sent one too recently; try later
 *   full           the app's census is at its bound of machines
 *   error          the collector failed (its store); try later
 */
export const CENSUS_REFUSALS = ['malformed', 'bad-signature', 'wrong-signer', 'unknown-app', 'future', 'stale', 'rate-limited', 'full', 'error'] as const
export type CensusRefusal = typeof CENSUS_REFUSALS[number]

/** The collector's answer to one census. */
export type CensusAnswer = { ok: true } | { ok: false, reason: CensusRefusal }

/** The signed payload: one machine's fingerprint of one app, taken at `at` (ms since epoch). */
export interface CensusReport {
  v: 1
  app: string
  at: number
  fingerprint: Fingerprint
}

/** A census whose envelope, signature, payload and fingerprint were checked. */
export interface OpenedCensus {
  report: CensusReport
  /** The key that signed it; the collector requires it to be the stream's peer. */
  signer: Ed25519PublicKey
  /** The peer id of `signer`. */
  signerPeerId: PeerId
  /** The envelope exactly as received: what is stored. */
  bytes: Uint8Array
}

/** Which rule census traffic broke. */
export type CensusProtocolErrorReason =
  /** Larger than the limit for its position; refused before parsing. */
  | 'oversized'
  /** Not CBOR, truncated, trailing bytes, or an envelope without its four fields. */
  | 'malformed'
  /** CBOR, but not the one canonical DAG-CBOR encoding of its value. */
  | 'non-canonical'
  /** A signed envelope made for another purpose than a census. */
  | 'wrong-domain'
  /** The signature does not match the payload and the key. */
  | 'bad-signature'
  /** Canonical CBOR that is not a census message (`field` says where). */
  | 'invalid'

/** Census traffic that must not be acted on. */
export class CensusProtocolError extends Error {
  readonly reason: CensusProtocolErrorReason
  /** The offending field for `invalid` (`''` when it is the message itself). */
  readonly field: string

  constructor (reason: CensusProtocolErrorReason, message: string, field = '', options?: ErrorOptions) {
    super(message, options)
    this.name = 'CensusProtocolError'
    this.reason = reason
    this.field = field
  }
}

const reportSchema = z.strictObject({
  v: z.literal(1),
  app: z.string().regex(APP_NAME_PATTERN, 'must be an app name'),
  at: z.int().min(0),
  fingerprint: z.unknown()
})

const answerSchema = z.union([
  z.strictObject({ ok: z.literal(true) }),
  z.strictObject({ ok: z.literal(false), reason: z.enum(CENSUS_REFUSALS) })
])

// ---------------------------------------------------------------------------
// Payload

/**
 * The canonical payload of a report. The report is checked first (schema,
 * `checkFingerprint`, same app), so a sender never sends what a collector
 * would refuse; an oversized one is a CensusProtocolError 'oversized'.
 */
export function encodeCensusReport (report: CensusReport): Uint8Array {
  const checked = checkReport(report)
  const bytes = encodeCanonical(checked)
  if (bytes.byteLength > MAX_CENSUS_PAYLOAD_BYTES) {
    throw new CensusProtocolError('oversized',
      `census of ${checked.app} is ${bytes.byteLength} bytes with ${checked.fingerprint.facts.length} facts, more than the limit of ${MAX_CENSUS_PAYLOAD_BYTES}; narrow the app's environment spec`)
  }
  return bytes
}

/** Parses and checks a payload; CensusProtocolError on anything else. */
export function decodeCensusReport (bytes: Uint8Array): CensusReport {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_CENSUS_PAYLOAD_BYTES, 'census payload')
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new CensusProtocolError(err.reason, err.message, '', { cause: err })
  }
  return checkReport(value)
}

function checkReport (value: unknown): CensusReport {
  const parsed = reportSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue?.path.map(String).join('.') ?? ''
    const message = issue?.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map(k => JSON.stringify(k.slice(0, 40))).join(', ')}` : (issue?.message ?? 'invalid')
    throw new CensusProtocolError('invalid', `census payload: ${field === '' ? '' : `${field}: `}${message}`, field)
  }
  // DAG-CBOR keeps `__proto__` as an own key, but a schema copying the map
  // assigns it and so drops it (replacing the copy's prototype): refused
  // here, before anything copies it. No spec allows the name anyway.
  const resources = (parsed.data.fingerprint as { resources?: unknown } | null)?.resources
  if (typeof resources === 'object' && resources !== null && Object.hasOwn(resources, '__proto__')) {
    throw new CensusProtocolError('invalid', 'census payload: fingerprint.resources: "__proto__" is not a resource name', 'fingerprint.resources')
  }
  let fingerprint: Fingerprint
  try {
    fingerprint = checkFingerprint(parsed.data.fingerprint, 'census fingerprint')
  } catch (err) {
    if ((err as Error).name !== 'FingerprintError') throw err
    throw new CensusProtocolError('invalid', (err as Error).message, 'fingerprint', { cause: err })
  }
  if (fingerprint.app !== parsed.data.app) {
    throw new CensusProtocolError('invalid', `census payload: the fingerprint is of app "${fingerprint.app}", the census of "${parsed.data.app}"`, 'fingerprint.app')
  }
  return { v: 1, app: parsed.data.app, at: parsed.data.at, fingerprint: plainFingerprint(fingerprint) }
}

/**
 * The fingerprint with exactly its fields and -0 weights made 0 (DAG-CBOR
 * writes -0 as the integer 0, so without this a report would not survive
 * its own round trip).
 */
function plainFingerprint (fingerprint: Fingerprint): Fingerprint {
  return {
    format: 1,
    app: fingerprint.app,
    resources: Object.fromEntries(Object.entries(fingerprint.resources).map(([name, info]) => [name, { kind: info.kind, relevant: info.relevant, weight: info.weight + 0 }])),
    facts: fingerprint.facts.map(({ resource, item, value }) => ({ resource, item, value })),
    notes: [...fingerprint.notes]
  }
}

// ---------------------------------------------------------------------------
// Envelope

/** Signs a report with the machine's key: the request frame. */
export async function sealCensus (report: CensusReport, key: Ed25519PrivateKey): Promise<Uint8Array> {
  return sealEnvelope(SIGNATURE_DOMAINS.census, encodeCensusReport(report), key)
}

/**
 * Opens a request frame: size, envelope, domain, signature, then payload.
 * Who may have signed it (the stream's peer) is the collector's question.
 */
export async function openCensus (bytes: Uint8Array): Promise<OpenedCensus> {
  if (bytes.byteLength > MAX_CENSUS_FRAME_BYTES) {
    throw new CensusProtocolError('oversized', `census frame is ${bytes.byteLength} bytes, more than the limit of ${MAX_CENSUS_FRAME_BYTES}`)
  }
  let opened
  try {
    opened = await openEnvelope(bytes, SIGNATURE_DOMAINS.census)
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err
    // openEnvelope never checks trust, so 'untrusted-signer' cannot occur; map it to malformed to stay total.
    const reason: CensusProtocolErrorReason = err.reason === 'untrusted-signer' ? 'malformed' : err.reason
    throw new CensusProtocolError(reason, err.message, '', { cause: err })
  }
  return { report: decodeCensusReport(opened.payload), signer: opened.signer, signerPeerId: peerIdFromPublicKey(opened.signer), bytes }
}

// ---------------------------------------------------------------------------
// Answer

export function encodeCensusAnswer (answer: CensusAnswer): Uint8Array {
  const parsed = answerSchema.parse(answer)
  return encodeCanonical(parsed.ok ? { ok: true } : { ok: false, reason: parsed.reason })
}

/** Parses an answer frame; CensusProtocolError on anything else. */
export function decodeCensusAnswer (bytes: Uint8Array): CensusAnswer {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_CENSUS_ANSWER_BYTES, 'census answer')
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new CensusProtocolError(err.reason, err.message, '', { cause: err })
  }
  const parsed = answerSchema.safeParse(value)
  if (!parsed.success) throw new CensusProtocolError('invalid', 'census answer is not { ok: true } or { ok: false, reason }')
  return parsed.data.ok ? { ok: true } : { ok: false, reason: parsed.data.reason }
}

/** A refusal reason for a census that did not open. */
export function refusalOf (err: CensusProtocolError): CensusRefusal {
  return err.reason === 'bad-signature' ? 'bad-signature' : 'malformed'
}

// ---------------------------------------------------------------------------
// Streams

/** Opens protocol streams (a libp2p node is one). */
export interface CensusDialer {
  dialProtocol(peer: PeerId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
}

export interface CensusStreamOptions {
  /** Aborts the exchange (the node stopping). */
  signal?: AbortSignal
  /** Per frame read or write; default CENSUS_TIMEOUT_MS. */
  timeoutMs?: number
}

/**
 * Sends one census (a sealed envelope) to `peer` and returns its answer.
 * Dial failures, timeouts and resets are thrown as they come (the caller
 * retries with backoff); a malformed answer is a CensusProtocolError.
 */
export async function sendCensus (dialer: CensusDialer, peer: PeerId, envelope: Uint8Array, options: CensusStreamOptions = {}): Promise<CensusAnswer> {
  if (envelope.byteLength > MAX_CENSUS_FRAME_BYTES) {
    throw new CensusProtocolError('oversized', `census frame is ${envelope.byteLength} bytes, more than the limit of ${MAX_CENSUS_FRAME_BYTES}`)
  }
  const timeoutMs = options.timeoutMs ?? CENSUS_TIMEOUT_MS
  const signal = (): AbortSignal => options.signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)])
  const stream = await dialer.dialProtocol(peer, CENSUS_PROTOCOL, { signal: signal() })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_CENSUS_ANSWER_BYTES })
    await lp.write(envelope, { signal: signal() })
    const answer = decodeCensusAnswer((await readFrame(lp, signal(), 'census answer', MAX_CENSUS_ANSWER_BYTES)).subarray())
    await stream.close({ signal: signal() }).catch(() => {})
    return answer
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** Decides on one received census frame from `from` (the collector). */
export type CensusIntake = (envelope: Uint8Array, from: PeerId) => Promise<CensusAnswer>

/**
 * Serves one census stream: reads the one frame under a timeout, asks
 * `intake`, writes its answer and closes. On any error the stream is
 * aborted and the error rethrown (the caller logs it).
 */
export async function serveCensusStream (stream: Stream, from: PeerId, intake: CensusIntake, options: CensusStreamOptions = {}): Promise<CensusAnswer> {
  const timeoutMs = options.timeoutMs ?? CENSUS_TIMEOUT_MS
  const signal = (): AbortSignal => options.signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)])
  try {
    // The limit applies to what we read (the request); our answer is tiny.
    const lp = lpStream(stream, { maxDataLength: MAX_CENSUS_FRAME_BYTES })
    const frame = await readFrame(lp, signal(), 'census frame', MAX_CENSUS_FRAME_BYTES)
    const answer = await intake(frame.subarray(), from)
    await lp.write(encodeCensusAnswer(answer), { signal: signal() })
    await stream.close({ signal: signal() })
    return answer
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** Reads one frame; a length prefix over the limit becomes a CensusProtocolError 'oversized'. */
async function readFrame (lp: ReturnType<typeof lpStream>, signal: AbortSignal, what: string, max: number): Promise<{ subarray(): Uint8Array }> {
  try {
    return await lp.read({ signal })
  } catch (err) {
    const name = (err as Error).name
    if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
      throw new CensusProtocolError('oversized', `${what} announced more than the limit of ${max} bytes`, '', { cause: err })
    }
    throw err
  }
}
