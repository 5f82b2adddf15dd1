import { describeProgress } from './cluster-gate.ts'
import type { ClusterVerdict } from './cluster-gate.ts'
import type { ClusterView } from './evaluate.ts'
import type { RolloutState } from './rollout-state.ts'

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

/**
 * Rule 10, in order:
 * 1. Our own outcome decides first: a representative installs right after its
 *    own test passed (Mirage §4: representatives test on the user machine
 *    itself, so a pass there is the strongest evidence there is), and a
 *    failure (even next to a pass) blocks us.
 * 2. 'all-at-once' gates nothing: every machine tests at once, then installs
 *    on its own pass. It exists to measure what staging saves.
 * 3. A failure in our cluster or any transitive prerequisite blocks us.
 * 4. An elected representative tests once its cluster is open.
 * 5. Anyone else installs once our cluster and every prerequisite passed.
 * 6. Otherwise we wait, naming what we wait for and how far it is.
 */
export function decideSelf (state: RolloutState, clusters: readonly ClusterView[], verdicts: ReadonlyMap<string, ClusterVerdict>, now: number): SelfDecision {
  const { self, release } = state
  const ownOutcome = state.clusters.get(self.clusterId)?.outcomes.get(self.peerId)
  if (ownOutcome?.failAt !== undefined) {
    return { action: 'blocked', reason: `blocked: our own test failed in cluster ${self.clusterId}`, blockedBy: [self.clusterId] }
  }
  if (ownOutcome?.passAt !== undefined) return { action: 'install', reason: 'our own test passed' }
  if (release.plan.style === 'all-at-once') {
    return { action: 'test', reason: 'no staging (all-at-once): every machine tests the upgrade itself' }
  }

  const own = clusters.find(view => view.clusterId === self.clusterId)
  // evaluate() always lists our cluster: we are a member of it from the start (rule 2)
  if (own === undefined) throw new Error(`bug: no view of our own cluster ${self.clusterId}`)
  const scope = clusters.filter(view => view.clusterId === self.clusterId || own.prerequisites.includes(view.clusterId))

  const failed = scope.filter(view => view.state === 'failed').map(view => view.clusterId)
  if (failed.length > 0) return { action: 'blocked', reason: `blocked: ${failed.join(', ')} failed`, blockedBy: failed }

  const elected = own.representatives.includes(self.peerId)
  if (elected && own.openedAt !== undefined && own.openedAt <= now) {
    const rank = own.representatives.indexOf(self.peerId) + 1
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
