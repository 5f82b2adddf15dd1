import type { ClusterLedger } from './rollout-state.ts'

/** What a cluster's members reported, as of `now`. Lists are sorted by peer id. */
export interface OutcomeTally {
  /** Members that announced a start (any role: a started follower's silence counts too). */
  started: string[]
  /** Members with a pass and neither a fail nor a silence. */
  passes: string[]
  /** Members that reported a failure, including those that also reported a pass. */
  failures: string[]
  /** Started members with no outcome by start + test timeout + grace. */
  silent: string[]
  /**
   * Members whose every failure and silence came at or before a vendor's
   * clear: disregarded as failures, counted toward the quorum (rule 14).
   * Never also in `passes`, `failures` or `silent`.
   */
  cleared: string[]
  /** Distinct (peer, verdict) outcomes from peers that are not members: never counted. */
  ignoredOutcomes: number
  /** Times of the counted passes, ascending; a cleared member counts at the clear's time. */
  passTimes: number[]
  /** Future silence deadlines of started members still owing an outcome (rule 11). */
  silenceDeadlines: number[]
}

/**
 * Rules 5 and 6: counts outcomes from members only. Membership is the
 * defence against forged passes: a signature proves who reported, the
 * membership record that the reporter belongs to the cluster (DESIGN.md,
 * "Trust"). A member with both a pass and a fail counts as a failure, the
 * safe direction: faking a failure only delays a rollout.
 *
 * A started member whose outcome has not arrived by s + testTimeout + grace
 * counts as a failure (a machine the upgrade crashed cannot report). An
 * outcome at exactly that deadline is in time; from the deadline on, a member
 * with no outcome at or before it is silent, even if a late outcome arrives.
 *
 * Rule 14: with a clear in force at `clearedAt`, a member whose failure (or
 * silence deadline) is at or before it is cleared: the vendor judged it
 * irrelevant, so it stands for the pass the test would have given, at the
 * clear's time. A failure after the clear is news the vendor has not judged
 * and counts as usual.
 */
export function tallyOutcomes (ledger: ClusterLedger, silenceAfterMs: number, now: number, clearedAt?: number): OutcomeTally {
  const tally: OutcomeTally = { started: [], passes: [], failures: [], silent: [], cleared: [], ignoredOutcomes: 0, passTimes: [], silenceDeadlines: [] }
  for (const [peerId, outcome] of ledger.outcomes) {
    if (!ledger.members.has(peerId)) {
      tally.ignoredOutcomes += (outcome.passAt === undefined ? 0 : 1) + (outcome.failAt === undefined ? 0 : 1)
    }
  }
  for (const peerId of [...ledger.members.keys()].sort()) {
    const outcome = ledger.outcomes.get(peerId)
    const startAt = ledger.starts.get(peerId)
    let silentAt: number | undefined
    if (startAt !== undefined) {
      tally.started.push(peerId)
      const deadline = startAt + silenceAfterMs
      const firstOutcomeAt = Math.min(outcome?.passAt ?? Infinity, outcome?.failAt ?? Infinity)
      if (firstOutcomeAt > deadline) {
        if (deadline <= now) silentAt = deadline
        else tally.silenceDeadlines.push(deadline)
      }
    }
    const silent = silentAt !== undefined
    // A member that went silent and reported a failure later failed last at the failure.
    const lastFailureAt = outcome?.failAt ?? silentAt
    if (clearedAt !== undefined && lastFailureAt !== undefined && lastFailureAt <= clearedAt) {
      tally.cleared.push(peerId)
      tally.passTimes.push(clearedAt)
      continue
    }
    if (silent) tally.silent.push(peerId)
    if (outcome?.failAt !== undefined) tally.failures.push(peerId)
    else if (outcome?.passAt !== undefined && !silent) {
      tally.passes.push(peerId)
      tally.passTimes.push(outcome.passAt)
    }
  }
  tally.passTimes.sort((a, b) => a - b)
  tally.silenceDeadlines.sort((a, b) => a - b)
  return tally
}
