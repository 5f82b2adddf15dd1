import type { RolloutPlan } from '../release/index.ts'
import { ROLE_TIE_ORDER } from './constants.ts'
import { PersistentMap } from './persistent-map.ts'
import { rankKeyOf } from './representative-election.ts'
import { overrideWins } from './vendor-override.ts'
import type { OverrideAction, OverrideRecord } from './vendor-override.ts'

/** What a machine owner asked for (rollout rule 3): volunteer, never, or let the ranking decide. */
export type RolePreference = 'auto' | 'representative' | 'follower'

/** The part of a verified release the engine needs. */
export interface RolloutRelease {
  /** The release id: salts the representative ranking, so each release elects afresh. */
  id: string
  plan: RolloutPlan
  /** The release test's own timeout; with `plan.reportGraceMs` it bounds a representative's silence. */
  testTimeoutMs: number
}

/** The machine running this engine. */
export interface RolloutSelf {
  peerId: string
  /** The cluster this machine computed from its environment (DESIGN.md, "The shape"). */
  clusterId: string
  role: RolePreference
}

/**
 * What the world tells the engine. `at` is when the event was observed (or a
 * validated time it carries); the engine never reads a clock. Events are
 * assumed to satisfy `at <= now` at evaluation time.
 */
export type RolloutEvent =
  /** A member announcement for this release's app (DHT provider record or sync). */
  | { type: 'member-seen', at: number, clusterId: string, peerId: string, role: RolePreference }
  /** A validated, signed "I started testing" announcement. */
  | { type: 'test-started', at: number, clusterId: string, peerId: string }
  /** A validated, signed test outcome. */
  | { type: 'outcome', at: number, clusterId: string, peerId: string, pass: boolean }
  /**
   * A validated vendor override of this release (rules 12–14): halt or
   * clear one cluster, or every cluster when `clusterId` is absent. `at` is
   * the vendor's issuedAt capped by when it was received; `sequence` is the
   * vendor's per-app override sequence.
   */
  | { type: 'override', at: number, action: OverrideAction, clusterId?: string, sequence: number, reason?: string }

/** One member of one cluster. */
export interface MemberRecord {
  readonly role: RolePreference
  /** `at` of the announcement the role came from. */
  readonly roleAt: number
  /** sha256(`${releaseId}\n${peerId}`) in hex, computed once (rollout rule 3). */
  readonly rankKey: string
}

/** A peer's outcomes in one cluster: at most one pass and one fail, each at its earliest `at`. */
export interface OutcomeRecord {
  readonly passAt?: number
  readonly failAt?: number
}

/**
 * Everything heard about one cluster. Starts and outcomes are kept for any
 * signer, member or not: membership may arrive later, and the view must not
 * depend on the order events arrived in. Evaluation counts members only.
 */
export interface ClusterLedger {
  readonly members: PersistentMap<MemberRecord>
  /** peerId → earliest `at` of its test-started announcement (first start wins). */
  readonly starts: PersistentMap<number>
  readonly outcomes: PersistentMap<OutcomeRecord>
  /** The latest vendor override naming this cluster (rule 12). */
  readonly override?: OverrideRecord
}

/**
 * The engine's state for one release on one node. Immutable: `applyEvent`
 * returns a new state sharing everything it did not change (persistent maps:
 * an event costs O(log n), so the simulator can hold one state per machine),
 * or the very same object when the event taught it nothing.
 */
export interface RolloutState {
  readonly release: RolloutRelease
  readonly self: RolloutSelf
  /** When this node first saw the release; opens front-loading and bounds staged openings (rule 4). */
  readonly seenAt: number
  readonly clusters: PersistentMap<ClusterLedger>
  /** The latest release-wide vendor override (rule 12). */
  readonly override?: OverrideRecord
}

const KNOWN_EVENTS: ReadonlySet<string> = new Set<RolloutEvent['type']>(['member-seen', 'test-started', 'outcome', 'override'])

/** The ledger of a cluster nothing was heard about. */
export const EMPTY_LEDGER: ClusterLedger = { members: PersistentMap.empty(), starts: PersistentMap.empty(), outcomes: PersistentMap.empty() }

/** A fresh state: `self` is a member of its own cluster, with its configured role, from the start (rule 2). */
export function createRolloutState (release: RolloutRelease, self: RolloutSelf, seenAt: number): RolloutState {
  const member: MemberRecord = { role: self.role, roleAt: seenAt, rankKey: rankKeyOf(release.id, self.peerId) }
  const ledger: ClusterLedger = { ...EMPTY_LEDGER, members: EMPTY_LEDGER.members.set(self.peerId, member) }
  return { release, self, seenAt, clusters: PersistentMap.of([[self.clusterId, ledger]]) }
}

/**
 * Folds one event into the state. Pure and idempotent: re-applying an event,
 * or applying the same events in another order, gives an equal state.
 */
export function applyEvent (state: RolloutState, event: RolloutEvent): RolloutState {
  if (!KNOWN_EVENTS.has(event.type)) return state // an unknown event from a newer peer teaches this engine nothing
  if (event.type === 'override') return seeOverride(state, event)
  const ledger = state.clusters.get(event.clusterId) ?? EMPTY_LEDGER
  let next: ClusterLedger | undefined
  switch (event.type) {
    case 'member-seen': next = seeMember(state, ledger, event); break
    case 'test-started': next = seeStart(ledger, event.peerId, event.at); break
    case 'outcome': next = seeOutcome(ledger, event.peerId, event.pass, event.at); break
  }
  if (next === undefined) return state
  return { ...state, clusters: state.clusters.set(event.clusterId, next) }
}

/**
 * Rule 12: per scope (the release, or one cluster) only the winning
 * override is kept; the rest can never matter again, whatever arrives later.
 * A cluster-scoped override is kept on that cluster's ledger even before any
 * member is known: it must hold when members arrive.
 */
function seeOverride (state: RolloutState, event: Extract<RolloutEvent, { type: 'override' }>): RolloutState {
  const record: OverrideRecord = {
    action: event.action,
    sequence: event.sequence,
    at: event.at,
    ...(event.reason === undefined ? {} : { reason: event.reason })
  }
  if (event.clusterId === undefined) {
    return overrideWins(record, state.override) ? { ...state, override: record } : state
  }
  const ledger = state.clusters.get(event.clusterId) ?? EMPTY_LEDGER
  if (!overrideWins(record, ledger.override)) return state
  return { ...state, clusters: state.clusters.set(event.clusterId, { ...ledger, override: record }) }
}

/**
 * Rule 2: a member-seen event makes the peer a member of that cluster. A peer
 * seen in two clusters is a member of both (simple and safe: it can only add
 * a tester or a vote where it was announced). For one peer in one cluster the
 * latest announcement sets the role (owners may change their preference);
 * equal times break toward the less exposed role so every node agrees.
 * Our own role in our own cluster comes from our configuration, never from
 * the network.
 */
function seeMember (state: RolloutState, ledger: ClusterLedger, event: { at: number, clusterId: string, peerId: string, role: RolePreference }): ClusterLedger | undefined {
  if (event.peerId === state.self.peerId && event.clusterId === state.self.clusterId) return undefined
  const known = ledger.members.get(event.peerId)
  const wins = known === undefined || event.at > known.roleAt ||
    (event.at === known.roleAt && ROLE_TIE_ORDER[event.role] < ROLE_TIE_ORDER[known.role])
  if (!wins) return undefined
  const rankKey = known?.rankKey ?? rankKeyOf(state.release.id, event.peerId)
  return { ...ledger, members: ledger.members.set(event.peerId, { role: event.role, roleAt: event.at, rankKey }) }
}

/** Rule 4: the first start announcement wins; only an earlier one replaces it. */
function seeStart (ledger: ClusterLedger, peerId: string, at: number): ClusterLedger | undefined {
  const known = ledger.starts.get(peerId)
  if (known !== undefined && known <= at) return undefined
  return { ...ledger, starts: ledger.starts.set(peerId, at) }
}

/** Rule 6: per peer, one pass and/or one fail, each at its earliest time. */
function seeOutcome (ledger: ClusterLedger, peerId: string, pass: boolean, at: number): ClusterLedger | undefined {
  const known = ledger.outcomes.get(peerId) ?? {}
  const field = pass ? 'passAt' : 'failAt'
  const current = known[field]
  if (current !== undefined && current <= at) return undefined
  return { ...ledger, outcomes: ledger.outcomes.set(peerId, { ...known, [field]: at }) }
}
