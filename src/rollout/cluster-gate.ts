import type { DefaultRule, PlanStyle, RolloutPlan } from '../release/index.ts'
import type { EffectiveOverride } from './vendor-override.ts'

/**
 * The rule of every cluster: its own if the plan names it, else the default
 * (rule 1). A map, because `ruleForCluster` scans the plan and a plan may
 * name a thousand clusters.
 */
export function ruleLookup (plan: RolloutPlan): (clusterId: string) => DefaultRule {
  const named = new Map<string, DefaultRule>(plan.clusters.map(rule => [rule.name, rule]))
  return clusterId => named.get(clusterId) ?? plan.default
}

/**
 * Rule 1: each cluster's prerequisites are its rule's `after`, closed
 * transitively through the named clusters, sorted. Memoised, so a chain of n
 * clusters costs O(n²) rather than O(n³). Plans are validated acyclic; the
 * in-progress guard only guarantees termination (a cluster on a cycle would
 * wait on itself forever: the safe side).
 */
export function prerequisiteClosures (plan: RolloutPlan, clusterIds: Iterable<string>): Map<string, string[]> {
  const ruleOf = ruleLookup(plan)
  const memo = new Map<string, Set<string>>()
  const closureOf = (clusterId: string): Set<string> => {
    const known = memo.get(clusterId)
    if (known !== undefined) return known
    const closure = new Set<string>()
    memo.set(clusterId, closure) // in progress: a cycle sees a partial set instead of looping
    for (const prerequisite of ruleOf(clusterId).after) {
      closure.add(prerequisite)
      for (const further of closureOf(prerequisite)) closure.add(further)
    }
    return closure
  }
  return new Map([...clusterIds].map(id => [id, [...closureOf(id)].sort()]))
}

/** The sorted transitive prerequisites of one cluster (rule 1). */
export function prerequisiteClosure (plan: RolloutPlan, clusterId: string): string[] {
  return prerequisiteClosures(plan, [clusterId]).get(clusterId) ?? []
}

/** A cluster's own result, before looking at its prerequisites. */
export interface ClusterVerdict {
  members: number
  /** What counts toward the quorum: passes and cleared members (rule 14). */
  passes: number
  quorum: number
  /** A member failed or went silent, and no clear covers it (rules 5, 6, 14). */
  failed: boolean
  /** The override in force is a halt (rule 13). */
  halted: boolean
  /** When the quorum of passes was reached, if it was and nothing failed. */
  quorumAt?: number
}

/** Where a cluster stands with respect to its prerequisites. */
export interface Gate {
  /** Failed prerequisites (rule 7). */
  blockedBy: string[]
  /** Prerequisites that have not passed yet, failed ones aside (rule 8: an empty one has not passed). */
  waitingOn: string[]
  /** When its representatives may start (rule 4). */
  openedAt?: number
  /** When the cluster passed (see `passTimes`). */
  passedAt?: number
}

/**
 * Rules 6, 7, 8, 13: when each cluster passed: it has members, its own quorum
 * was reached, nothing in it failed, nothing in its closure failed (a
 * blocked cluster has not passed, whatever its own representatives said),
 * and it is not halted (a halt takes back a pass, so nothing gates on it).
 * An empty cluster never passes, so a membership lag cannot open a gate.
 */
export function passTimes (closures: ReadonlyMap<string, readonly string[]>, verdicts: ReadonlyMap<string, ClusterVerdict>): Map<string, number> {
  const failed = (id: string): boolean => verdicts.get(id)?.failed === true
  const passed = new Map<string, number>()
  for (const [id, verdict] of verdicts) {
    if (verdict.members === 0 || verdict.failed || verdict.halted || verdict.quorumAt === undefined) continue
    if ((closures.get(id) ?? []).some(failed)) continue
    passed.set(id, verdict.quorumAt)
  }
  return passed
}

/**
 * Rules 4, 7, 13, 14: the gate of one cluster.
 *
 * - Blocked when any transitive prerequisite failed: an upgrade that broke a
 *   cluster the vendor put first must not reach the ones it guards (§4).
 * - Opened ('staged') once every transitive prerequisite passed, at the
 *   latest of those passes and our first sight of the release.
 *   'front-loading' opens every cluster at first sight (its followers still
 *   gate). 'all-at-once' has no gate: it opens at first sight too, so its
 *   views still show who a staged plan would have elected.
 * - Closed while the cluster is halted: nobody may start, so nobody is
 *   replaced for not starting (rule 13).
 * - Under a clear, opened no earlier than the clear: representatives held
 *   back by a failure or a halt get a full start timeout from it (rule 14).
 */
export function gateOf (
  clusterId: string, closure: readonly string[], verdicts: ReadonlyMap<string, ClusterVerdict>,
  passed: ReadonlyMap<string, number>, style: PlanStyle, seenAt: number, override?: EffectiveOverride
): Gate {
  const blockedBy = closure.filter(id => verdicts.get(id)?.failed === true)
  const gate: Gate = {
    blockedBy,
    waitingOn: closure.filter(id => !passed.has(id) && verdicts.get(id)?.failed !== true)
  }
  const passedAt = passed.get(clusterId)
  if (passedAt !== undefined) gate.passedAt = passedAt
  if (override?.action === 'halt') return gate
  const notBefore = override?.action === 'clear' ? Math.max(seenAt, override.at) : seenAt
  if (style !== 'staged') {
    gate.openedAt = notBefore
  } else if (blockedBy.length === 0 && gate.waitingOn.length === 0) {
    gate.openedAt = closure.reduce((latest, id) => Math.max(latest, passed.get(id) ?? Infinity), notBefore)
  }
  return gate
}

/** "1/2 passes", "halted" or "no known members": how far a cluster is from passing. */
export function progressOf (verdict: ClusterVerdict | undefined): string {
  if (verdict === undefined || verdict.members === 0) return 'no known members'
  if (verdict.halted) return 'halted'
  return `${verdict.passes}/${verdict.quorum} passes`
}

/** "a (1/2 passes), b (no known members)" */
export function describeProgress (clusterIds: readonly string[], verdicts: ReadonlyMap<string, ClusterVerdict>): string {
  return clusterIds.map(id => `${id} (${progressOf(verdicts.get(id))})`).join(', ')
}
