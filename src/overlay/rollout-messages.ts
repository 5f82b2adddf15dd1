import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { CLUSTER_NAME_PATTERN } from '../release/index.ts'
import { APP_NAME_PATTERN, CanonicalEncodingError, decodeCanonical, encodeCanonical } from '../trust/index.ts'

/**
 * Payloads of the signed messages nodes gossip on the outcomes topic
 * (docs/PROTOCOL.md). Each is canonical CBOR inside a signed envelope whose
 * signer is the reporting node's libp2p key: the signer IS the reporter
 * (for a member announcement, the member).
 */

/** Large enough for a cluster id, release CID and a few fields; far below any honest message. */
export const MAX_ROLLOUT_MESSAGE_BYTES = 4 * 1024

const releaseId = z.string().max(128).refine(text => { try { return CID.parse(text).version === 1 } catch { return false } }, 'must be a CIDv1 string')
const clusterId = z.string().regex(CLUSTER_NAME_PATTERN, 'is not a cluster name')
const time = z.int().min(0)

/** "I, an elected representative, started testing this release." */
export interface TestStart {
  v: 1
  app: string
  releaseId: string
  clusterId: string
  at: number
}

/** A representative's signed test result (Mirage §3). */
export interface TestOutcome {
  v: 1
  app: string
  releaseId: string
  clusterId: string
  pass: boolean
  /** null when the test was killed by a signal or could not start. */
  exitCode: number | null
  durationMs: number
  /** SHA-256 of the test's whole output, so a report can be matched to it later. */
  logDigest: Uint8Array
  at: number
}

/**
 * "I am a member of this cluster, with this role preference": the same
 * claim as the node's DHT provider record (docs/PROTOCOL.md §9), gossiped
 * so that nodes learn members without walking the DHT.
 */
export interface MemberAnnouncement {
  v: 1
  app: string
  clusterId: string
  role: 'auto' | 'representative' | 'follower'
  at: number
}

const memberAnnouncementSchema = z.strictObject({
  v: z.literal(1),
  app: z.string().regex(APP_NAME_PATTERN),
  clusterId,
  role: z.enum(['auto', 'representative', 'follower']),
  at: time
})
const testStartSchema = z.strictObject({ v: z.literal(1), app: z.string().regex(APP_NAME_PATTERN), releaseId, clusterId, at: time })
const testOutcomeSchema = z.strictObject({
  v: z.literal(1),
  app: z.string().regex(APP_NAME_PATTERN),
  releaseId,
  clusterId,
  pass: z.boolean(),
  exitCode: z.int().min(-1_000_000).max(1_000_000).nullable(),
  durationMs: time,
  logDigest: z.custom<Uint8Array>(v => v instanceof Uint8Array && v.byteLength === 32, 'logDigest must be 32 bytes'),
  at: time
})

/** A rollout message that fails its schema or limits. */
export class RolloutMessageError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'RolloutMessageError'
  }
}

export function encodeMemberAnnouncement (message: MemberAnnouncement): Uint8Array {
  return encodeCanonical(memberAnnouncementSchema.parse(message))
}

export function decodeMemberAnnouncement (bytes: Uint8Array): MemberAnnouncement {
  return decodeWith(bytes, memberAnnouncementSchema, 'member announcement')
}

export function encodeTestStart (message: TestStart): Uint8Array {
  return encodeCanonical(testStartSchema.parse(message))
}

export function decodeTestStart (bytes: Uint8Array): TestStart {
  return decodeWith(bytes, testStartSchema, 'test start')
}

export function encodeTestOutcome (message: TestOutcome): Uint8Array {
  return encodeCanonical(testOutcomeSchema.parse(message))
}

export function decodeTestOutcome (bytes: Uint8Array): TestOutcome {
  return decodeWith(bytes, testOutcomeSchema, 'test outcome')
}

function decodeWith<T> (bytes: Uint8Array, schema: z.ZodType<T>, what: string): T {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_ROLLOUT_MESSAGE_BYTES, what)
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new RolloutMessageError(err.message, { cause: err })
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RolloutMessageError(`${what}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`)
  }
  return parsed.data
}
