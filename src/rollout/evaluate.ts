import type { DefaultRule } from '../release/index.ts'
import { describeProgress, gateOf, passTimes, prerequisiteClosures, ruleLookup } from './cluster-gate.ts'
import type { ClusterVerdict, Gate } from './cluster-gate.ts'
import { REASON_PEER_ID_CHARS } from './constants.ts'
import { tallyOutcomes } from './outcome-tally.ts'
import type { OutcomeTally } from './outcome-tally.ts'
import { electRepresentatives, rankEligible } from './representative-election.ts'
import type { Election } from './representative-election.ts'
import { EMPTY_LEDGER } from './rollout-state.ts'
import type { ClusterLedger, RolloutState } from './rollout-state.ts'
import { decideSelf, withinFirstStartWindow } from './self-decision.ts'
import type { SelfDecision } from './self-decision.ts'
import { describeOverride, effectiveOverride } from './vendor-override.ts'
import type { EffectiveOverride } from './vendor-override.ts'

/** Where one cluster stands in this release's rollout, as of `now`. */
export interface ClusterView {
  clusterId: string
  /** From the plan (a named cluster) or the plan's default rule. */
  rule: { after: string[], k: number, q: number }
  /** Transitive closure of `after`, sorted (rule 1). */
  prerequisites: string[]
  /** Distinct members seen. */
  members: number
  /** Members whose role is not 'follower'. */
  eligible: number
  /** Current electees, in rank order (rules 3, 4). */
  representatives: string[]
  /** Electees skipped because they never started in time, in rank order (rule 4). */
  replaced: string[]
  /** Members that announced a start, sorted. */
  started: string[]
  /** Distinct members with a passing outcome (and no failure), sorted. */
  passes: string[]
  /** Distinct members with a failing outcome no clear covers, sorted. */
  failures: string[]
  /** Started members with no outcome by start + testTimeoutMs + reportGraceMs, no clear covering it, sorted (rule 5). */
  silent: string[]
  /** Members whose failure or silence a vendor's clear disregarded; they count toward the quorum, sorted (rule 14). */
  cleared: string[]
  /** Outcomes from peers that are not members of this cluster: never counted (rule 6). */
  ignoredOutcomes: number
  /** Effective quorum: max(1, min(q, kEff)) (rule 6). */
  quorum: number
  state: 'empty' | 'waiting' | 'testing' | 'passed' | 'failed' | 'blocked' | 'halted'
  /** The vendor override in force for this cluster, release-wide or its own (rule 12). */
  override?: EffectiveOverride
  /** When representatives may start (rule 4); never while halted (rule 13). */
  openedAt?: number
  /** When the quorum of passes was reached, if the cluster passed. */
  passedAt?: number
  /** One human sentence. */
  reason: string
}

/** The engine's answer for one release on one node. */
export interface RolloutView {
  /** Every cluster with a member seen plus every cluster named in the plan, sorted by id. */
  clusters: ClusterView[]
  self: SelfDecision
  /** Earliest time after `now` at which the answer may change with no new event (rule 11). */
  nextDeadlineAt?: number
}

/** Phase one: what a cluster's own members did, independent of other clusters. */
interface ClusterFacts {
  clusterId: string
  rule: DefaultRule
  ledger: ClusterLedger
  ranking: string[]
  seats: number
  tally: OutcomeTally
  verdict: ClusterVerdict
  override?: EffectiveOverride
}

/**
 * The decisions as of `now`: pure, a function of the set of events applied
 * (not their order) and of `now`. Two phases, because a cluster's gate
 * depends on its prerequisites' verdicts but a verdict depends only on the
 * cluster's own members.
 */
export function evaluate (state: RolloutState, now: number): RolloutView {
  const { plan } = state.release
  const ids = new Set(plan.clusters.map(rule => rule.name))
  for (const [id, ledger] of state.clusters) if (ledger.members.size > 0) ids.add(id)
  const clusterIds = [...ids].sort()

  const ruleOf = ruleLookup(plan)
  const closures = prerequisiteClosures(plan, clusterIds)
  const facts = new Map(clusterIds.map(id => [id, factsOf(state, id, ruleOf(id), now)]))
  const verdicts = new Map([...facts].map(([id, fact]) => [id, fact.verdict]))
  const passed = passTimes(closures, verdicts)

  const clusters: ClusterView[] = []
  const deadlines: number[] = []
  for (const id of clusterIds) {
    const fact = facts.get(id) as ClusterFacts
    const closure = closures.get(id) ?? []
    const gate = gateOf(id, closure, verdicts, passed, plan.style, state.seenAt, fact.override)
    const eligible = new Set(fact.ranking)
    const startedAt = new Map([...fact.ledger.starts].filter(([peerId]) => eligible.has(peerId)))
    const election = electRepresentatives({
      ranking: fact.ranking, startedAt, seats: fact.seats, startTimeoutMs: plan.startTimeoutMs, now,
      ...(gate.openedAt === undefined ? {} : { openedAt: gate.openedAt })
    })
    clusters.push(viewOf(fact, closure, gate, election, verdicts))
    deadlines.push(...fact.tally.silenceDeadlines)
    if (election.nextReplacementAt !== undefined) deadlines.push(election.nextReplacementAt)
  }

  const view: RolloutView = { clusters, self: decideSelf(state, clusters, verdicts, now) }
  // An opening still ahead only matters to an elected representative: at
  // the opening it is told to test (rule 10), whatever it was told before
  // (before the opening it is no representative yet, so it may even have
  // been told to install behind a cluster that passed without it).
  const own = clusters.find(c => c.clusterId === state.self.clusterId)
  if (own?.openedAt !== undefined && own.openedAt > now && own.representatives.includes(state.self.peerId)) {
    // Only a real change is a deadline (a failed cluster stays failed).
    const atOpening = evaluate(state, own.openedAt).self
    if (atOpening.action !== view.self.action || atOpening.reason !== view.self.reason) deadlines.push(own.openedAt)
  }
  // A representative that tests past its own cluster's failure does so only in the first start window (rule 10.4).
  // Under all-at-once every machine tests whatever failed (no rule 10.4), so its window's end changes nothing.
  if (own !== undefined && own.openedAt !== undefined && plan.style !== 'all-at-once' && view.self.action === 'test' && own.state === 'failed' &&
    withinFirstStartWindow(own, plan.startTimeoutMs, now)) {
    deadlines.push(own.openedAt + plan.startTimeoutMs)
  }
  const next = deadlines.reduce((earliest, at) => at > now && at < earliest ? at : earliest, Infinity)
  if (Number.isFinite(next)) view.nextDeadlineAt = next
  return view
}

/**
 * Rules 3, 5, 6, 12–14: membership, ranking, kEff = min(k, eligible),
 * qEff = max(1, min(q, kEff)), the override in force, and the outcome tally
 * under it. A cluster with no eligible member still needs one pass
 * (qEff ≥ 1): a rule can shrink with a small cluster but never vanish.
 */
function factsOf (state: RolloutState, clusterId: string, rule: DefaultRule, now: number): ClusterFacts {
  const { plan, testTimeoutMs } = state.release
  const ledger = state.clusters.get(clusterId) ?? EMPTY_LEDGER
  const ranking = rankEligible([...ledger.members].map(([peerId, member]) => ({ peerId, ...member })))
  const seats = Math.min(rule.k, ranking.length)
  const quorum = Math.max(1, Math.min(rule.q, seats))
  const override = effectiveOverride(state.override, ledger.override)
  const clearedAt = override?.action === 'clear' ? override.at : undefined
  const tally = tallyOutcomes(ledger, testTimeoutMs + plan.reportGraceMs, now, clearedAt)
  const failed = tally.failures.length > 0 || tally.silent.length > 0
  const verdict: ClusterVerdict = {
    members: ledger.members.size, passes: tally.passTimes.length, quorum, failed, halted: override?.action === 'halt'
  }
  const quorumAt = tally.passTimes[quorum - 1]
  if (!failed && quorumAt !== undefined) verdict.quorumAt = quorumAt
  const facts: ClusterFacts = { clusterId, rule, ledger, ranking, seats, tally, verdict }
  if (override !== undefined) facts.override = override
  return facts
}

/** Rule 9: halted > failed > blocked > passed > testing > waiting; empty when nobody is known. */
function viewOf (
  fact: ClusterFacts, prerequisites: string[], gate: Gate, election: Election, verdicts: ReadonlyMap<string, ClusterVerdict>
): ClusterView {
  const { rule, tally, verdict } = fact
  const view: ClusterView = {
    clusterId: fact.clusterId,
    rule: { after: [...rule.after], k: rule.k, q: rule.q },
    prerequisites,
    members: verdict.members,
    eligible: fact.ranking.length,
    representatives: election.representatives,
    replaced: election.replaced,
    started: tally.started,
    passes: tally.passes,
    failures: tally.failures,
    silent: tally.silent,
    cleared: tally.cleared,
    ignoredOutcomes: tally.ignoredOutcomes,
    quorum: verdict.quorum,
    state: 'waiting',
    reason: ''
  }
  if (fact.override !== undefined) view.override = fact.override
  if (gate.openedAt !== undefined) view.openedAt = gate.openedAt
  if (gate.passedAt !== undefined) view.passedAt = gate.passedAt

  const cleared = tally.cleared.length === 0 ? '' : ` (${tally.cleared.length} cleared by the vendor)`
  const progress = `${verdict.passes}/${verdict.quorum} passes${cleared}`
  if (verdict.members === 0) {
    view.state = 'empty'
    view.reason = 'no known members'
  } else if (fact.override?.action === 'halt') {
    view.state = 'halted'
    view.reason = describeOverride(fact.override)
  } else if (verdict.failed) {
    view.state = 'failed'
    view.reason = `failed: ${failureCauses(tally).join('; ')}`
  } else if (gate.blockedBy.length > 0) {
    view.state = 'blocked'
    view.reason = `blocked: ${plural(gate.blockedBy, 'prerequisite', 'prerequisites')} ${gate.blockedBy.join(', ')} failed`
  } else if (gate.passedAt !== undefined) {
    view.state = 'passed'
    view.reason = `passed: ${progress}`
  } else if (gate.openedAt === undefined) {
    view.reason = `waiting for ${plural(gate.waitingOn, 'prerequisite', 'prerequisites')} ${describeProgress(gate.waitingOn, verdicts)}`
  } else if (election.representatives.length === 0) {
    view.reason = `waiting: no eligible member to test (all ${verdict.members} are followers)`
  } else {
    view.state = 'testing'
    const replaced = election.replaced.length > 0 ? `, ${election.replaced.length} replaced` : ''
    view.reason = `testing: ${progress} from ${election.representatives.length} ${plural(election.representatives, 'representative', 'representatives')}${replaced}`
  }
  return view
}

function failureCauses (tally: OutcomeTally): string[] {
  const causes: string[] = []
  if (tally.failures.length > 0) {
    causes.push(`${tally.failures.map(shortPeerId).join(', ')} reported ${plural(tally.failures, 'a failure', 'failures')}`)
  }
  if (tally.silent.length > 0) {
    causes.push(`${tally.silent.map(shortPeerId).join(', ')} started testing and went silent`)
  }
  return causes
}

function shortPeerId (peerId: string): string {
  return peerId.length > REASON_PEER_ID_CHARS + 1 ? `${peerId.slice(0, REASON_PEER_ID_CHARS)}…` : peerId
}

function plural (items: readonly unknown[], one: string, many: string): string {
  return items.length === 1 ? one : many
}
