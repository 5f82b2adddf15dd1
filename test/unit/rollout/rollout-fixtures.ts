import { parsePlanJson } from '../../../src/release/index.ts'
import type { RolloutPlan } from '../../../src/release/index.ts'
import { applyEvent, createRolloutState, evaluate, rankKeyOf } from '../../../src/rollout/index.ts'
import type { ClusterView, RolePreference, RolloutEvent, RolloutSelf, RolloutState, RolloutView } from '../../../src/rollout/index.ts'

/** Timings every fixture plan uses, so boundaries are easy to write down. */
export const START_TIMEOUT_MS = 10_000
export const REPORT_GRACE_MS = 5_000
export const TEST_TIMEOUT_MS = 20_000
/** A started member owes an outcome this long after its start. */
export const SILENCE_MS = TEST_TIMEOUT_MS + REPORT_GRACE_MS
export const RELEASE_ID = 'release-1'

/** A validated, canonical plan (through the release area's own parser). */
export function plan (spec: Record<string, unknown>): RolloutPlan {
  return parsePlanJson(JSON.stringify({ default: { k: 1, q: 1 }, startTimeoutMs: START_TIMEOUT_MS, reportGraceMs: REPORT_GRACE_MS, ...spec }))
}

export interface Scenario {
  plan: RolloutPlan
  self: RolloutSelf
  seenAt?: number
  events?: RolloutEvent[]
  releaseId?: string
}

export function stateOf (scenario: Scenario): RolloutState {
  const release = { id: scenario.releaseId ?? RELEASE_ID, plan: scenario.plan, testTimeoutMs: TEST_TIMEOUT_MS }
  let state = createRolloutState(release, scenario.self, scenario.seenAt ?? 0)
  for (const event of scenario.events ?? []) state = applyEvent(state, event)
  return state
}

export function viewOf (scenario: Scenario, now: number): RolloutView {
  return evaluate(stateOf(scenario), now)
}

export function cluster (view: RolloutView, clusterId: string): ClusterView {
  const found = view.clusters.find(c => c.clusterId === clusterId)
  if (found === undefined) throw new Error(`no view of cluster ${clusterId}`)
  return found
}

export const seen = (clusterId: string, peerId: string, role: RolePreference = 'auto', at = 0): RolloutEvent =>
  ({ type: 'member-seen', at, clusterId, peerId, role })
export const started = (clusterId: string, peerId: string, at: number): RolloutEvent =>
  ({ type: 'test-started', at, clusterId, peerId })
export const outcome = (clusterId: string, peerId: string, pass: boolean, at: number): RolloutEvent =>
  ({ type: 'outcome', at, clusterId, peerId, pass })

/** Members `${prefix}0` … sorted by their rank key for RELEASE_ID: index 0 ranks first among 'auto' peers. */
export function rankedPeers (prefix: string, count: number, releaseId = RELEASE_ID): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`)
    .sort((a, b) => rankKeyOf(releaseId, a) < rankKeyOf(releaseId, b) ? -1 : 1)
}

/** The self of a machine that only observes: a follower in a cluster of its own. */
export const OBSERVER: RolloutSelf = { peerId: 'observer', clusterId: 'observer-cluster', role: 'follower' }

/** A member test-started and passed/failed at the given times. */
export function tested (clusterId: string, peerId: string, startAt: number, pass: boolean, outcomeAt: number): RolloutEvent[] {
  return [started(clusterId, peerId, startAt), outcome(clusterId, peerId, pass, outcomeAt)]
}
