import { describeProgress } from './cluster-gate.ts'
import type { ClusterVerdict } from './cluster-gate.ts'
import type { ClusterView } from './evaluate.ts'
import type { RolloutState } from './rollout-state.ts'
import { describeOverride } from './vendor-override.ts'

/** What this machine should do now (rule 10). */
export type SelfDecision =
  /** Wait for these cluster ids (own cluster and/or prerequisites) to pass. */
  | { action: 'wait', reason: string, waitingFor: string[] }
  /** This machine is an elected representative and may test now. */
  | { action: 'test', reason: string }
  /** A follower whose gate is open, or a representative whose own test passed. */
  | { action: 'install', reason: string }
  /** Failed clusters that block this machine. */
  | { action: 'blocked', reason: string, blockedBy: string[] }
  /** The vendor halted these clusters (ours and/or prerequisites): neither test, download nor install (rule 13). */
  | { action: 'halted', reason: string, haltedBy: string[] }

/**
 * Rule 10, in order:
 * 1. A halt of our cluster, or (unless 'all-at-once', which gates on no
 *    other cluster) of a transitive prerequisite, stops us before anything
 *    else, even a representative whose own test passed (rule 13).
 * 2. Our own outcome decides next: a representative installs right after its
 *    own test passed (Mirage §4: representatives test on the user machine
 *    itself, so a pass there is the strongest evidence there is), and a
 *    failure (even next to a pass) blocks us, unless a clear covers it: then
 *    it counts as our pass (rule 14). A cleared silence of ours is no
 *    outcome: we are told what any member would be (test again, if elected).
 * 3. 'all-at-once' gates nothing: every machine tests at once, then installs
 *    on its own pass. It exists to measure what staging saves.
 * 4. A failure in our cluster or any transitive prerequisite blocks us,
 *    with one exception: a representative elected at the opening still
 *    tests until its start timeout has passed, when only its own cluster
 *    failed, and failed after the opening (a failure known before it is
 *    what staging is for). Its test runs in staging, so it risks nothing
 *    on this machine, and the cluster's exposure is then the
 *    representatives it elected, not whichever of them happened to start
 *    before a fellow's failure arrived (a lookup on a loaded machine can
 *    delay one by seconds), so a real run and the simulator count the same
 *    overhead; the vendor gets a report from each of them.
 * 5. An elected representative tests once its cluster is open.
 * 6. Anyone else installs once our cluster and every prerequisite passed.
 * 7. Otherwise we wait, naming what we wait for and how far it is.
 */
export function decideSelf (state: RolloutState, clusters: readonly ClusterView[], verdicts: ReadonlyMap<string, ClusterVerdict>, now: number): SelfDecision {
  const { self, release } = state
  const own = clusters.find(view => view.clusterId === self.clusterId)
  // evaluate() always lists our cluster: we are a member of it from the start (rule 2)
  if (own === undefined) throw new Error(`bug: no view of our own cluster ${self.clusterId}`)
  const gated = release.plan.style !== 'all-at-once'
  const scope = clusters.filter(view => view.clusterId === self.clusterId || (gated && own.prerequisites.includes(view.clusterId)))

  // The override itself, not the state: an empty prerequisite under a halt shows 'empty' but is halted all the same.
  const halted = scope.filter(view => view.override?.action === 'halt')
  if (halted.length > 0) {
    const what = halted.map(view => view.clusterId === self.clusterId ? `cluster ${view.clusterId}` : `prerequisite ${view.clusterId}`)
    const only = halted.length === 1 ? halted[0]?.override : undefined
    const override = only === undefined ? 'halted by the vendor' : describeOverride(only)
    return { action: 'halted', reason: `${what.join(', ')} ${override}`, haltedBy: halted.map(view => view.clusterId) }
  }

  const ownOutcome = state.clusters.get(self.clusterId)?.outcomes.get(self.peerId)
  if (ownOutcome?.failAt !== undefined) {
    // A clear of our silence alone is no evidence: we never finished, so we are told what anyone else is.
    if (own.cleared.includes(self.peerId)) return { action: 'install', reason: 'our own test failed and the vendor cleared the failure' }
    return { action: 'blocked', reason: `blocked: our own test failed in cluster ${self.clusterId}`, blockedBy: [self.clusterId] }
  }
  if (ownOutcome?.passAt !== undefined) return { action: 'install', reason: 'our own test passed' }
  if (!gated) {
    return { action: 'test', reason: 'no staging (all-at-once): every machine tests the upgrade itself' }
  }

  const elected = own.representatives.includes(self.peerId)
  const open = elected && own.openedAt !== undefined && own.openedAt <= now
  const rank = own.representatives.indexOf(self.peerId) + 1
  const failed = scope.filter(view => view.state === 'failed').map(view => view.clusterId)
  if (failed.length > 0) {
    if (open && failed.length === 1 && failed[0] === self.clusterId && withinFirstStartWindow(own, state.release.plan.startTimeoutMs, now) &&
      failedSinceOpening(state, own)) {
      return {
        action: 'test',
        reason: `elected representative ${rank} of ${own.representatives.length} in cluster ${self.clusterId}: test the upgrade now, although the cluster failed meanwhile (every representative elected at the opening tests)`
      }
    }
    return { action: 'blocked', reason: `blocked: ${failed.join(', ')} failed`, blockedBy: failed }
  }

  if (open) {
    return { action: 'test', reason: `elected representative ${rank} of ${own.representatives.length} in cluster ${self.clusterId}: test the upgrade now` }
  }

  const waitingFor = scope.filter(view => view.state !== 'passed').map(view => view.clusterId)
  if (waitingFor.length === 0) {
    const what = own.prerequisites.length === 0 ? `cluster ${self.clusterId}` : `cluster ${self.clusterId} and its prerequisites`
    return { action: 'install', reason: `${what} passed` }
  }
  const role = elected ? 'elected representative; ' : ''
  return { action: 'wait', reason: `${role}waiting for ${describeProgress(waitingFor, verdicts)}`, waitingFor }
}

/**
 * Whether `now` is still in the first start window of the cluster's opening
 * (rule 4's first generation): the representatives seated then are the ones
 * the opening elected. Exported for the engine's deadline (evaluate).
 */
export function withinFirstStartWindow (own: ClusterView, startTimeoutMs: number, now: number): boolean {
  return own.openedAt !== undefined && own.openedAt <= now && now < own.openedAt + startTimeoutMs
}

/**
 * Whether every failure and silence of `own` came at or after its opening,
 * by the times the events carry (a silence counts from its deadline).
 */
function failedSinceOpening (state: RolloutState, own: ClusterView): boolean {
  const { openedAt } = own
  const ledger = state.clusters.get(own.clusterId)
  if (openedAt === undefined || ledger === undefined) return false
  const silenceMs = state.release.testTimeoutMs + state.release.plan.reportGraceMs
  const failedAt = [
    ...own.failures.map(peerId => ledger.outcomes.get(peerId)?.failAt ?? -Infinity),
    ...own.silent.map(peerId => (ledger.starts.get(peerId) ?? -Infinity) + silenceMs)
  ]
  return failedAt.every(at => at >= openedAt)
}
