import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { logger } from '@libp2p/logger'
import { OVERRIDE_REJECTION_VERDICTS, decodeMemberAnnouncement, decodeTestOutcome, decodeTestStart, validateOverride } from '../overlay/index.ts'
import { OVERRIDE_RELEASE_SCOPE, overrideKey } from '../store/index.ts'
import { openClusterMap } from '../cluster/index.ts'
import { openRelease } from '../release/index.ts'
import { SIGNATURE_DOMAINS, bytesEqual, openEnvelope } from '../trust/index.ts'
import type { ClusterMap } from '../cluster/index.ts'
import type { MemberAnnouncement, Override, SyncItemKind, TestOutcome, TestStart } from '../overlay/index.ts'
import type { VerifiedRelease } from '../release/index.ts'
import type { Store } from '../store/index.ts'
import type { TrustedVendorKeys } from '../trust/index.ts'

const log = logger('mirage:node:intake')

/**
 * A member announcement older than this is no longer taken (nor handed on
 * in sync): a DHT provider record lives as long, and a member re-announces
 * long before (PROTOCOL.md §9.5).
 */
export const MEMBER_ANNOUNCEMENT_MAX_AGE_MS = 48 * 60 * 60 * 1000
/** How far ahead of this node's clock an announcement's `at` may be (clocks differ). */
export const MEMBER_ANNOUNCEMENT_MAX_SKEW_MS = 10 * 60 * 1000

/** Gossipsub's verdicts: reject scores the sender down, ignore just drops. */
export type IntakeVerdict = 'accept' | 'ignore' | 'reject'

export interface IntakeComponents {
  store: Store
  trust: TrustedVendorKeys
  /**
   * This node's peer id. Its own test starts and outcomes are stored
   * durably (fsync); other members' are not: peers hand them back through
   * sync should this machine crash.
   */
  self: string
  /** Sequence of the installed release of an app, if any (rollback protection). */
  installedSequence(app: string): Promise<number | undefined>
  /**
   * Whether a peer is a member of a cluster; may look the cluster up on the
   * DHT when the peer is not known yet. Only members' outcomes count.
   */
  isMember(app: string, clusterId: string, peerId: string, releaseId: string): Promise<boolean>
  onRelease(release: VerifiedRelease, receivedAt: number): void
  onTestStart(start: TestStart, peerId: string, receivedAt: number): void
  onOutcome(outcome: TestOutcome, peerId: string, receivedAt: number): void
  /** A newer vendor cluster map of an app (stored before this is called). */
  onClusterMap?(map: ClusterMap): void
  /** A vendor's halt or clear, newer than any of its scope (stored before this is called). */
  onOverride?(override: Override, receivedAt: number): void
  /** A member's valid signed announcement (not stored yet: the callee decides, see Membership.announced). */
  onMemberAnnouncement?(announcement: MemberAnnouncement, peerId: string, envelope: Uint8Array): Promise<void>
}

/**
 * Every signed message enters here, from gossip or from sync, and is
 * validated the same way before anything is stored or acted on: forged or
 * malformed input is rejected and leaves the node's state untouched.
 */
export class MessageIntake {
  readonly #c: IntakeComponents
  /** Overrides are checked and stored one at a time, so two cannot both pass the sequence check. */
  #overrides: Promise<unknown> = Promise.resolve()

  constructor (components: IntakeComponents) {
    this.#c = components
  }

  /** Signed messages taken in so far (gossip and sync), by verdict. */
  readonly counts: Record<IntakeVerdict, number> = { accept: 0, ignore: 0, reject: 0 }

  async take (kind: SyncItemKind, bytes: Uint8Array, expectedApp?: string): Promise<IntakeVerdict> {
    const verdict = await this.#take(kind, bytes, expectedApp)
    this.counts[verdict]++
    return verdict
  }

  async #take (kind: SyncItemKind, bytes: Uint8Array, expectedApp?: string): Promise<IntakeVerdict> {
    try {
      switch (kind) {
        case 'release': return await this.#release(bytes, expectedApp)
        case 'test-start': return await this.#testStart(bytes, expectedApp)
        case 'outcome': return await this.#outcome(bytes, expectedApp)
        case 'override': return await this.#serialOverride(bytes, expectedApp)
        case 'cluster-map': return await this.#clusterMap(bytes, expectedApp)
        case 'member': return await this.#member(bytes, expectedApp)
      }
    } catch (err) {
      log('rejected %s: %s', kind, (err as Error).message)
      return 'reject'
    }
  }

  async #release (bytes: Uint8Array, expectedApp: string | undefined): Promise<IntakeVerdict> {
    // Forged, malformed, untrusted or expired: thrown, hence rejected.
    const release = await openRelease(bytes, { trust: this.#c.trust })
    const { app, sequence } = release.manifest
    if (expectedApp !== undefined && app !== expectedApp) throw new Error(`release for ${app} on the topic of ${expectedApp}`)
    if (await this.#c.store.releases.has(release.id)) return 'accept'
    const installed = await this.#c.installedSequence(app)
    // An older release is no forgery (an honest peer may still hold it): drop it without scoring anyone down.
    if (installed !== undefined && sequence <= installed) return 'ignore'
    const receivedAt = Date.now()
    await this.#c.store.releases.put(release.id, { releaseId: release.id, app, sequence, envelope: bytes, receivedAt })
    log('release %s %s (%s)', app, release.manifest.version, release.id)
    this.#c.onRelease(release, receivedAt)
    return 'accept'
  }

  async #clusterMap (bytes: Uint8Array, expectedApp: string | undefined): Promise<IntakeVerdict> {
    // Forged, malformed or signed by a key not trusted for its app: thrown, hence rejected.
    const opened = await openClusterMap(bytes, this.#c.trust)
    const { app, sequence } = opened.map
    if (expectedApp !== undefined && app !== expectedApp) throw new Error(`cluster map for ${app} on the topic of ${expectedApp}`)
    const stored = await this.#c.store.clusterMaps.get(app)
    if (stored !== undefined && bytesEqual(stored.envelope, bytes)) return 'accept'
    // An older map is no forgery (an honest peer may still hold it): drop it quietly.
    if (stored !== undefined && sequence <= stored.sequence) return 'ignore'
    await this.#c.store.clusterMaps.put(app, { app, sequence, envelope: bytes, receivedAt: Date.now() })
    log('cluster map %s sequence %d: %d clusters', app, sequence, opened.map.clusters.length)
    this.#c.onClusterMap?.(opened.map)
    return 'accept'
  }

  async #serialOverride (bytes: Uint8Array, expectedApp: string | undefined): Promise<IntakeVerdict> {
    const run = this.#overrides.then(async () => this.#override(bytes, expectedApp))
    this.#overrides = run.catch(() => {})
    return run
  }

  async #override (bytes: Uint8Array, expectedApp: string | undefined): Promise<IntakeVerdict> {
    // An override names its app inside; the topic (or sync request) it came on must be that app's.
    if (expectedApp === undefined) throw new Error('an override arrived outside an app topic')
    const { store } = this.#c
    const scopeOf = (o: Override): string => o.clusterId ?? OVERRIDE_RELEASE_SCOPE
    const result = await validateOverride(bytes, {
      app: expectedApp,
      trust: this.#c.trust,
      releaseApp: async id => (await store.releases.get(id))?.app,
      highestSequence: async o => (await store.overrides.get(overrideKey({ app: o.app, releaseId: o.releaseId, scope: scopeOf(o) })))?.sequence
    })
    if (!result.ok) {
      log('%s override: %s', OVERRIDE_REJECTION_VERDICTS[result.reason] === 'reject' ? 'rejected' : 'ignored', result.message)
      return OVERRIDE_REJECTION_VERDICTS[result.reason]
    }
    const { override } = result
    const receivedAt = Date.now()
    await store.overrides.put(overrideKey({ app: override.app, releaseId: override.releaseId, scope: scopeOf(override) }), {
      app: override.app,
      releaseId: override.releaseId,
      scope: scopeOf(override),
      sequence: override.sequence,
      envelope: bytes,
      receivedAt
    })
    log('override %s %s of %s (%s), sequence %d', override.action, override.clusterId ?? 'every cluster', override.releaseId, override.app, override.sequence)
    this.#c.onOverride?.(override, receivedAt)
    return 'accept'
  }

  async #member (bytes: Uint8Array, expectedApp: string | undefined): Promise<IntakeVerdict> {
    const envelope = await openEnvelope(bytes, SIGNATURE_DOMAINS.member)
    const announcement = decodeMemberAnnouncement(envelope.payload)
    if (expectedApp !== undefined && announcement.app !== expectedApp) throw new Error(`member announcement for ${announcement.app} on the topic of ${expectedApp}`)
    // Too old or from the future: an honest clock can be off, and an old
    // announcement may still travel in sync; dropped without scoring anyone down.
    const now = Date.now()
    if (announcement.at < now - MEMBER_ANNOUNCEMENT_MAX_AGE_MS || announcement.at > now + MEMBER_ANNOUNCEMENT_MAX_SKEW_MS) return 'ignore'
    await this.#c.onMemberAnnouncement?.(announcement, peerIdFromPublicKey(envelope.signer).toString(), bytes)
    return 'accept'
  }

  async #testStart (bytes: Uint8Array, expectedApp: string | undefined): Promise<IntakeVerdict> {
    const envelope = await openEnvelope(bytes, SIGNATURE_DOMAINS.testStart)
    const start = decodeTestStart(envelope.payload)
    const peerId = peerIdFromPublicKey(envelope.signer).toString()
    const verdict = await this.#checkRolloutMessage(start, peerId, expectedApp)
    if (verdict !== 'accept') return verdict
    const key = `${start.releaseId}/${start.clusterId}/${peerId}`
    if (await this.#c.store.testStarts.has(key)) return 'accept'
    const receivedAt = Date.now()
    await this.#c.store.testStarts.put(key, { releaseId: start.releaseId, clusterId: start.clusterId, peerId, envelope: bytes, receivedAt }, { durable: peerId === this.#c.self })
    this.#c.onTestStart(start, peerId, receivedAt)
    return 'accept'
  }

  async #outcome (bytes: Uint8Array, expectedApp: string | undefined): Promise<IntakeVerdict> {
    const envelope = await openEnvelope(bytes, SIGNATURE_DOMAINS.outcome)
    const outcome = decodeTestOutcome(envelope.payload)
    const peerId = peerIdFromPublicKey(envelope.signer).toString()
    const verdict = await this.#checkRolloutMessage(outcome, peerId, expectedApp)
    if (verdict !== 'accept') return verdict
    const key = `${outcome.releaseId}/${outcome.clusterId}/${peerId}`
    const known = await this.#c.store.outcomes.get(key)
    if (known !== undefined) {
      if (bytesEqual(known.envelope, bytes)) return 'accept'
      // A member that signed a pass and a fail: the fail is kept and counts
      // (the safe direction, rule 6); a pass never replaces a fail.
      const knownPass = decodeTestOutcome((await openEnvelope(known.envelope, SIGNATURE_DOMAINS.outcome)).payload).pass
      if (knownPass === outcome.pass || outcome.pass) return 'accept'
    }
    const receivedAt = Date.now()
    await this.#c.store.outcomes.put(key, { releaseId: outcome.releaseId, clusterId: outcome.clusterId, peerId, envelope: bytes, receivedAt }, { durable: peerId === this.#c.self })
    log('outcome %s for %s in %s: %s', peerId, outcome.releaseId, outcome.clusterId, outcome.pass ? 'pass' : 'FAIL')
    this.#c.onOutcome(outcome, peerId, receivedAt)
    return 'accept'
  }

  /** Shared rules of test starts and outcomes: right app, known release, signer is a member of the cluster it speaks for. */
  async #checkRolloutMessage (message: TestStart | TestOutcome, peerId: string, expectedApp: string | undefined): Promise<IntakeVerdict> {
    if (expectedApp !== undefined && message.app !== expectedApp) throw new Error(`message for ${message.app} on the topic of ${expectedApp}`)
    const release = await this.#c.store.releases.get(message.releaseId)
    // Unknown release: it may simply not have reached us yet; sync will bring both.
    if (release === undefined) return 'ignore'
    if (release.app !== message.app) throw new Error(`release ${message.releaseId} is not a release of ${message.app}`)
    // Not (yet) a known member: a forgery and a membership record still on
    // its way through the DHT look alike, so the message is dropped without
    // scoring the sender down, and never stored or counted. An honest one
    // comes back through sync once its sender's announcement is found.
    if (!await this.#c.isMember(message.app, message.clusterId, peerId, message.releaseId)) {
      log('ignored a message by %s, not a known member of cluster %s', peerId, message.clusterId)
      return 'ignore'
    }
    return 'accept'
  }
}
