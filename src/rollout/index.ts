/**
 * Rollout: Mirage's staged-deployment engine (SOSP 2007, §4), pure: events in,
 * decisions out. No I/O, no timers, no clock: time arrives inside events and
 * as `evaluate`'s `now`, so the node and the large-scale simulator run this
 * very code.
 *
 * For one release, the engine keeps who is in which cluster, who started
 * testing, and which signed outcomes arrived (`applyEvent`), and answers
 * (`evaluate`) where every cluster stands and what this machine should do:
 * wait, test as a representative, install, stay blocked, or stay halted.
 * The vendor's halt and clear overrides (DESIGN.md, "The shape") are events
 * like any other.
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
 * 9. States: halted > failed > blocked > passed > testing > waiting; empty
 *    (a cluster with no known member) before all.
 * 10. This machine's decision (see `SelfDecision`).
 * 11. `nextDeadlineAt`: when the answer may change with no new event.
 * 12. Overrides: a vendor override halts or clears one cluster or, with no
 *    cluster, every cluster of the release. Per cluster, the override in
 *    force is the one with the highest sequence among its own and the
 *    release-wide one: a narrower scope does not win by being narrower.
 *    Only the winner per scope is kept, so the order of arrival never
 *    matters (equal sequences, which the intake refuses, break toward halt).
 * 13. Halt: a halted cluster shows 'halted' and has not passed (a pass
 *    before the halt is taken back), so nothing that gates on it opens and
 *    its dependents wait; it is closed (no representative may start, none
 *    is replaced). A machine whose cluster or a transitive prerequisite is
 *    halted is told 'halted', before anything else, even after its own
 *    test passed: no test, download or install. A machine that already
 *    installed is the node's business, not the engine's.
 * 14. Clear: the vendor judged the failures so far irrelevant. A member
 *    whose failure (or silence deadline) is at or before the clear's `at`
 *    is cleared: it no longer fails the cluster and counts toward the
 *    quorum as a pass at the clear's time (the vendor examined the upgrade
 *    in that environment and vouched for it), so a cluster whose every
 *    representative failed passes once cleared, while a cluster that had
 *    not failed still needs its quorum of real passes: a release-wide clear
 *    after a release-wide halt resumes the staging, it does not skip it. A
 *    failure after the clear counts as usual. A cleared cluster opens no
 *    earlier than the clear, so representatives held back get a full start
 *    timeout. An empty cluster stays unsatisfied (rule 8).
 */
export { createRolloutState, applyEvent } from './rollout-state.ts'
export type {
  RolePreference, RolloutRelease, RolloutSelf, RolloutEvent, RolloutState, ClusterLedger, MemberRecord, OutcomeRecord
} from './rollout-state.ts'
export { evaluate } from './evaluate.ts'
export type { RolloutView, ClusterView } from './evaluate.ts'
export type { SelfDecision } from './self-decision.ts'
export type { OverrideAction, OverrideRecord, EffectiveOverride } from './vendor-override.ts'
export { ROLE_PREFERENCES } from './constants.ts'
export { rankKeyOf } from './representative-election.ts'
export type { PersistentMap } from './persistent-map.ts'
