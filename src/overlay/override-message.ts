import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { CLUSTER_NAME_PATTERN } from '../release/index.ts'
import {
  APP_NAME_PATTERN, CanonicalEncodingError, SIGNATURE_DOMAINS, SignatureError, decodeCanonical, encodeCanonical, openEnvelope, sealEnvelope
} from '../trust/index.ts'
import type { TrustedVendorKeys } from '../trust/index.ts'
import type { Ed25519PrivateKey, Ed25519PublicKey } from '@libp2p/interface'

/**
 * The vendor's halt and clear overrides (DESIGN.md, "The shape": a failure's
 * report reaches the vendor, which can halt, clear, or publish a fix),
 * gossiped on the `overrides` topic of an app. The payload is canonical
 * DAG-CBOR inside a signed envelope of domain `override`, signed by a vendor
 * key trusted for the app. What a node does with one is rollout rules 12–14.
 */

/**
 * Longest reason text, in UTF-16 code units: a status line's worth. The
 * report itself travels elsewhere; this only tells owners why.
 */
export const MAX_OVERRIDE_REASON_CHARS = 500

/** Largest override payload: the fields above with a reason of 500 four-byte characters is ~2.3 KiB. */
export const MAX_OVERRIDE_PAYLOAD_BYTES = 4 * 1024

/**
 * Largest override envelope, checked before anything is parsed: the payload
 * plus a key (36 bytes), a signature (64) and the envelope's own framing.
 */
export const MAX_OVERRIDE_ENVELOPE_BYTES = MAX_OVERRIDE_PAYLOAD_BYTES + 512

export const OVERRIDE_ACTIONS = ['halt', 'clear'] as const
export type OverrideAction = typeof OVERRIDE_ACTIONS[number]

/** A vendor's signed word on one release in flight. */
export interface Override {
  v: 1
  app: string
  /** The release it concerns (its CID, as `releaseIdOf` gives it). */
  releaseId: string
  /** One cluster; absent for every cluster of the release. */
  clusterId?: string
  /** 'halt' stops every install not made yet; 'clear' disregards the failures seen so far (rules 13, 14). */
  action: OverrideAction
  /** Per app, strictly increasing across all the vendor's overrides of that app; the highest wins. */
  sequence: number
  /** Milliseconds since the epoch, the vendor's clock. */
  issuedAt: number
  /** Why, for owners reading a status line: one line, no control characters. */
  reason?: string
}

const releaseId = z.string().max(128).refine(text => { try { return CID.parse(text).version === 1 } catch { return false } }, 'must be a CIDv1 string')
// One line with no control characters: it ends up on terminals (`mirage node status`).
const NO_CONTROL_CHARACTERS = /^[^\p{Cc}]*$/u
const overrideSchema = z.strictObject({
  v: z.literal(1),
  app: z.string().regex(APP_NAME_PATTERN, 'is not an app name'),
  releaseId,
  clusterId: z.string().regex(CLUSTER_NAME_PATTERN, 'is not a cluster name').optional(),
  action: z.enum(OVERRIDE_ACTIONS),
  sequence: z.int().min(1, 'must be a positive integer'),
  issuedAt: z.int().min(0),
  reason: z.string().max(MAX_OVERRIDE_REASON_CHARS).regex(NO_CONTROL_CHARACTERS, 'must be one line without control characters').optional()
})

/** An override payload that fails its limits, its encoding or its schema; `path` names the field. */
export class OverrideMessageError extends Error {
  readonly reason: 'oversized' | 'malformed' | 'non-canonical' | 'schema'
  readonly path: string

  constructor (reason: OverrideMessageError['reason'], path: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'OverrideMessageError'
    this.reason = reason
    this.path = path
  }
}

/** Canonical bytes of an override; throws OverrideMessageError('schema') for one no node would accept. */
export function encodeOverride (override: Override): Uint8Array {
  return encodeCanonical(validate(override))
}

/** Decodes and validates an override payload: size first, then canonical CBOR, then the schema. */
export function decodeOverride (bytes: Uint8Array): Override {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_OVERRIDE_PAYLOAD_BYTES, 'override')
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new OverrideMessageError(err.reason, '', err.message, { cause: err })
  }
  return validate(value)
}

/** The signed envelope of an override, as the vendor publishes it. */
export async function signOverride (override: Override, key: Ed25519PrivateKey): Promise<Uint8Array> {
  return sealEnvelope(SIGNATURE_DOMAINS.override, encodeOverride(override), key)
}

/** Why an override was refused: a rule of the envelope (SignatureError's reasons), of the payload, or of intake. */
export type OverrideRejection =
  | SignatureError['reason']
  | OverrideMessageError['reason']
  | 'wrong-app'
  | 'wrong-release'
  | 'replayed'

/**
 * The gossipsub verdict for each refusal (docs/PROTOCOL.md §8.4): an old
 * override is no forgery (an honest peer may still hold one), so it is
 * dropped without scoring anyone down; everything else is rejected.
 */
export const OVERRIDE_REJECTION_VERDICTS = {
  'oversized': 'reject',
  'malformed': 'reject',
  'non-canonical': 'reject',
  'wrong-domain': 'reject',
  'bad-signature': 'reject',
  'untrusted-signer': 'reject',
  'schema': 'reject',
  'wrong-app': 'reject',
  'wrong-release': 'reject',
  'replayed': 'ignore'
} as const satisfies Record<OverrideRejection, 'reject' | 'ignore'>

export type OverrideValidation =
  /**
   * A genuine, new override. `releaseKnown` is false for a release this node
   * has not seen yet: the override is accepted and held (see `validateOverride`).
   */
  | { ok: true, override: Override, releaseKnown: boolean }
  | { ok: false, reason: OverrideRejection, message: string }

/** What the intake knows when an override arrives. */
export interface OverrideIntakeContext {
  /** The app of the topic (or of the sync request) it arrived on. */
  app: string
  trust: TrustedVendorKeys
  /** The app of the stored release with this id, or undefined when this node knows no such release. */
  releaseApp(releaseId: string): string | undefined | Promise<string | undefined>
  /**
   * The highest sequence already accepted for the override's scope (its
   * release and cluster, or its whole release); undefined when none was.
   */
  highestSequence(override: Override): number | undefined | Promise<number | undefined>
}

/**
 * The intake's checks, in order: the size limit before any parsing; the
 * envelope (canonical, domain `override`, valid signature); the payload
 * (size, canonical, schema); the topic's app; the signer is a vendor key
 * trusted for that app; the release, if known, is a release of that app;
 * the sequence is above every one accepted for the same scope. Never
 * throws for bad input.
 *
 * Per scope, not per app: sequences rise across all of an app's overrides,
 * but gossip and sync may deliver them out of order, and an older override
 * of another scope (a halt of cluster A arriving after a halt of B) is news,
 * not a replay. Within a scope the engine keeps only the highest anyway
 * (rule 12), so a lower one there can only be a replay.
 *
 * An override for a release this node does not know yet is accepted and
 * held, not ignored. The checks that matter do not need the release: the
 * signer is trusted per app, not per release (a vendor may sign with any of
 * its keys). And a halt must spread even through nodes that have not got
 * the release yet, so that none installs it. The node must check, when the release arrives, that it is a
 * release of the override's app (`wrong-release` here covers a known one).
 *
 * The caller must run this and record the accepted sequence as one step per
 * scope, or two overrides could both pass the sequence check.
 */
export async function validateOverride (bytes: Uint8Array, context: OverrideIntakeContext): Promise<OverrideValidation> {
  if (bytes.byteLength > MAX_OVERRIDE_ENVELOPE_BYTES) {
    return refuse('oversized', `signed override is ${bytes.byteLength} bytes, more than the limit of ${MAX_OVERRIDE_ENVELOPE_BYTES}`)
  }
  let override: Override
  let signer: Ed25519PublicKey
  try {
    const envelope = await openEnvelope(bytes, SIGNATURE_DOMAINS.override)
    signer = envelope.signer
    override = decodeOverride(envelope.payload)
  } catch (err) {
    if (err instanceof SignatureError || err instanceof OverrideMessageError) return refuse(err.reason, err.message)
    throw err
  }
  if (override.app !== context.app) {
    return refuse('wrong-app', `override for app "${override.app}" on the topic of app "${context.app}"`)
  }
  if (!context.trust.isTrusted(override.app, signer)) {
    return refuse('untrusted-signer', `override signed by ${signer.toString()}, which is not a trusted vendor key for app "${override.app}"`)
  }
  const releaseApp = await context.releaseApp(override.releaseId)
  if (releaseApp !== undefined && releaseApp !== override.app) {
    return refuse('wrong-release', `override for app "${override.app}" names release ${override.releaseId}, a release of app "${releaseApp}"`)
  }
  const highest = await context.highestSequence(override)
  if (highest !== undefined && override.sequence <= highest) {
    return refuse('replayed', `override sequence ${override.sequence} of app "${override.app}" is not above ${highest}, the highest accepted for ${override.clusterId === undefined ? 'the whole release' : `cluster ${override.clusterId}`}`)
  }
  return { ok: true, override, releaseKnown: releaseApp !== undefined }
}

function refuse (reason: OverrideRejection, message: string): OverrideValidation {
  return { ok: false, reason, message }
}

/** Schema check; builds the value afresh so an absent optional field is absent, never `undefined` (CBOR has no undefined). */
function validate (value: unknown): Override {
  const parsed = overrideSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue?.path.map(String).join('.') ?? ''
    const detail = issue === undefined ? 'invalid' : issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map(k => `"${k}"`).join(', ')}` : issue.message
    throw new OverrideMessageError('schema', path, path === '' ? `override: ${detail}` : `override: ${path}: ${detail}`)
  }
  const { clusterId, reason, ...required } = parsed.data
  return { ...required, ...(clusterId === undefined ? {} : { clusterId }), ...(reason === undefined ? {} : { reason }) }
}
