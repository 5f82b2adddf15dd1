import { createHash } from 'node:crypto'
import type { RolePreference } from './rollout-state.ts'

/**
 * A member's place in the ranking: sha256(`${releaseId}\n${peerId}`) in hex.
 * Every node computes the same ranking from the same members with no
 * coordination (Mirage §4.2: a cluster's representatives are picked
 * deterministically), and salting with the release id spreads the burden of
 * testing first over different machines from one release to the next.
 */
export function rankKeyOf (releaseId: string, peerId: string): string {
  return createHash('sha256').update(`${releaseId}\n${peerId}`).digest('hex')
}

/** What the ranking needs to know about a member. */
export interface RankedMember {
  peerId: string
  role: RolePreference
  rankKey: string
}

/**
 * The eligible members in rank order (rule 3): volunteers ('representative')
 * first, then 'auto', each group by ascending rank key; 'follower' is never
 * elected. Equal keys cannot happen for distinct peers short of a SHA-256
 * collision; the peer id breaks such a tie anyway so the order is total.
 */
export function rankEligible (members: Iterable<RankedMember>): string[] {
  const eligible = [...members].filter(member => member.role !== 'follower')
  return eligible
    .sort((a, b) =>
      groupOf(a.role) - groupOf(b.role) ||
      compare(a.rankKey, b.rankKey) ||
      compare(a.peerId, b.peerId))
    .map(member => member.peerId)
}

export interface ElectionInput {
  /** Eligible members in rank order (see `rankEligible`). */
  ranking: readonly string[]
  /** Earliest start announcement of each member that started (members only). */
  startedAt: ReadonlyMap<string, number>
  /** kEff = min(rule.k, eligible) (rule 3). */
  seats: number
  /** When representatives may start (rule 4); undefined while the cluster waits: nobody is replaced then. */
  openedAt?: number
  startTimeoutMs: number
  now: number
}

export interface Election {
  /** Current electees, in rank order: every started eligible member, plus the best-ranked others for the free seats. */
  representatives: string[]
  /** Members skipped because they did not start in time and hold no seat now, in rank order. */
  replaced: string[]
  /** The next generation boundary, when electees that have not started yet would be replaced. */
  nextReplacementAt?: number
}

/**
 * Rules 3 and 4: who tests. Started eligible members always keep their seat
 * (they are testing; displacing them would waste a test and hide its
 * outcome). Free seats go down the ranking, skipping replaced members.
 *
 * Replacement walks the generation boundaries b_g = openedAt + g·startTimeout
 * (g = 1, 2, …, b_g ≤ now): at each one, electees that had not started by b_g
 * (a start at exactly b_g is in time) are replaced, and the newcomers get a
 * full start timeout of their own, to b_{g+1}. A member is replaced at most
 * once, so a boundary that replaces nobody means every seat is held by a
 * started member or a second-chance one, which no later boundary can undo:
 * the walk stops there, after at most one step per eligible member, however
 * far `now` is.
 */
export function electRepresentatives (input: ElectionInput): Election {
  const { openedAt, startTimeoutMs, startedAt, now } = input
  const current = electAt(input, now)
  const election = visible(input, current)
  // Only an electee on its first chance can still be replaced; a second-chance one keeps its seat.
  const firstChance = current.representatives.some(peerId => !startedAt.has(peerId) && !current.replaced.has(peerId))
  if (openedAt !== undefined && firstChance) {
    const g = now < openedAt ? 1 : Math.floor((now - openedAt) / startTimeoutMs) + 1
    const boundary = openedAt + g * startTimeoutMs
    // Replacing a member can hand its seat straight back (nobody else left) or
    // reshuffle second chances: report the boundary only if the answer changes
    // there. A boundary that changes nothing seats no newcomer, so no later
    // one can change anything either.
    const then = visible(input, electAt(input, boundary))
    if (!sameList(then.representatives, election.representatives) || !sameList(then.replaced, election.replaced)) {
      election.nextReplacementAt = boundary
    }
  }
  return election
}

/** Seats and every member replaced by `now` (seated again or not). */
function electAt (input: ElectionInput, now: number): { representatives: string[], replaced: Set<string> } {
  const { ranking, startedAt, seats, openedAt, startTimeoutMs } = input
  const replaced = new Set<string>()
  if (openedAt !== undefined) {
    for (let g = 1; openedAt + g * startTimeoutMs <= now; g++) {
      const boundary = openedAt + g * startTimeoutMs
      const startedBy = (peerId: string): boolean => (startedAt.get(peerId) ?? Infinity) <= boundary
      const late = electees(ranking, startedBy, replaced, seats).filter(peerId => !startedBy(peerId) && !replaced.has(peerId))
      if (late.length === 0) break
      for (const peerId of late) replaced.add(peerId)
    }
  }
  return { representatives: electees(ranking, peerId => startedAt.has(peerId), replaced, seats), replaced }
}

/** What a view shows: the seats, and the replaced members that hold none. */
function visible (input: ElectionInput, election: { representatives: string[], replaced: Set<string> }): Election {
  const seated = new Set(election.representatives)
  return {
    representatives: election.representatives,
    replaced: input.ranking.filter(peerId => election.replaced.has(peerId) && !seated.has(peerId))
  }
}

/**
 * Started members, then the free seats filled down the ranking skipping
 * replaced members; returned in rank order. When the ranking is exhausted,
 * replaced members get their seats back in rank order: rule 4 hands a seat to
 * "the next in rank", and with nobody next an empty seat would stall the
 * cluster for good, while a slow electee may still start.
 */
function electees (ranking: readonly string[], started: (peerId: string) => boolean, replaced: ReadonlySet<string>, seats: number): string[] {
  const chosen = new Set(ranking.filter(started))
  let free = seats - chosen.size
  for (const secondChance of [false, true]) {
    for (const peerId of ranking) {
      if (free <= 0) break
      if (chosen.has(peerId) || (!secondChance && replaced.has(peerId))) continue
      chosen.add(peerId)
      free--
    }
  }
  return ranking.filter(peerId => chosen.has(peerId))
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i])
}

function groupOf (role: RolePreference): number {
  return role === 'representative' ? 0 : 1
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
