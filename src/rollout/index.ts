/**
 * Rollout: Mirage's staged-deployment engine (SOSP 2007, §4), pure: events in,
 * decisions out. No I/O, no timers, no clock: time arrives inside events and
 * as `evaluate`'s `now`, so the node and the large-scale simulator run this
 * very code.
 *
 * For one release, the engine keeps who is in which cluster, who started
 * testing, and which signed outcomes arrived (`applyEvent`), and answers
 * (`evaluate`) where every cluster stands and what this machine should do:
 * wait, test as a representative, install, or stay blocked.
 *
 * The rules, cited by number in the code:
 * 1. Prerequisites: a cluster's `after` (the default rule's for unnamed
 *    clusters), closed transitively.
 * 2. Membership: only member announcements make members; a peer seen in two
 *    clusters is a member of both; `self` is a member of its cluster.
 * 3. Election (§4.2): eligible members ('follower' never is), volunteers
 *    first, ranked by sha256(releaseId, peerId); kEff = min(k, eligible);
 *    started members keep their seat, free seats go down the ranking.
 * 4. Replacement: an electee that has not started a start timeout after the
 *    cluster opened (or after it was elected) is replaced by the next in
 *    rank; once nobody is left, replaced members get their seats back.
 * 5. Silence: a started member with no outcome by start + test timeout +
 *    report grace counts as a failure.
 * 6. Quorum: qEff = max(1, min(q, kEff)) passes from distinct members and no
 *    failure; outcomes from non-members never count; pass + fail is a fail.
 * 7. Blocking: a failed transitive prerequisite blocks a cluster.
 * 8. An empty cluster (no known member) never satisfies a prerequisite.
 * 9. States: failed > blocked > passed > testing > waiting; empty.
 * 10. This machine's decision (see `SelfDecision`).
 * 11. `nextDeadlineAt`: when the answer may change with no new event.
 */
export { createRolloutState, applyEvent } from './rollout-state.ts'
export type {
  RolePreference, RolloutRelease, RolloutSelf, RolloutEvent, RolloutState, ClusterLedger, MemberRecord, OutcomeRecord
} from './rollout-state.ts'
export { evaluate } from './evaluate.ts'
export type { RolloutView, ClusterView } from './evaluate.ts'
export type { SelfDecision } from './self-decision.ts'
export { ROLE_PREFERENCES } from './constants.ts'
export { rankKeyOf } from './representative-election.ts'
export type { PersistentMap } from './persistent-map.ts'
