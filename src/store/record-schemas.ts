/**
 * Schemas of the records the node persists, one per sublevel, and the key
 * each record is stored under. Every value is checked against its schema on
 * write and on read (record-codec.ts).
 *
 * Changing a schema here changes what is on disk: bump
 * CURRENT_SCHEMA_VERSION and add a migration (migrations.ts) that rewrites
 * older records, or existing nodes will refuse their own data.
 */
import { z } from 'zod'
import { MAX_ENVELOPE_BYTES, MAX_ID_LENGTH, MAX_VERSION_LENGTH } from './constants.ts'

/**
 * An id that becomes part of a key (release, cluster, peer, report id and
 * app name). '/' is the key separator, so it is refused inside a part: that
 * keeps composite keys unambiguous and prefix scans exact (the members of
 * app `a` in cluster `b` never include app `a/b`).
 */
const keyPart = z.string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .refine((s) => !s.includes('/'), { message: "must not contain '/'" })
  .refine((s) => s.isWellFormed(), { message: 'must be well-formed UTF-16' })

/** Milliseconds since the Unix epoch, or a sequence: a non-negative safe integer. */
const nonNegativeInt = z.int().nonnegative()

/**
 * Signed bytes kept exactly as received, so the signature can be checked
 * again. `z.custom` rather than `z.instanceof(Uint8Array)`: the latter types
 * the field as `Uint8Array<ArrayBuffer>` (TS 5.9), which refuses the
 * `Uint8Array<ArrayBufferLike>` that decoders and Buffers hand out.
 */
const envelope = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'must be a Uint8Array' }).refine((b) => b.byteLength <= MAX_ENVELOPE_BYTES, {
  message: `must be at most ${MAX_ENVELOPE_BYTES} bytes`
})

/**
 * A release the node has seen and verified: the vendor-signed manifest bytes
 * as received, plus the fields the node indexes on. Keyed by `releaseId`.
 */
export const releaseRecordSchema = z.strictObject({
  /** Content id of the release (the manifest's CID). */
  releaseId: keyPart,
  /** Application the release upgrades. */
  app: keyPart,
  /** The vendor's monotonic sequence for the app (rollback protection). */
  sequence: nonNegativeInt,
  /** The signed manifest bytes as received. */
  envelope,
  /** When this node first received it, ms since epoch. */
  receivedAt: nonNegativeInt
})
export type ReleaseRecord = z.infer<typeof releaseRecordSchema>

/**
 * A signed test outcome a representative gossiped for a release in its
 * cluster (Mirage's staged deployment: representatives test first and
 * report, followers count their outcomes). Keyed by
 * `outcomeKey(record)`, so all outcomes of a release, or of a release in one
 * cluster, are one prefix scan.
 */
export const outcomeRecordSchema = z.strictObject({
  releaseId: keyPart,
  clusterId: keyPart,
  /** Peer id of the reporting representative (the envelope's signer). */
  peerId: keyPart,
  /** The signed outcome bytes as received. */
  envelope,
  receivedAt: nonNegativeInt
})
export type OutcomeRecord = z.infer<typeof outcomeRecordSchema>

/**
 * A cluster member seen announcing itself for an app. Keyed by
 * `membershipKey(record)`: the members of one cluster of an app are one
 * prefix scan, which is what representative election ranks. A peer whose
 * environment changed appears under both clusters until pruned by `seenAt`.
 */
export const membershipRecordSchema = z.strictObject({
  app: keyPart,
  clusterId: keyPart,
  peerId: keyPart,
  /** The role preference the member announced (its DHT key says which). */
  role: z.enum(['auto', 'representative', 'follower']),
  /** Last time the announcement was seen, ms since epoch. */
  seenAt: nonNegativeInt,
  /**
   * The member's signed announcement (docs/PROTOCOL.md §9.5), when it came
   * that way, to hand on in sync; absent for a member found on the DHT.
   */
  envelope: envelope.optional(),
  /** The `at` of that announcement (the member's clock): a newer one replaces it, an older one does not. */
  announcedAt: nonNegativeInt.optional()
})
export type MembershipRecord = z.infer<typeof membershipRecordSchema>

/** States of the per-app install state machine (src/install drives it). */
export const INSTALL_STATES = ['idle', 'downloading', 'testing', 'installing', 'installed', 'failed', 'rolled-back'] as const
export type InstallState = typeof INSTALL_STATES[number]

/**
 * Where this machine stands with an app: the state machine's current state
 * and the release it concerns. Keyed by `app`. Persisted on every
 * transition so a restarted node resumes (or rolls back) instead of guessing.
 */
export const installRecordSchema = z.strictObject({
  app: keyPart,
  state: z.enum(INSTALL_STATES),
  /** Release being (or last) installed; absent while idle with nothing installed. */
  releaseId: keyPart.optional(),
  /** Version string of that release, for display. */
  version: z.string().min(1).max(MAX_VERSION_LENGTH).optional(),
  /** Sequence of that release, compared with new releases (rollback protection). */
  sequence: nonNegativeInt.optional(),
  /** Release that was installed before, the target of a rollback. */
  previousReleaseId: keyPart.optional(),
  updatedAt: nonNegativeInt
})
export type InstallRecord = z.infer<typeof installRecordSchema>

/**
 * A problem report built after a failed test or install (Mirage's integrated problem
 * reporting),
 * kept until the vendor has it. Keyed by `reportId`.
 */
export const reportRecordSchema = z.strictObject({
  /** Hex SHA-256 of the sealed bytes. */
  reportId: keyPart,
  app: keyPart,
  releaseId: keyPart,
  /** Peer ids of the vendor the report is for (its seed's identities). */
  to: z.array(keyPart).min(1).max(16),
  /** The sealed report: encrypted to the vendor, readable by nobody else. */
  sealed: envelope,
  /** `own`: this machine's report; `custody`: held for another machine until the vendor is reachable. */
  origin: z.enum(['own', 'custody']),
  createdAt: nonNegativeInt,
  /** Peers this machine handed its own report to for custody. */
  custodians: z.array(keyPart).max(16),
  /** Delivery attempts so far, and when the next may be made. */
  attempts: nonNegativeInt,
  nextAttemptAt: nonNegativeInt,
  /** When the vendor acknowledged it (own reports are kept, for status, after delivery). */
  deliveredAt: nonNegativeInt.optional()
})
export type ReportRecord = z.infer<typeof reportRecordSchema>

/**
 * A signed "I started testing" announcement by a representative. The
 * rollout engine replaces an elected representative that never starts, and
 * counts one that started and went silent as a failure. Keyed like outcomes.
 */
export const testStartRecordSchema = outcomeRecordSchema
export type TestStartRecord = OutcomeRecord

/** Where this machine stands with one release (the per-release state machine of issue 3). */
export const ROLLOUT_STATES = ['seen', 'waiting', 'downloading', 'testing', 'installing', 'installed', 'blocked', 'halted', 'failed', 'rolled-back', 'superseded', 'not-targeted'] as const
export type RolloutStateName = typeof ROLLOUT_STATES[number]

/**
 * One release's progress on this machine, keyed `${app}/${releaseId}`.
 * `at` keeps the first time each state was entered: tests and operators
 * read the order of events from it, not from logs.
 */
export const rolloutRecordSchema = z.strictObject({
  app: keyPart,
  releaseId: keyPart,
  clusterId: keyPart,
  state: z.enum(ROLLOUT_STATES),
  role: z.enum(['representative', 'follower', 'undecided']),
  /** Why the state is what it is, for `mirage node status`. */
  reason: z.string().max(2048),
  chunksHeld: nonNegativeInt,
  chunksTotal: nonNegativeInt,
  /** Bytes of this release's artifact received, per serving peer id. */
  bytesFrom: z.record(keyPart, nonNegativeInt),
  at: z.partialRecord(z.enum(ROLLOUT_STATES), nonNegativeInt),
  updatedAt: nonNegativeInt,
  /**
   * A representative's passing test, kept from just before it installs
   * until its outcome is announced: a crash in between must not leave the
   * cluster waiting for an outcome that was never sent. `at` is when the
   * test ended, the time the pass is signed with (records written before
   * it existed lack it, and are signed with the time they are announced).
   */
  unannouncedPass: z.strictObject({
    exitCode: z.literal(0),
    durationMs: nonNegativeInt,
    logDigest: z.string().regex(/^[0-9a-f]{64}$/),
    at: nonNegativeInt.optional()
  }).optional()
})
export type RolloutRecord = z.infer<typeof rolloutRecordSchema>

/** Key of a rollout record: `${app}/${releaseId}`. */
export function rolloutKey (r: Pick<RolloutRecord, 'app' | 'releaseId'>): string {
  return `${r.app}/${r.releaseId}`
}

/**
 * A vendor's halt or clear override as received and verified, the latest
 * per scope: keyed `overrideKey(record)`.
 */
export const overrideRecordSchema = z.strictObject({
  app: keyPart,
  releaseId: keyPart,
  /** The cluster it concerns, or OVERRIDE_RELEASE_SCOPE for the whole release. */
  scope: keyPart,
  sequence: nonNegativeInt,
  envelope,
  receivedAt: nonNegativeInt
})
export type OverrideRecord = z.infer<typeof overrideRecordSchema>

/** The scope of a release-wide override ('*' is no cluster name). */
export const OVERRIDE_RELEASE_SCOPE = '*'

/** Key of an override record: `${app}/${releaseId}/${scope}`. */
export function overrideKey (r: Pick<OverrideRecord, 'app' | 'releaseId' | 'scope'>): string {
  return `${r.app}/${r.releaseId}/${r.scope}`
}

/** Key of an outcome record: `${releaseId}/${clusterId}/${peerId}`. */
export function outcomeKey (r: Pick<OutcomeRecord, 'releaseId' | 'clusterId' | 'peerId'>): string {
  return `${r.releaseId}/${r.clusterId}/${r.peerId}`
}

/** Key of a membership record: `${app}/${clusterId}/${peerId}`. */
export function membershipKey (r: Pick<MembershipRecord, 'app' | 'clusterId' | 'peerId'>): string {
  return `${r.app}/${r.clusterId}/${r.peerId}`
}

/**
 * The vendor-signed cluster map in use for an app (issue 4): the envelope as
 * received, and its sequence for rollback checks. Keyed by app.
 */
export const clusterMapRecordSchema = z.strictObject({
  app: keyPart,
  sequence: nonNegativeInt,
  envelope,
  receivedAt: nonNegativeInt
})
export type ClusterMapRecord = z.infer<typeof clusterMapRecordSchema>

/**
 * A machine's census entry as the vendor's seed received it: the
 * machine-signed fingerprint envelope, latest per machine. Keyed by
 * `censusKey()` (app/peerId).
 */
export const censusRecordSchema = z.strictObject({
  app: keyPart,
  peerId: keyPart,
  envelope,
  receivedAt: nonNegativeInt
})
export type CensusRecord = z.infer<typeof censusRecordSchema>

export function censusKey (record: { app: string, peerId: string }): string {
  return `${record.app}/${record.peerId}`
}
