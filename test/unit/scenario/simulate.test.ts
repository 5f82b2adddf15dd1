import { describe, expect, it } from 'vitest'
import {
  builtInScenario, groundTruth, loadScenario, parseScenario, scaleScenario, scenarioResultsSchema, scenarioVersions, simulatePlan, simulateScenario, writeSimulation
} from '../../../src/scenario/index.ts'
import type { PlanRun, Scenario } from '../../../src/scenario/index.ts'
import type { PlanStyle } from '../../../src/release/index.ts'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SMALL } from './small-scenario.ts'

async function run (scenario: Scenario, plan: PlanStyle, extra: { seed?: number, reference?: boolean } = {}): Promise<PlanRun> {
  const breaks = await groundTruth(scenario, scenarioVersions(scenario))
  return simulatePlan({ scenario, plan, repetition: 0, seed: extra.seed ?? scenario.seed, breaks, ...(extra.reference === true ? { reference: true } : {}) })
}

const exposedIn = (r: PlanRun, cluster: string): number => r.machines.filter(m => m.cluster === cluster && m.exposedTo.length > 0).length

describe('simulator', () => {
  const small = parseScenario(SMALL, 'small.yaml')

  it('is deterministic: the same seed gives the same results, another seed other representatives', async () => {
    const a = await simulateScenario(small)
    const b = await simulateScenario(small)
    expect(scenarioResultsSchema.parse(a).runs).toEqual(b.runs)
    const c = await run(small, 'staged', { seed: 5 })
    expect(c.machines.filter(m => m.role === 'representative').map(m => m.id))
      .not.toEqual(a.runs[0]?.machines.filter(m => m.role === 'representative').map(m => m.id))
  })

  it('staged exposes only the broken cluster\'s k representatives; all-at-once exposes all its machines', async () => {
    const staged = await run(small, 'staged')
    const all = await run(small, 'all-at-once')
    const front = await run(small, 'front-loading')
    expect(staged.metrics.overhead).toBe(2)
    expect(exposedIn(staged, 'bad')).toBe(2)
    expect(staged.machines.filter(m => m.exposedTo.length > 0).every(m => m.role === 'representative')).toBe(true)
    expect(front.metrics.overhead).toBe(2)
    expect(all.metrics.overhead).toBe(4)
    expect(exposedIn(all, 'bad')).toBe(4)
    // Staging costs latency: the broken cluster waits for its prerequisite.
    expect(staged.metrics.latencyMs).toBeGreaterThan(all.metrics.latencyMs ?? Infinity)
  })

  it('the fix flows through the stages after the first report, and every machine ends on a working version', async () => {
    const staged = await run(small, 'staged')
    expect(staged.releases.map(r => [r.version, r.faulty])).toEqual([['2.0.0', true], ['2.0.1', false]])
    const firstFailure = Math.min(...staged.machines.flatMap(m => m.events.filter(e => e.state === 'failed').map(e => e.at)))
    const fixAt = staged.releases[1]?.publishedAt ?? 0
    // report delay (5 s default) + afterFirstReport (10 s)
    expect(fixAt).toBe(firstFailure + 5000 + 10_000)
    expect(staged.metrics.neverWorking).toBe(0)
    expect(staged.metrics.latencyMs).not.toBeNull()
    for (const m of staged.machines.filter(x => x.cluster === 'bad')) {
      expect(m.finalVersion).toBe('2.0.1')
      expect(m.workingAt).toBeGreaterThan(fixAt)
    }
    const blocked = staged.machines.filter(m => m.events.some(e => e.state === 'blocked'))
    expect(blocked.map(m => m.cluster)).toEqual(['bad', 'bad'])
    for (const m of blocked) expect(m.events.map(e => e.state)).toContain('superseded')
  })

  it('churn and a vendor offline window delay the rollout but it completes', async () => {
    const base = await run(small, 'staged')
    const churned = await run(parseScenario(`${SMALL}churn:\n  - { cluster: good, machines: 3, at: 1s, downFor: 40s }\n`), 'staged')
    expect(churned.metrics.neverWorking).toBe(0)
    expect(churned.machines.some(m => m.events.some(e => e.state === 'offline'))).toBe(true)
    expect(churned.metrics.latencyMs).toBeGreaterThanOrEqual(base.metrics.latencyMs ?? Infinity)
    const offline = await run(parseScenario(`${SMALL}vendorOffline:\n  - { at: 100ms, for: 60s }\n`), 'staged')
    expect(offline.metrics.neverWorking).toBe(0)
    // Nobody holds the artifact until the vendor is back: no machine works before 60 s.
    expect(Math.min(...offline.machines.map(m => m.workingAt ?? Infinity))).toBeGreaterThan(60_000)
    const late = await run(parseScenario(`${SMALL}lateJoiners:\n  - { cluster: good, machines: 2, at: 100s }\n`), 'staged')
    expect(late.metrics.neverWorking).toBe(0)
    expect(late.metrics.latencyMs).toBeGreaterThan(100_000)
  })

  it('feeding the engine only the ballot and classes decides exactly as feeding everyone (reference mode)', async () => {
    // q = k, a short start timeout and long outages: killed electees are replaced (rule 4), and the quorum needs both seats.
    const faulty = parseScenario(`${SMALL.replace('machines: 6', 'machines: 30').replace('machines: 4', 'machines: 20').replace('k: 2, q: 1 }\n  clusters', 'k: 2, q: 2 }\n  clusters').replace('{ name: good, k: 2, q: 1 }', '{ name: good, k: 2, q: 2 }').replace('startTimeout: 30s', 'startTimeout: 10s')}churn:\n  - { machines: 12, at: 5s, downFor: 25s }\n  - { cluster: good, machines: 12, at: 3s, downFor: 60s }\n  - { cluster: bad, machines: 4, at: 14s, downFor: 50s }\nlateJoiners:\n  - { cluster: good, machines: 5, at: 20s }\n`)
    for (const plan of ['staged', 'front-loading', 'all-at-once'] as const) {
      const fast = await run(faulty, plan)
      const exact = await run(faulty, plan, { reference: true })
      expect(fast.machines.map(m => m.events)).toEqual(exact.machines.map(m => m.events))
      expect(fast.metrics.overhead).toBe(exact.metrics.overhead)
    }
  })

  it('scales a scenario: 20,000 machines of paper-staging, staged exposure still the representatives', async () => {
    const paper = await loadScenario(await builtInScenario('paper-staging') ?? '')
    const scaled = scaleScenario(paper, 20_000)
    const staged = await run(scaled, 'staged')
    expect(staged.metrics.machines).toBe(20_000)
    expect(staged.metrics.overhead).toBe(4)
    const all = await run(scaled, 'all-at-once')
    expect(all.metrics.overhead).toBe(8000)
  })

  it('writes a valid results.json (simulated, simulator) into the output dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mirage-sim-test-'))
    try {
      const { file, runs } = await writeSimulation(small, dir, { plans: ['staged', 'all-at-once'], machines: 40 })
      const results = scenarioResultsSchema.parse(JSON.parse(await readFile(file, 'utf8')))
      expect(results).toMatchObject({ v: 1, scenario: 'small', mode: 'simulated', runner: 'simulator' })
      expect(results.runs.map(r => r.plan)).toEqual(['staged', 'all-at-once'])
      expect(results.runs[0]?.machines).toHaveLength(40)
      expect(runs.map(r => r.metrics)).toEqual(results.runs.map(r => r.metrics))
      expect(results.notes.join('\n')).toMatch(/scaled from 10 to 40/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a representative announces its start once it holds the artifact: a download longer than the test timeout and grace is not silence', async () => {
    // 64 KiB at 2 KiB/s: every download takes about 32 s, three times the
    // silence window of 5 s test timeout + 5 s grace, well within the start timeout.
    const slow = parseScenario(SMALL
      .replace('test:\n', 'test:\n  timeout: 5s\n')
      .replace('startTimeout: 30s', 'startTimeout: 90s\n  reportGrace: 5s')
      .replace('seed: 4', 'seed: 4\ntiming: { transferRate: 2KiB/s, jitter: 0 }'), 'slow.yaml')
    const staged = await run(slow, 'staged')
    // The good cluster passes on its representatives' tests, nobody is counted silent.
    expect(staged.machines.filter(m => m.cluster === 'good').every(m => !m.events.some(e => e.state === 'blocked'))).toBe(true)
    expect(staged.metrics.overhead).toBe(2)
    expect(staged.metrics.neverWorking).toBe(0)
    for (const m of staged.machines.filter(x => x.role === 'representative')) {
      const states = m.events.map(e => e.state)
      expect(states.indexOf('downloading')).toBeLessThan(states.indexOf('testing'))
    }
  })
})


describe('simulator on one shared host (timing.sharedHostCores)', () => {
  const small = parseScenario(SMALL, 'small.yaml')
  const onHost = (scenario: Scenario, cores: number): Scenario => ({ ...scenario, timing: { ...scenario.timing, sharedHostCores: cores } })
  const firstAt = (r: PlanRun, state: string): number => Math.min(...r.machines.flatMap(m => m.events.filter(e => e.state === state).map(e => e.at)))

  it('with at least a core per machine, nothing ever waits: the same run as machines with hosts of their own', async () => {
    for (const plan of ['staged', 'all-at-once'] as const) {
      const own = await run(small, plan)
      const shared = await run(onHost(small, 10), plan)
      // The same timelines, to the millisecond the log rounds to (the host
      // adds up work, not wall time, so floats may round the other way).
      // Which holder a download's bytes are credited to may differ: the
      // host's events for one instant are queued in another order, so
      // sources are drawn in another order.
      const states = (r: PlanRun) => r.machines.map(m => [m.id, m.role, m.finalVersion, m.exposedTo, m.events.map(e => [e.state, e.version])])
      expect(states(shared)).toEqual(states(own))
      const times = (r: PlanRun) => r.machines.flatMap(m => m.events.map(e => e.at))
      const drift = times(shared).map((at, i) => Math.abs(at - (times(own)[i] ?? Number.NaN)))
      expect(Math.max(...drift)).toBeLessThanOrEqual(1)
      expect(shared.metrics.overhead).toBe(own.metrics.overhead)
      expect(Math.abs((shared.metrics.latencyMs ?? Number.NaN) - (own.metrics.latencyMs ?? Number.NaN))).toBeLessThanOrEqual(1)
    }
  })

  it('machines downloading and testing at once slow each other down; who is exposed does not change', async () => {
    const own = await run(small, 'all-at-once')
    const shared = await run(onHost(small, 1), 'all-at-once')
    expect(shared.metrics.overhead).toBe(own.metrics.overhead)
    expect(shared.metrics.neverWorking).toBe(0)
    // Ten 64 KiB downloads at once on one core: the first test starts once the slowest share is done, about ten times later.
    const alone = firstAt(own, 'testing') - firstAt(own, 'downloading')
    const together = firstAt(shared, 'testing') - firstAt(shared, 'downloading')
    expect(together).toBeGreaterThan(5 * alone)
    expect(shared.metrics.latencyMs).toBeGreaterThan(own.metrics.latencyMs ?? Infinity)
  })

  it('a machine killed mid-download or mid-test gives its share of the host back, and the rollout completes', async () => {
    const churn = `${SMALL}churn:\n  - { machines: 4, at: 300ms, downFor: 20s }\n  - { machines: 3, at: 2s, downFor: 5s }\n`
    const shared = await run(onHost(parseScenario(churn), 2), 'all-at-once')
    expect(shared.metrics.neverWorking).toBe(0)
    expect(shared.machines.some(m => m.events.some(e => e.state === 'offline'))).toBe(true)
  })

  it('simulateScenario takes the host from its options (0: none) and says so in the notes', async () => {
    const shared = await simulateScenario(small, { sharedHostCores: 1, plans: ['all-at-once'] })
    expect(shared.notes.some(n => n.includes('one host of 1 core,'))).toBe(true)
    const none = await simulateScenario(onHost(small, 1), { sharedHostCores: 0, plans: ['all-at-once'] })
    expect(none.notes.some(n => n.includes('one host'))).toBe(false)
    expect(none.runs[0]?.metrics).toEqual((await simulateScenario(small, { plans: ['all-at-once'] })).runs[0]?.metrics)
    await expect(simulateScenario(small, { sharedHostCores: -1 })).rejects.toThrow(/0 \(none\) to 1024 cores/)
    expect(() => parseScenario(`${SMALL}timing: { sharedHostCores: 0 }\n`, 'x.yaml')).toThrow(/sharedHostCores/)
  })
})
