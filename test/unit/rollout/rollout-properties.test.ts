import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { parsePlanJson } from '../../../src/release/index.ts'
import type { RolloutPlan } from '../../../src/release/index.ts'
import { evaluate } from '../../../src/rollout/index.ts'
import type { ClusterView, RolePreference, RolloutEvent, RolloutSelf, RolloutState, RolloutView } from '../../../src/rollout/index.ts'
import { REPORT_GRACE_MS, START_TIMEOUT_MS as T, TEST_TIMEOUT_MS, stateOf } from './rollout-fixtures.ts'

/**
 * Generated cases: random acyclic plans (a cluster may only come after
 * clusters with a smaller index), member stories (announce, maybe start,
 * maybe report) over several start timeouts plus noise and vendor
 * overrides (halt and clear, release-wide or per cluster, with clashing
 * sequences), seen at a random `now`.
 */
const NAMED = ['c0', 'c1', 'c2', 'c3', 'c4']
const UNNAMED = ['u0', 'u1']
const PEERS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'me']
const ROLES: RolePreference[] = ['auto', 'auto', 'representative', 'follower']
const HORIZON_MS = 8 * T

const kq = fc.record({ k: fc.integer({ min: 1, max: 3 }), q: fc.integer({ min: 1, max: 3 }) }).map(({ k, q }) => ({ k, q: Math.min(k, q) }))

const arbPlan: fc.Arbitrary<RolloutPlan> = fc.integer({ min: 1, max: NAMED.length }).chain(n => {
  const names = NAMED.slice(0, n)
  const rules = names.map((name, i) => fc.record({ after: fc.subarray(names.slice(0, i)), kq }).map(({ after, kq }) => ({ name, after, ...kq })))
  return fc.record({
    style: fc.constantFrom('staged', 'staged', 'front-loading', 'all-at-once'),
    clusters: fc.tuple(...rules),
    default: fc.record({ after: fc.subarray(names), kq }).map(({ after, kq }) => ({ after, ...kq })),
    startTimeoutMs: fc.constant(T),
    reportGraceMs: fc.constant(REPORT_GRACE_MS)
  }).map(spec => parsePlanJson(JSON.stringify(spec)))
})

/** A member's life: announced, maybe started, maybe reported (mostly passes), maybe never. */
const arbMemberStory = (clusterIds: string[]): fc.Arbitrary<RolloutEvent[]> => fc.record({
  clusterId: fc.constantFrom(...clusterIds),
  peerId: fc.constantFrom(...PEERS),
  role: fc.constantFrom(...ROLES),
  seenAt: fc.nat(2 * T),
  startAt: fc.option(fc.nat(HORIZON_MS), { freq: 4 }),
  reportAfter: fc.option(fc.nat(TEST_TIMEOUT_MS + REPORT_GRACE_MS + T), { freq: 6 }),
  pass: fc.integer({ min: 0, max: 9 }).map(n => n > 0)
}).map(({ clusterId, peerId, role, seenAt, startAt, reportAfter, pass }) => {
  const events: RolloutEvent[] = [{ type: 'member-seen', at: seenAt, clusterId, peerId, role }]
  if (startAt === null) return events
  events.push({ type: 'test-started', at: startAt, clusterId, peerId })
  if (reportAfter !== null) events.push({ type: 'outcome', at: startAt + reportAfter, clusterId, peerId, pass })
  return events
})

/** Noise: anything from anyone (forged signers, strays, duplicates, contradictions). */
const arbNoise = (clusterIds: string[]): fc.Arbitrary<RolloutEvent> => {
  const at = fc.nat(HORIZON_MS)
  const clusterId = fc.constantFrom(...clusterIds)
  const peerId = fc.constantFrom(...PEERS, 'forger')
  return fc.oneof(
    fc.record({ type: fc.constant('member-seen' as const), at, clusterId, peerId, role: fc.constantFrom(...ROLES) }),
    fc.record({ type: fc.constant('test-started' as const), at, clusterId, peerId }),
    fc.record({ type: fc.constant('outcome' as const), at, clusterId, peerId, pass: fc.boolean() })
  )
}

type OverrideEvent = Extract<RolloutEvent, { type: 'override' }>

/** Vendor overrides: few sequences, so scopes clash and ties (which the intake refuses) still happen. */
const arbOverride = (clusterIds: string[]): fc.Arbitrary<OverrideEvent> => fc.record({
  type: fc.constant('override' as const),
  at: fc.nat(HORIZON_MS),
  action: fc.constantFrom('halt' as const, 'clear' as const),
  clusterId: fc.constantFrom(...clusterIds, 'elsewhere'),
  sequence: fc.integer({ min: 1, max: 5 }),
  reason: fc.constantFrom('a report', 'not our bug')
}, { requiredKeys: ['type', 'at', 'action', 'sequence'] })

/** Rule 12, written down independently: the highest sequence wins, ties toward halt, then earlier, then smaller reason. */
function expectedOverride (events: readonly RolloutEvent[], clusterId: string): OverrideEvent | undefined {
  const covering = events.filter((e): e is OverrideEvent => e.type === 'override' && (e.clusterId === undefined || e.clusterId === clusterId))
  const rank = (e: OverrideEvent): [number, number, number, string] => [e.sequence, e.action === 'halt' ? 1 : 0, -e.at, e.reason ?? '']
  const better = (a: OverrideEvent, b: OverrideEvent): boolean => {
    const [x, y] = [rank(a), rank(b)]
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] as number) > (y[i] as number)
    return x[3] < y[3]
  }
  return covering.reduce<OverrideEvent | undefined>((best, e) => best === undefined || better(e, best) ? e : best, undefined)
}

interface Case {
  plan: RolloutPlan
  self: RolloutSelf
  seenAt: number
  /** The events observed by `now`, and the same set in another order. */
  events: RolloutEvent[]
  shuffled: RolloutEvent[]
  now: number
}

const arbCase: fc.Arbitrary<Case> = arbPlan.chain(plan => {
  const clusterIds = [...plan.clusters.map(rule => rule.name), ...UNNAMED]
  const all = fc.tuple(
    fc.array(arbMemberStory(clusterIds), { maxLength: 16 }),
    fc.array(arbNoise(clusterIds), { maxLength: 6 }),
    fc.array(arbOverride(clusterIds), { maxLength: 4 })
  ).map(([stories, noise, overrides]) => [...stories.flat(), ...noise, ...overrides])
  return fc.record({
    plan: fc.constant(plan),
    self: fc.record({ peerId: fc.constant('me'), clusterId: fc.constantFrom(...clusterIds), role: fc.constantFrom(...ROLES) }),
    seenAt: fc.nat(2 * T),
    pair: all.chain(list => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }))),
    now: fc.nat(HORIZON_MS + 4 * T)
  }).map(({ plan, self, seenAt, pair: [events, shuffled], now }) => {
    // a node evaluates what it has observed so far: events stamped at or before now
    const observed = (event: RolloutEvent): boolean => event.at <= now
    return { plan, self, seenAt, events: events.filter(observed), shuffled: shuffled.filter(observed), now }
  })
})

// PROP_RUNS=N runs every property N times (a deeper search than the test run needs).
const PARAMS = process.env.PROP_RUNS === undefined ? { numRuns: 400 } : { numRuns: Number(process.env.PROP_RUNS) }

function run (c: Case, events = c.events): { state: RolloutState, view: RolloutView } {
  const state = stateOf({ plan: c.plan, self: c.self, seenAt: c.seenAt, events })
  return { state, view: evaluate(state, c.now) }
}

function byId (view: RolloutView): Map<string, ClusterView> {
  return new Map(view.clusters.map(c => [c.clusterId, c]))
}

describe('generated rollouts', () => {
  it('answer the same for the same set of events, whatever their order or repetition', () => {
    fc.assert(fc.property(arbCase, c => {
      const { view } = run(c)
      expect(run(c, c.shuffled).view).toEqual(view)
      expect(run(c, [...c.events, ...c.shuffled]).view).toEqual(view)
    }), PARAMS)
  })

  it('install only when our own test passed or our cluster and all its prerequisites passed', () => {
    fc.assert(fc.property(arbCase, c => {
      const { state, view } = run(c)
      const clusters = byId(view)
      const own = clusters.get(c.self.clusterId) as ClusterView
      const scope = [own, ...own.prerequisites.map(id => clusters.get(id) as ClusterView)]
      const ownOutcome = state.clusters.get(c.self.clusterId)?.outcomes.get('me')
      const decision = view.self
      // rule 13: a halt of our cluster, or of a prerequisite when anything gates, stops everything
      const haltScope = c.plan.style === 'all-at-once' ? [own] : scope
      const halted = haltScope.filter(v => expectedOverride(c.events, v.clusterId)?.action === 'halt').map(v => v.clusterId).sort()
      if (decision.action !== 'halted') expect(halted).toEqual([])
      switch (decision.action) {
        case 'halted':
          expect(decision.haltedBy).toEqual(halted)
          expect(decision.haltedBy.length).toBeGreaterThan(0)
          break
        case 'install': {
          const ownPass = ownOutcome?.passAt !== undefined && ownOutcome.failAt === undefined
          const ownCleared = ownOutcome?.failAt !== undefined && own.cleared.includes('me')
          if (!ownPass && !ownCleared) {
            expect(c.plan.style).not.toBe('all-at-once')
            expect(scope.every(view => view.state === 'passed')).toBe(true)
          }
          break
        }
        case 'blocked':
          expect(decision.blockedBy.length).toBeGreaterThan(0)
          for (const id of decision.blockedBy) {
            expect(scope.map(view => view.clusterId)).toContain(id)
            expect(clusters.get(id)?.state).toBe('failed')
          }
          break
        case 'test':
          if (c.plan.style !== 'all-at-once') {
            expect(own.representatives).toContain('me')
            expect(own.openedAt).toBeLessThanOrEqual(c.now)
            // Past a failure only its own cluster's, and only in the opening's first start window (rule 10.4).
            const failedScope = scope.filter(view => view.state === 'failed').map(view => view.clusterId)
            if (failedScope.length > 0) {
              expect(failedScope).toEqual([c.self.clusterId])
              expect(c.now).toBeLessThan((own.openedAt ?? -Infinity) + c.plan.startTimeoutMs)
              for (const peerId of own.failures) expect(state.clusters.get(own.clusterId)?.outcomes.get(peerId)?.failAt).toBeGreaterThanOrEqual(own.openedAt ?? Infinity)
            }
            expect(c.self.role).not.toBe('follower')
          }
          break
        case 'wait':
          expect(c.plan.style).not.toBe('all-at-once')
          expect(decision.waitingFor.length).toBeGreaterThan(0)
          expect(scope.some(view => view.state === 'failed')).toBe(false)
          for (const id of decision.waitingFor) expect(clusters.get(id)?.state).not.toBe('passed')
          break
      }
    }), PARAMS)
  })

  it('keep every cluster view consistent with the rules', () => {
    fc.assert(fc.property(arbCase, c => {
      const { state, view } = run(c)
      const clusters = byId(view)
      expect(view.clusters.map(v => v.clusterId)).toEqual([...clusters.keys()].sort())
      for (const rule of c.plan.clusters) expect(clusters.has(rule.name)).toBe(true)
      expect(clusters.has(c.self.clusterId)).toBe(true)

      for (const v of view.clusters) {
        const ledger = state.clusters.get(v.clusterId)
        const members = ledger?.members ?? new Map()
        const eligible = [...members].filter(([, m]) => m.role !== 'follower').map(([id]) => id)
        const seats = Math.min(v.rule.k, eligible.length)
        expect(v.members).toBe(members.size)
        expect(v.eligible).toBe(eligible.length)
        expect(v.quorum).toBe(Math.max(1, Math.min(v.rule.q, seats)))

        // election (rules 3, 4)
        const startedEligible = eligible.filter(id => ledger?.starts.has(id))
        expect(new Set(v.representatives).size).toBe(v.representatives.length)
        for (const id of v.representatives) expect(eligible).toContain(id)
        for (const id of startedEligible) expect(v.representatives).toContain(id)
        expect(v.representatives.length).toBe(Math.max(startedEligible.length, seats))
        for (const id of v.replaced) {
          expect(eligible).toContain(id)
          expect(v.representatives).not.toContain(id)
        }
        if (v.openedAt === undefined) expect(v.replaced).toEqual([])

        // outcomes (rules 5, 6)
        for (const id of [...v.passes, ...v.failures, ...v.silent, ...v.started]) expect(members.has(id)).toBe(true)
        expect(v.passes.filter(id => v.failures.includes(id) || v.silent.includes(id))).toEqual([])
        const failed = v.failures.length + v.silent.length > 0
        const override = expectedOverride(c.events, v.clusterId)
        const halted = override?.action === 'halt'
        expect(v.override?.action).toBe(override?.action)
        expect(v.override?.sequence).toBe(override?.sequence)
        expect(v.override?.scope).toBe(override === undefined ? undefined : override.clusterId === undefined ? 'release' : 'cluster')
        expect(v.state === 'halted').toBe(v.members > 0 && halted)
        expect(v.state === 'failed').toBe(v.members > 0 && failed && !halted)

        // clears (rule 14): only failures and silences at or before the clear are cleared, and they are no longer failures
        const clearedAt = override?.action === 'clear' ? override.at : -Infinity
        expect([...v.passes, ...v.failures, ...v.silent].filter(id => v.cleared.includes(id))).toEqual([])
        for (const id of v.cleared) {
          const outcome = ledger?.outcomes.get(id)
          const silentAt = (ledger?.starts.get(id) ?? Infinity) + TEST_TIMEOUT_MS + REPORT_GRACE_MS
          expect(outcome?.failAt ?? silentAt).toBeLessThanOrEqual(clearedAt)
        }
        for (const id of v.failures) expect(ledger?.outcomes.get(id)?.failAt).toBeGreaterThan(clearedAt)
        if (v.state === 'passed') {
          expect(v.passes.length + v.cleared.length).toBeGreaterThanOrEqual(v.quorum)
          expect(v.passedAt).toBeLessThanOrEqual(c.now)
        } else {
          expect(v.passedAt).toBeUndefined()
        }

        // gates (rules 4, 7, 8)
        const prerequisites = v.prerequisites.map(id => clusters.get(id) as ClusterView)
        const prerequisiteFailed = prerequisites.some(p => p.failures.length + p.silent.length > 0)
        expect(v.state === 'blocked').toBe(v.members > 0 && !failed && !halted && prerequisiteFailed)
        if (v.members === 0) expect(v.state).toBe('empty')
        // a halted prerequisite has not passed: nothing behind it opens (rule 13)
        for (const p of prerequisites) if (p.override?.action === 'halt') expect(p.passedAt).toBeUndefined()
        const notBefore = Math.max(c.seenAt, clearedAt)
        if (halted) expect(v.openedAt).toBeUndefined()
        if (c.plan.style === 'staged' && v.openedAt !== undefined) {
          expect(prerequisites.every(p => p.state === 'passed')).toBe(true)
          expect(v.openedAt).toBe(Math.max(notBefore, ...prerequisites.map(p => p.passedAt as number)))
        }
        if (c.plan.style === 'staged' && !halted && prerequisites.every(p => p.state === 'passed')) expect(v.openedAt).toBeDefined()
        if (c.plan.style !== 'staged') expect(v.openedAt).toBe(halted ? undefined : notBefore)
        if (v.state === 'testing') expect(v.representatives.length).toBeGreaterThan(0)
      }
    }), PARAMS)
  })

  it('halt everything, whatever came before, on a release-wide halt with the highest sequence', () => {
    fc.assert(fc.property(arbCase, c => {
      const halt: RolloutEvent = { type: 'override', at: c.now, action: 'halt', sequence: 6 }
      const { view } = run(c, [...c.events, halt])
      expect(view.self.action).toBe('halted')
      for (const v of view.clusters) {
        expect(v.state).toBe(v.members === 0 ? 'empty' : 'halted')
        expect(v.passedAt).toBeUndefined()
        expect(v.openedAt).toBeUndefined()
      }
    }), PARAMS)
  })

  it('leave nothing failed or blocked on a release-wide clear at now with the highest sequence', () => {
    fc.assert(fc.property(arbCase, c => {
      const clear: RolloutEvent = { type: 'override', at: c.now, action: 'clear', sequence: 6 }
      const { view } = run(c, [...c.events, clear])
      for (const v of view.clusters) {
        expect(['failed', 'blocked', 'halted']).not.toContain(v.state)
        expect([...v.failures, ...v.silent]).toEqual([])
      }
      expect(['blocked', 'halted']).not.toContain(view.self.action)
    }), PARAMS)
  })

  it('answer the same until nextDeadlineAt, and differently at it, with no new event', () => {
    fc.assert(fc.property(arbCase, fc.double({ min: 0, max: 1, noNaN: true }), (c, fraction) => {
      const { state, view } = run(c)
      const next = view.nextDeadlineAt
      if (next === undefined) {
        expect(evaluate(state, c.now + 100 * HORIZON_MS)).toEqual(view)
        return
      }
      expect(next).toBeGreaterThan(c.now)
      expect(evaluate(state, next - 1)).toEqual(view)
      expect(evaluate(state, c.now + Math.floor(fraction * (next - 1 - c.now)))).toEqual(view)
      // tight: the deadline is a real change, not a spurious wake-up
      const { nextDeadlineAt: _, ...then } = evaluate(state, next)
      const { nextDeadlineAt: __, ...before } = view
      expect(then).not.toEqual(before)
    }), PARAMS)
  })
})
