import { logger } from '@libp2p/logger'
import { membershipKeyCid } from '../overlay/index.ts'
import { membershipKey } from '../store/index.ts'
import type { MemberRole, OverlayLibp2p } from '../overlay/index.ts'
import type { Store } from '../store/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('mirage:node:membership')

/** A DHT lookup of one cluster's members must not stall the node; 10 s covers a loaded local swarm. */
export const MEMBER_LOOKUP_TIMEOUT_MS = 10_000
/**
 * Lookups forced by unknown signers, per cluster: a burst of
 * FORCED_LOOKUP_BURST, then one per MIN_FORCED_LOOKUP_INTERVAL_MS. A burst,
 * because a lookup stops at the signer it looks for: a representative's
 * pass and a follower's failure a moment later are two lookups, and the
 * failure must not be dropped for the limit (a follower would install past
 * it). A bound, because forged messages from made-up keys would otherwise
 * each cost a DHT query.
 */
export const MIN_FORCED_LOOKUP_INTERVAL_MS = 2_000
export const FORCED_LOOKUP_BURST = 8
/** How often a node checks whether its swarm grew enough to announce again. */
export const GROWTH_CHECK_MS = 5_000

/** What a lookup of one cluster learnt. */
export interface LookupResult {
  /** Members (or role changes) it newly found. */
  found: number
  /** Whether every role key's query ran to its end (not cut short by the timeout or an error). */
  complete: boolean
}

/**
 * The order a search for one signer tries the role keys in. Most machines
 * keep the default role, and so do most elected representatives: searching
 * the `representative` key first cost a whole DHT walk of a (usually empty)
 * key before the `auto` one, about 20 requests per search instead of 10
 * (counted at 40 machines in one process).
 */
const MEMBER_ROLES_BY_LIKELIHOOD = ['auto', 'representative', 'follower'] as const

/**
 * The role keys a lookup walks: those of members an election may seat. The
 * `follower` key was a third walk per lookup (about 20 requests on a
 * 50-machine swarm) whose members no election counts.
 */
const ELECTABLE_ROLES = ['auto', 'representative'] as const satisfies readonly MemberRole[]

/** A lookup stops after this many providers per role key: bounds what a flood of fake announcements can cost. */
export const MAX_PROVIDERS_PER_LOOKUP = 1_000

/**
 * Peers a gossiped announcement must have gone to directly for a growth
 * round to skip gossiping it again: gossipsub's mesh degree (D, 6 by
 * default). From that many neighbours it floods the connected swarm, and
 * peers that connect later catch up through sync (PROTOCOL.md §9.5), so
 * only the DHT record, which may sit away from the peers now closest to
 * the key, needs renewing when the swarm grows.
 */
export const GOSSIP_SPREAD_REACH = 6

/**
 * Whether a growth round gossips the announcement again, given how many
 * peers the last gossip went to (undefined: not known, or none sent yet).
 * Every member validates and stores each gossiped announcement: with a
 * round per doubling of connections, a 200-machine swarm forming checked
 * about six signatures per member per machine instead of one.
 */
export function gossipAgainOnGrowth (lastReach: number | undefined): boolean {
  return lastReach === undefined || lastReach < GOSSIP_SPREAD_REACH
}

/**
 * Whether a node that began its last announcement round with `peersAtAnnounce`
 * connections and now has `peersNow` announces again: its swarm has at least
 * doubled since, so its provider record may sit away from the peers closest
 * to the key.
 */
export function swarmGrewSinceAnnounce (peersAtAnnounce: number, peersNow: number): boolean {
  return peersNow >= Math.max(2, 2 * peersAtAnnounce)
}

/**
 * A DHT search of one cluster for signers not known yet. Messages of a
 * cluster's members arrive together (when every machine tests at once, a
 * cluster's test starts come within seconds of each other), and each
 * unknown signer used to start its own walk of the same keys, up to
 * FORCED_LOOKUP_BURST at once (five strangers: 15 walks instead of 3, see
 * test/integration/node/membership-lookup.test.ts); now they share one,
 * which ends once every signer in `wanted` has been met, or the keys are
 * walked. `wanted` grows only while the search runs (at most
 * MEMBER_LOOKUP_TIMEOUT_MS).
 */
interface SignerSearch {
  wanted: Set<string>
  done: Promise<void>
  resolve: () => void
}

export interface MemberSeen { app: string, clusterId: string, peerId: string, role: MemberRole, seenAt: number }

/** One of this node's own memberships: an app, its cluster there, and its role preference. */
export interface OwnMembership { app: string, clusterId: string, role: MemberRole }

export interface MembershipInit {
  libp2p: OverlayLibp2p
  store: Store
  own: OwnMembership[]
  announceIntervalMs: number
  onMember(member: MemberSeen): void
  /**
   * Gossips this node's signed announcement of `own` (PROTOCOL.md §9.5),
   * with every DHT announcement but those of growth rounds once it has
   * spread (gossipAgainOnGrowth): peers then know the member without a
   * walk. Resolves to how many peers it went to directly.
   */
  publishAnnouncement?(own: OwnMembership): Promise<number>
}

/**
 * Cluster membership (Mirage §4.1, issue 3 item 2): a node announces itself
 * as a provider of the key of (app, cluster, role) on the DHT, and gossips
 * the same claim signed (PROTOCOL.md §9.5); it finds a cluster's members
 * from those announcements, and with `findProviders` over the role keys.
 * Every member seen is persisted, so a restarted node remembers its cluster.
 */
export class Membership {
  readonly #init: MembershipInit
  #timer?: NodeJS.Timeout
  #stopping = new AbortController()
  readonly #lookups = new Map<string, Promise<LookupResult>>()
  readonly #announcedAt = new Map<string, number>()
  readonly #forcedLookups = new Map<string, { tokens: number, at: number }>()
  /** The signer search running per cluster (`app/cluster`), if any. */
  readonly #searches = new Map<string, SignerSearch>()
  /** Connections when the last announcement round began (-1: none yet). */
  #peersAtAnnounce = -1
  #lastAnnounce?: { at: number, peers: number }
  #growthTimer?: NodeJS.Timeout
  /** Peers the last gossiped announcement of each app went to directly. */
  readonly #gossipReach = new Map<string, number>()
  #announcing = false

  constructor (init: MembershipInit) {
    this.#init = init
  }

  async start (): Promise<void> {
    if (this.#timer !== undefined) return
    this.#stopping = new AbortController()
    for (const own of this.#init.own) await this.#remember({ ...own, peerId: this.#init.libp2p.peerId.toString(), seenAt: Date.now() })
    void this.#announceAll()
    this.#timer = setInterval(() => { void this.#announceAll() }, this.#init.announceIntervalMs)
    // A node that just joined knows few peers, and its first announcement
    // reaches only them: if they go away, so does the record. Announce
    // again whenever the node's connections have doubled since.
    this.#growthTimer = setInterval(() => {
      const peers = this.#init.libp2p.getConnections().length
      if (this.#peersAtAnnounce >= 0 && swarmGrewSinceAnnounce(this.#peersAtAnnounce, peers)) void this.#announceAll('growth')
    }, GROWTH_CHECK_MS)
  }

  /** When the last announcement round ended and how many connections the node had when it began. */
  get lastAnnounce (): { at: number, peers: number } | undefined {
    return this.#lastAnnounce
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    clearInterval(this.#growthTimer)
    this.#timer = undefined
    this.#stopping.abort()
    await Promise.allSettled(this.#lookups.values())
  }

  /**
   * This node moved to another cluster of an app (a vendor cluster map):
   * remembers itself there and announces it at once. The old provider
   * record expires on its own; members of the old cluster may count this
   * node a little longer, which only delays them.
   */
  async moveTo (app: string, clusterId: string): Promise<void> {
    const own = this.#init.own.find(o => o.app === app)
    if (own === undefined || own.clusterId === clusterId) return
    own.clusterId = clusterId
    this.#announcedAt.delete(app)
    await this.#remember({ ...own, peerId: this.#init.libp2p.peerId.toString(), seenAt: Date.now() })
    if (this.#timer !== undefined) void this.#announceAll()
  }

  /** When this node's announcement for an app first completed. */
  announcedAt (app: string): number | undefined {
    return this.#announcedAt.get(app)
  }

  /** Members known from the store (what earlier lookups and announcements found). */
  async * known (app: string, clusterId: string): AsyncGenerator<MemberSeen> {
    for await (const [, record] of this.#init.store.memberships.entries({ prefix: `${app}/${clusterId}/` })) {
      yield record
    }
  }

  /**
   * Looks a cluster's electable members up on the DHT (the `auto` and
   * `representative` role keys: an election ranks no follower, and a
   * follower whose message arrives is found by isMember); concurrent
   * lookups of one cluster share one query. Resolves to how many members
   * (or role changes) it newly found, and whether every key's query ran to
   * its end.
   */
  async lookup (app: string, clusterId: string): Promise<LookupResult> {
    const key = `${app}/${clusterId}`
    const running = this.#lookups.get(key)
    if (running !== undefined) return running
    const lookup = this.#lookupNow(app, clusterId).finally(() => this.#lookups.delete(key))
    this.#lookups.set(key, lookup)
    return lookup
  }

  /**
   * A known member, or one a fresh lookup finds: only members' outcomes
   * count. Lookups forced this way are spaced per cluster, so a stream of
   * messages from strangers cannot turn into a stream of DHT queries, and a
   * signer asked for while a search of its cluster runs joins that search
   * instead of starting its own (see SignerSearch).
   */
  async isMember (app: string, clusterId: string, peerId: string): Promise<boolean> {
    const key = membershipKey({ app, clusterId, peerId })
    const known = async (): Promise<boolean> => this.#init.store.memberships.has(key)
    if (await known()) return true
    const cluster = `${app}/${clusterId}`
    const running = this.#lookups.get(cluster)
    if (running !== undefined) {
      await running
      return known()
    }
    const search = this.#searches.get(cluster)
    if (search !== undefined) {
      // Added before the store is read again: whatever the search met before
      // this point is in the store, and whatever it meets after, it keeps
      // looking for.
      search.wanted.add(peerId)
      if (await known()) return true
      await search.done
      return known()
    }
    if (!this.#takeForcedLookup(cluster)) return false
    await this.#searchFor(app, clusterId, peerId)
    return known()
  }

  /** Token bucket of forced lookups per cluster (see FORCED_LOOKUP_BURST). */
  #takeForcedLookup (cluster: string): boolean {
    const now = Date.now()
    const bucket = this.#forcedLookups.get(cluster) ?? { tokens: FORCED_LOOKUP_BURST, at: now }
    const tokens = Math.min(FORCED_LOOKUP_BURST, bucket.tokens + (now - bucket.at) / MIN_FORCED_LOOKUP_INTERVAL_MS)
    if (tokens < 1) {
      this.#forcedLookups.set(cluster, { tokens, at: now })
      return false
    }
    this.#forcedLookups.set(cluster, { tokens: tokens - 1, at: now })
    return true
  }

  /**
   * Looks for signers' announcements: first in the records this node holds
   * under every role key (a node usually holds those of its neighbourhood,
   * so the answer often costs no query at all), then by DHT walks, role key
   * by role key; it stops as soon as it has met every signer wanted. Signers
   * asked for meanwhile join the search (isMember). Every member met on the
   * way is remembered.
   */
  async #searchFor (app: string, clusterId: string, peerId: string): Promise<void> {
    const cluster = `${app}/${clusterId}`
    const { promise: done, resolve } = Promise.withResolvers<void>()
    const search: SignerSearch = { wanted: new Set([peerId]), done, resolve }
    this.#searches.set(cluster, search)
    const signal = AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(MEMBER_LOOKUP_TIMEOUT_MS)])
    try {
      const keys = await Promise.all(MEMBER_ROLES_BY_LIKELIHOOD.map(async role => ({ role, cid: await membershipKeyCid(app, clusterId, role) })))
      // Every role key's records before any walk: a signer that announced
      // under a less likely role must not cost a walk of the likelier key
      // (measured: with a representative by preference, every node of a
      // 21-machine swarm walked the `auto` key when its test started).
      const seenPerKey = new Map<MemberRole, Set<string>>()
      for (const { role, cid } of keys) {
        const seen = await this.#localIds(cid)
        seenPerKey.set(role, seen)
        for (const id of seen) await this.#meet(search, { app, clusterId, role, peerId: id, seenAt: Date.now() })
      }
      for (const { role, cid } of keys) {
        if (search.wanted.size === 0) return
        try {
          // A walk, once begun, is walked to its end: its requests are
          // already out, and every member it meets is one signer fewer to
          // search for when the rest of the cluster's messages arrive.
          for await (const id of this.#walk(cid, signal, seenPerKey.get(role) ?? new Set())) {
            await this.#meet(search, { app, clusterId, role, peerId: id, seenAt: Date.now() })
          }
        } catch (err) {
          if (signal.aborted) return
          log('lookup of %s/%s (%s) failed: %e', app, clusterId, role, err)
        }
      }
    } finally {
      // In the same turn as the last check of `wanted`: a signer asked for
      // from now on starts a search of its own.
      this.#searches.delete(cluster)
      search.resolve()
    }
  }

  async #meet (search: SignerSearch, member: MemberSeen): Promise<void> {
    await this.#remember(member)
    search.wanted.delete(member.peerId)
  }

  async #lookupNow (app: string, clusterId: string): Promise<LookupResult> {
    const signal = AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(MEMBER_LOOKUP_TIMEOUT_MS)])
    let found = 0
    let complete = true
    await Promise.all(ELECTABLE_ROLES.map(async role => {
      const cid = await membershipKeyCid(app, clusterId, role)
      try {
        const seen = await this.#localIds(cid)
        for (const id of seen) if (await this.#remember({ app, clusterId, role, peerId: id, seenAt: Date.now() })) found++
        for await (const id of this.#walk(cid, signal, seen)) {
          if (await this.#remember({ app, clusterId, role, peerId: id, seenAt: Date.now() })) found++
        }
      } catch (err) {
        complete = false
        if (!signal.aborted) log('lookup of %s/%s (%s) failed: %e', app, clusterId, role, err)
      }
      // A query cut short by the timeout may have missed members that were there.
      if (signal.aborted) complete = false
    }))
    return { found, complete }
  }

  /** The providers of a key in the records this node holds itself (all of them, see localProviders), up to MAX_PROVIDERS_PER_LOOKUP. */
  async #localIds (key: CID): Promise<Set<string>> {
    return new Set((await localProviders(this.#init.libp2p, key)).slice(0, MAX_PROVIDERS_PER_LOOKUP).map(id => id.toString()))
  }

  /**
   * The providers a DHT walk of `key` finds that are not in `seen` (which
   * it fills), until `seen` holds MAX_PROVIDERS_PER_LOOKUP. kad-dht yields
   * this node's own records again first; they are not yielded twice.
   */
  async * #walk (key: CID, signal: AbortSignal, seen: Set<string>): AsyncGenerator<string> {
    for await (const provider of this.#init.libp2p.contentRouting.findProviders(key, { signal })) {
      if (seen.size >= MAX_PROVIDERS_PER_LOOKUP) return
      const id = provider.id.toString()
      if (seen.has(id)) continue
      seen.add(id)
      yield id
    }
  }

  /**
   * A member's signed announcement, validated by intake: remembered with
   * its envelope, which sync hands on. Only an announcement newer than the
   * one known changes anything (a replayed old one cannot turn a member's
   * role back).
   */
  async announced (member: MemberSeen, envelope: Uint8Array, announcedAt: number): Promise<void> {
    const key = membershipKey(member)
    const known = await this.#init.store.memberships.get(key)
    if (known?.announcedAt !== undefined && known.announcedAt >= announcedAt) return
    // Members are what the DHT and peers say, and say again: no fsync each
    // (a 200-machine swarm stores 40,000 announcements as it forms).
    await this.#init.store.memberships.put(key, { ...member, envelope, announcedAt }, { durable: false })
    this.#init.onMember(member)
  }

  /** Stores a member seen; whether it (or its role) is new. */
  async #remember (member: MemberSeen): Promise<boolean> {
    const key = membershipKey(member)
    const known = await this.#init.store.memberships.get(key)
    // A member's own announcement is dated; a provider record is not, and
    // may be one of a role it left (records live 48 h): the announcement wins.
    if (known?.announcedAt !== undefined) {
      this.#init.onMember({ ...member, role: known.role })
      return false
    }
    const fresh = known === undefined || known.role !== member.role
    if (fresh) await this.#init.store.memberships.put(key, member, { durable: false })
    this.#init.onMember(member)
    return fresh
  }

  async #announceAll (round: 'full' | 'growth' = 'full'): Promise<void> {
    if (this.#announcing) return
    this.#announcing = true
    const peers = this.#init.libp2p.getConnections().length
    this.#peersAtAnnounce = peers
    try {
      // Only a round in which some announcement went out counts as one.
      if (await this.#announceEach(round) && !this.#stopping.signal.aborted) this.#lastAnnounce = { at: Date.now(), peers }
    } finally {
      this.#announcing = false
    }
  }

  /** Announces every app's membership; whether any announcement went out. */
  async #announceEach (round: 'full' | 'growth'): Promise<boolean> {
    let any = false
    for (const own of this.#init.own) {
      // The gossip first: it is one message, and reaches every subscriber
      // at once, while the DHT announcement is a walk.
      if (this.#init.publishAnnouncement !== undefined && (round === 'full' || gossipAgainOnGrowth(this.#gossipReach.get(own.app)))) {
        try {
          this.#gossipReach.set(own.app, await this.#init.publishAnnouncement(own))
        } catch (err) {
          this.#gossipReach.delete(own.app)
          log('gossiping %s/%s failed: %e', own.app, own.clusterId, err)
        }
      }
      try {
        await this.#init.libp2p.contentRouting.provide(await membershipKeyCid(own.app, own.clusterId, own.role), { signal: this.#stopping.signal })
        if (!this.#announcedAt.has(own.app)) this.#announcedAt.set(own.app, Date.now())
        any = true
      } catch (err) {
        if (!this.#stopping.signal.aborted) log('announcing %s/%s failed: %e', own.app, own.clusterId, err)
      }
    }
    return any
  }
}

/**
 * Every provider record of `key` this node holds itself. kad-dht's
 * findProviders answers from these first but gives at most 20 of them (its
 * k) and then stops without asking the network: a node among the 20 closest
 * to a cluster's key, which holds all of its records, would never see the
 * cluster's 21st member, and the election and the member checks of a
 * cluster over 20 machines would go on part of it (seen at 60 machines:
 * two representatives where the plan asked for one, and a signer never
 * found). The records are read here in full; the network walk still runs.
 * A kad-dht without a readable record store gives none.
 */
export async function localProviders (libp2p: Pick<OverlayLibp2p, 'services'>, key: CID): Promise<PeerId[]> {
  const records = (libp2p.services.dht as unknown as { providers?: { getProviders?: (key: CID) => Promise<PeerId[]> } }).providers
  if (typeof records?.getProviders !== 'function') return []
  return records.getProviders(key)
}
