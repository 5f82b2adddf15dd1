/** The two things a vendor can say about a release in flight (DESIGN.md, "The shape"; rules 12–14). */
export type OverrideAction = 'halt' | 'clear'

/** The override in force for one scope (the whole release, or one cluster). */
export interface OverrideRecord {
  readonly action: OverrideAction
  /** The vendor's per-app override sequence: the highest wins (rule 12). */
  readonly sequence: number
  /** The vendor's issuedAt, capped by when it was received (as outcomes are). */
  readonly at: number
  /** The vendor's own words, for status lines. */
  readonly reason?: string
}

/** The override in force for one cluster, and where it came from. */
export interface EffectiveOverride extends OverrideRecord {
  scope: 'release' | 'cluster'
}

/**
 * Rule 12: whether `candidate` replaces `known` for one scope. The higher
 * sequence wins. The intake never accepts two overrides with one sequence,
 * but the engine must stay order-independent whatever it is fed, so a tie
 * breaks the same way on every node: halt before clear (the safe side), then
 * the earlier time, then the smaller reason text.
 */
export function overrideWins (candidate: OverrideRecord, known: OverrideRecord | undefined): boolean {
  if (known === undefined) return true
  if (candidate.sequence !== known.sequence) return candidate.sequence > known.sequence
  if (candidate.action !== known.action) return candidate.action === 'halt'
  if (candidate.at !== known.at) return candidate.at < known.at
  return (candidate.reason ?? '') < (known.reason ?? '')
}

/**
 * Rule 12: of the release-wide override and the cluster's own, the one with
 * the higher sequence is in force (a cluster-scoped one does not win merely
 * by being narrower).
 */
export function effectiveOverride (releaseWide: OverrideRecord | undefined, cluster: OverrideRecord | undefined): EffectiveOverride | undefined {
  if (cluster !== undefined && (releaseWide === undefined || overrideWins(cluster, releaseWide))) return { ...cluster, scope: 'cluster' }
  if (releaseWide !== undefined) return { ...releaseWide, scope: 'release' }
  return undefined
}

/** "halted by the vendor (release-wide, override 7): a data loss report" */
export function describeOverride (override: EffectiveOverride): string {
  const verb = override.action === 'halt' ? 'halted' : 'cleared'
  const scope = override.scope === 'release' ? 'release-wide, ' : ''
  const words = override.reason === undefined || override.reason === '' ? '' : `: ${override.reason}`
  return `${verb} by the vendor (${scope}override ${override.sequence})${words}`
}
