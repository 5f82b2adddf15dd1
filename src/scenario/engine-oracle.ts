import { hash } from 'node:crypto'
import { applyEvent, createRolloutState, evaluate } from '../rollout/index.ts'
import type { RolloutEvent, RolloutRelease, RolloutState, SelfDecision } from '../rollout/index.ts'
import type { RolloutPlan } from '../release/index.ts'

/**
 * The simulator's bridge to the rollout engine (src/rollout): the SAME
 * `createRolloutState`/`applyEvent`/`evaluate` a node runs, fed with what
 * the swarm has gossiped, for one release.
 *
 * A node's engine state holds every member it learnt of; a simulator that
 * gave each of a million machines a state with every member would do
 * 10¹² things. It needs far less, because what the engine decides for a
 * machine depends on the swarm only through a few facts, and those facts
 * come from a few machines:
 *
 * 1. One shared state ("what every online machine has heard"): gossip
 *    reaches every online machine after the same delay, and a machine that
 *    was offline catches up by sync on its return, so in the model every
 *    online machine holds the same events. A machine's own decision is then
 *    `evaluate` of that state with `self` set to it (an O(1) copy) plus its
 *    own start and outcome, which it knows at once.
 * 2. The members that matter (the *ballot*): the election (rule 3-4) is
 *    the best-ranked members that started, then down the ranking. Let P be
 *    the ranking's prefix (over the whole cluster, late joiners included)
 *    that ends with the k-th machine that is online throughout (joins at 0,
 *    never churned). Such a machine starts within its start timeout once
 *    elected, so it is never replaced; seats are filled down the ranking
 *    and P holds k unreplaceable members, so no election, at any time,
 *    reaches past P. Feeding P (each at its join) therefore gives the same
 *    representatives, replacements, seats (kEff = min(k, eligible) = k as
 *    P holds k eligible members) and quorum (qEff) as feeding everyone.
 *    A cluster with fewer such machines gets all its members fed.
 * 3. Outcomes: a cluster's verdict depends on its members' outcomes only
 *    through "some member failed or went silent" and the q-th earliest pass
 *    (rules 5-6; no vendor override is modelled, so nothing clears a
 *    failure). Outcomes of ballot members are always fed; others' (a
 *    follower's failed health check, every machine under all-at-once) are
 *    fed with their member record while the cluster has no failure yet, or
 *    has fewer passes than its rule's q: later ones cannot change a verdict.
 *    Starts of machines outside the ballot are fed when they can matter: a
 *    machine that dies while testing, whose silence fails its cluster
 *    (rule 5).
 * 4. Classes: `decideSelf` depends on the machine only through its own
 *    outcome, whether it is elected (and, then, its own first sight of the
 *    release, which sets its opening and so its replacement boundaries: a
 *    machine back from an outage may still count itself elected where
 *    others replaced it), and its cluster. Only ballot members can be
 *    elected in anyone's view (an always-on machine sees the release first,
 *    so in every later-sighted view it started even earlier). So ballot
 *    members are asked alone, and everyone else in classes per cluster:
 *    "no outcome", "own pass", "own fail". A class's answer is cached
 *    until the shared state changes or the engine's `nextDeadlineAt`
 *    (rule 11) comes, when it may change with no event.
 *
 * What differs from a node is therefore what the model says (equal gossip
 * delays, instant catch-up), not what the engine decides from it. The
 * views' member counts cover the fed members only; they are not reported.
 */
export interface OracleInit {
  release: RolloutRelease
  /** Cluster names in the simulation's order. */
  clusters: readonly string[]
  /** First machine of each cluster (global index) and size. */
  clusterStart: Int32Array
  clusterSize: Int32Array
  peerIdOf: (machine: number) => string
  /** Online from 0 to the end: the machines that bound the ballot. */
  alwaysOn: (machine: number) => boolean
  /** When the machine announces itself (its join). */
  joinAt: (machine: number) => number
  /** Which clusters the release is for. */
  targeted: readonly boolean[]
  /** When the release reached the machines online at its publication: the shared state's first sight. */
  seenAt: number
  /** Ballots computed for this release id before (they depend on the release id and population only). */
  ballots?: Ballots
  /**
   * Reference mode, for tests of the simplifications above: every machine of
   * a cluster is on the ballot, every start and outcome is fed, and every
   * machine is asked on its own (no classes). Slow: O(n) per evaluation.
   */
  reference?: boolean
}

/** Per cluster: the ballot (machine indices, best rank first) and a low-ranked always-on machine. */
export interface Ballots {
  members: Int32Array[]
  anchor: Int32Array
}

/** The cached answer of one class. */
interface ClassAnswer {
  version: number
  at: number
  validUntil: number
  decision: SelfDecision
}

export class EngineOracle {
  readonly release: RolloutRelease
  readonly ballots: Ballots
  /** Bumped at every change of the shared state: class answers of an older version are stale. */
  version = 0
  #shared: RolloutState
  readonly #init: OracleInit
  readonly #inBallot: Map<number, number>
  /** Machines outside the ballot whose member record was fed. */
  readonly #fedMembers = new Set<number>()
  readonly #fedFailure: Uint8Array
  readonly #fedPasses: Int32Array
  readonly #quorum: Int32Array
  readonly #answers: Array<Map<string, ClassAnswer>>

  constructor (init: OracleInit) {
    this.#init = init
    this.release = init.release
    this.ballots = init.ballots ?? computeBallots(init, init.reference === true)
    this.#inBallot = new Map()
    init.clusters.forEach((_, c) => { for (const m of this.ballots.members[c] ?? []) this.#inBallot.set(m, c) })
    const plan = init.release.plan
    const ruleOf = (name: string): { k: number, q: number } => plan.clusters.find(r => r.name === name) ?? plan.default
    this.#quorum = Int32Array.from(init.clusters, name => ruleOf(name).q)
    this.#fedFailure = new Uint8Array(init.clusters.length)
    this.#fedPasses = new Int32Array(init.clusters.length)
    this.#answers = init.clusters.map(() => new Map())
    const anchorCluster = Math.max(0, init.targeted.indexOf(true))
    const anchor = this.ballots.anchor[anchorCluster] as number
    this.#shared = createRolloutState(init.release, { peerId: init.peerIdOf(anchor), clusterId: init.clusters[anchorCluster] as string, role: 'auto' }, init.seenAt)
  }

  inBallot (machine: number): boolean { return this.#inBallot.has(machine) }

  /** Ballot members of a cluster that had joined by `now` are announced (rule 2); called at the release's first sight and at each join. */
  memberJoined (machine: number, cluster: number, observedAt: number): boolean {
    if (!this.#inBallot.has(machine) || this.#init.targeted[cluster] !== true) return false
    return this.#apply({ type: 'member-seen', at: Math.min(observedAt, this.#init.joinAt(machine)), clusterId: this.#init.clusters[cluster] as string, peerId: this.#init.peerIdOf(machine), role: 'auto' })
  }

  /** A test start gossiped by `machine` (its own `at`); fed if it can matter (see the header). Resolves to whether the state changed. */
  testStarted (machine: number, cluster: number, at: number, force = false): boolean {
    if (!this.#inBallot.has(machine) && !force) return false
    this.#feedMember(machine, cluster)
    return this.#apply({ type: 'test-started', at, clusterId: this.#init.clusters[cluster] as string, peerId: this.#init.peerIdOf(machine) })
  }

  /** A signed outcome gossiped by `machine`; fed if it can change a verdict (see the header). */
  outcome (machine: number, cluster: number, at: number, pass: boolean): boolean {
    const member = this.#inBallot.has(machine)
    if (!member) {
      if (pass ? this.#fedPasses[cluster] as number >= (this.#quorum[cluster] as number) : this.#fedFailure[cluster] === 1) return false
      this.#feedMember(machine, cluster)
    }
    if (pass) this.#fedPasses[cluster] = (this.#fedPasses[cluster] as number) + 1
    else this.#fedFailure[cluster] = 1
    return this.#apply({ type: 'outcome', at, clusterId: this.#init.clusters[cluster] as string, peerId: this.#init.peerIdOf(machine), pass })
  }

  /**
   * Whether a message could still be fed (an outcome of a saturated kind,
   * or a start outside the ballot, cannot: see the header, point 3): the
   * simulator then need not queue it. Saturation only grows, so a false
   * answer stays false.
   */
  mayMatter (type: 'start' | 'pass' | 'fail' | 'member', machine: number, cluster: number, force: boolean): boolean {
    if (this.#inBallot.has(machine) || force || type === 'member' || this.#init.reference === true) return true
    if (type === 'start') return false
    return type === 'pass' ? (this.#fedPasses[cluster] as number) < (this.#quorum[cluster] as number) : this.#fedFailure[cluster] === 0
  }

  /**
   * The engine's decision for `machine` at `now`: its class's cached answer,
   * or `evaluate` of the shared state with the machine as `self`.
   */
  decide (machine: number, cluster: number, now: number, own: { seenAt: number, startedAt?: number, outcome?: { at: number, pass: boolean } }): { decision: SelfDecision, nextDeadlineAt?: number } {
    // Ballot members are asked alone: whether one is elected depends on its own first sight of the
    // release (a late or restarted machine's opening, and so its replacement boundaries, come later).
    const key = this.#init.reference === true || this.#inBallot.has(machine) ? `m${machine}`
      : own.outcome !== undefined ? (own.outcome.pass ? 'pass' : 'fail') : 'none'
    const answers = this.#answers[cluster] as Map<string, ClassAnswer>
    let answer = answers.get(key)
    if (answer === undefined || !fresh(answer, this.version, now)) {
      const clusterId = this.#init.clusters[cluster] as string
      const peerId = this.#init.peerIdOf(machine)
      let state = this.#shared
      if (!this.#inBallot.has(machine) && !this.#fedMembers.has(machine)) {
        state = applyEvent(state, { type: 'member-seen', at: this.#init.joinAt(machine), clusterId, peerId, role: 'auto' })
      }
      state = { ...state, self: { peerId, clusterId, role: 'auto' }, seenAt: own.seenAt }
      if (own.startedAt !== undefined) state = applyEvent(state, { type: 'test-started', at: own.startedAt, clusterId, peerId })
      if (own.outcome !== undefined) state = applyEvent(state, { type: 'outcome', at: own.outcome.at, clusterId, peerId, pass: own.outcome.pass })
      const view = evaluate(state, now)
      answer = { version: this.version, at: now, validUntil: view.nextDeadlineAt ?? Infinity, decision: view.self }
      answers.set(key, answer)
    }
    return answer.validUntil === Infinity ? { decision: answer.decision } : { decision: answer.decision, nextDeadlineAt: answer.validUntil }
  }

  #feedMember (machine: number, cluster: number): void {
    if (this.#inBallot.has(machine) || this.#fedMembers.has(machine)) return
    this.#fedMembers.add(machine)
    this.#apply({ type: 'member-seen', at: this.#init.joinAt(machine), clusterId: this.#init.clusters[cluster] as string, peerId: this.#init.peerIdOf(machine), role: 'auto' })
  }

  #apply (event: RolloutEvent): boolean {
    const next = applyEvent(this.#shared, event)
    if (next === this.#shared) return false
    this.#shared = next
    this.version++
    return true
  }
}

function fresh (answer: ClassAnswer, version: number, now: number): boolean {
  return answer.version === version && now >= answer.at && now < answer.validUntil
}

/**
 * The ballot of every targeted cluster (see the header, point 2): rank keys
 * sha256(`${releaseId}\n${peerId}`) as the engine computes them
 * (`rankKeyOf`), the k-th smallest among always-on machines found with a
 * bounded max-heap, then every machine ranked at or above it. O(n log k).
 */
export function computeBallots (init: Pick<OracleInit, 'release' | 'clusters' | 'clusterStart' | 'clusterSize' | 'peerIdOf' | 'alwaysOn' | 'targeted'>, everyone = false): Ballots {
  const plan: RolloutPlan = init.release.plan
  const members: Int32Array[] = []
  const anchor = new Int32Array(init.clusters.length)
  init.clusters.forEach((name, c) => {
    const start = init.clusterStart[c] as number
    const size = init.clusterSize[c] as number
    anchor[c] = start
    if (init.targeted[c] !== true) { members.push(new Int32Array(0)); return }
    const k = (plan.clusters.find(r => r.name === name) ?? plan.default).k
    const keys: string[] = new Array<string>(size)
    const heap: string[] = [] // max-heap of the k smallest always-on keys
    let lowest = ''
    for (let i = 0; i < size; i++) {
      const m = start + i
      const key = hash('sha256', `${init.release.id}\n${init.peerIdOf(m)}`, 'hex')
      keys[i] = key
      if (!init.alwaysOn(m)) continue
      if (key > lowest) { lowest = key; anchor[c] = m }
      if (heap.length < k) heapPush(heap, key)
      else if (key < (heap[0] as string)) heapReplaceTop(heap, key)
    }
    const threshold = heap.length < k || everyone ? undefined : heap[0]
    const chosen: Array<[string, number]> = []
    for (let i = 0; i < size; i++) {
      const key = keys[i] as string
      if (threshold === undefined || key <= threshold) chosen.push([key, start + i])
    }
    chosen.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
    members.push(Int32Array.from(chosen, ([, m]) => m))
  })
  return { members, anchor }
}

function heapPush (heap: string[], key: string): void {
  heap.push(key)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if ((heap[parent] as string) >= key) break
    heap[i] = heap[parent] as string
    i = parent
  }
  heap[i] = key
}

function heapReplaceTop (heap: string[], key: string): void {
  let i = 0
  const n = heap.length
  for (;;) {
    const left = 2 * i + 1
    if (left >= n) break
    const right = left + 1
    let child = left
    if (right < n && (heap[right] as string) > (heap[left] as string)) child = right
    if ((heap[child] as string) <= key) break
    heap[i] = heap[child] as string
    i = child
  }
  heap[i] = key
}
