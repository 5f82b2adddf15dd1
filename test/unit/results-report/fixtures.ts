/**
 * Synthetic but realistic scenario results: clusters of machines, one or more
 * failing clusters, a faulty first release and a vendor fix, rolled out with
 * each requested plan style. Timelines follow Mirage's staging: under
 * `staged`, representatives test first and followers wait for their cluster
 * and its prerequisites; under `all-at-once`, everyone tests at once, so
 * every machine of a failing cluster is exposed. Seeded, so reproducible.
 */
import { mulberry32 } from '../../helpers/seeded-random.ts'
import { RESULTS_FORMAT_VERSION } from '../../../src/scenario/results.ts'
import type { PlanStyle } from '../../../src/release/index.ts'
import type { ClusterResult, MachineResult, PlanRun, ScenarioResults, TimelineEvent } from '../../../src/scenario/results.ts'

export interface FixtureInit {
  scenario?: string
  clusters?: number
  machinesPerCluster?: number
  /** Names of the clusters (default `cluster-0`, …); their count overrides `clusters`. */
  clusterNames?: string[]
  /** Indexes of the clusters v1.0.0 breaks (default: the last one). */
  failing?: number[]
  plans?: PlanStyle[]
  repetitions?: number
  seed?: number
  /** The vendor never ships a fix: failing clusters never work, latency is null. */
  noFix?: boolean
  /** Representatives per cluster under staged and front-loading. */
  representatives?: number
  mode?: ScenarioResults['mode']
  notes?: string[]
  /** Multiplies every time (e.g. 1.1 for a run 10% slower). */
  timeScale?: number
}

const ARTIFACT_BYTES = 4 * 1024 * 1024
const FAULTY = '1.0.0'
const FIX = '1.0.1'

export function makeResults (init: FixtureInit = {}): ScenarioResults {
  const names = init.clusterNames ?? Array.from({ length: init.clusters ?? 3 }, (_, i) => `cluster-${i}`)
  const plans = init.plans ?? ['staged', 'all-at-once']
  const runs: PlanRun[] = []
  let index = 0
  for (let rep = 0; rep < (init.repetitions ?? 1); rep++) {
    for (const plan of plans) runs.push(makeRun(plan, rep, (init.seed ?? 1) + index++, names, init))
  }
  return {
    v: RESULTS_FORMAT_VERSION,
    scenario: init.scenario ?? 'paper-staging',
    mode: init.mode ?? 'real',
    runner: init.mode === 'simulated' ? 'simulator' : 'in-process',
    startedAt: '2026-01-02T03:04:05.000Z',
    artifactBytes: ARTIFACT_BYTES,
    notes: init.notes ?? ['network conditions ignored: no network namespaces on this machine'],
    runs
  }
}

function makeRun (plan: PlanStyle, repetition: number, seed: number, names: string[], init: FixtureInit): PlanRun {
  const random = mulberry32(seed)
  const scale = init.timeScale ?? 1
  const perCluster = init.machinesPerCluster ?? 10
  const failing = new Set(init.failing ?? [names.length - 1])
  const k = init.representatives ?? 2
  const jitter = (base: number, spread: number): number => Math.round((base + random() * spread) * scale)
  // Cluster 0 is everyone's prerequisite under staging (the paper's ordering by dependency).
  const after = (c: number): string[] => (c === 0 || plan !== 'staged' ? [] : [names[0] ?? ''])
  const machines: MachineResult[] = []
  const clusters: ClusterResult[] = []
  // When each cluster's representatives passed a version (staged, front-loading).
  const passedAt = new Map<string, number>()
  let firstFailure = Infinity
  // First pass: representatives (or everyone, all at once) test v1.0.0.
  interface Draft { m: MachineResult, c: number, rep: boolean, seen: number, t: number }
  const drafts: Draft[] = []
  names.forEach((name, c) => {
    for (let i = 0; i < perCluster; i++) {
      const rep = plan === 'all-at-once' ? false : i < k
      const seen = jitter(150, 250)
      const events: TimelineEvent[] = [{ at: seen, version: FAULTY, state: 'seen' }]
      const m: MachineResult = {
        id: `${name}-m${i}`,
        cluster: name,
        role: plan === 'all-at-once' ? 'undecided' : rep ? 'representative' : 'follower',
        breaksOn: failing.has(c) ? [FAULTY] : [],
        events,
        exposedTo: [],
        workingAt: null,
        finalVersion: '',
        bytesIn: 0,
        bytesOut: Math.round(random() * ARTIFACT_BYTES * 2),
        messages: 40 + Math.floor(random() * 200)
      }
      drafts.push({ m, c, rep, seen, t: seen })
      if (rep || plan === 'all-at-once') {
        const download = seen + jitter(300, 200)
        const testing = download + jitter(2000, 2000)
        const done = testing + jitter(3000, 1500)
        events.push({ at: download, version: FAULTY, state: 'downloading' }, { at: testing, version: FAULTY, state: 'testing' })
        m.bytesIn += ARTIFACT_BYTES
        if (failing.has(c)) {
          events.push({ at: done, version: FAULTY, state: 'failed' }, { at: done + jitter(200, 100), version: FAULTY, state: 'rolled-back' })
          m.exposedTo.push(FAULTY)
          firstFailure = Math.min(firstFailure, done)
        } else {
          events.push({ at: done, version: FAULTY, state: 'installing' }, { at: done + jitter(400, 200), version: FAULTY, state: 'installed' })
          m.workingAt = done + jitter(400, 200)
          m.finalVersion = FAULTY
          passedAt.set(name, Math.max(passedAt.get(name) ?? 0, done))
        }
      } else {
        events.push({ at: seen + jitter(100, 50), version: FAULTY, state: 'waiting' })
      }
    }
  })
  const fixAt = init.noFix === true || !Number.isFinite(firstFailure) ? null : firstFailure + jitter(20_000, 5000)
  // Failing clusters' representatives (or everyone) test the fix.
  if (fixAt !== null) {
    for (const d of drafts) {
      if (!failing.has(d.c) || !(d.rep || plan === 'all-at-once')) continue
      const seen = fixAt + jitter(200, 300)
      const testing = seen + jitter(2000, 1500)
      const done = testing + jitter(3000, 1000)
      d.m.events.push({ at: seen, version: FIX, state: 'seen' }, { at: seen + 100, version: FIX, state: 'downloading' },
        { at: testing, version: FIX, state: 'testing' }, { at: done, version: FIX, state: 'installing' }, { at: done + 300, version: FIX, state: 'installed' })
      d.m.bytesIn += ARTIFACT_BYTES
      d.m.workingAt = done + 300
      d.m.finalVersion = FIX
      passedAt.set(names[d.c] ?? '', Math.max(passedAt.get(names[d.c] ?? '') ?? 0, done))
    }
  }
  // Followers: install once their cluster and its prerequisites passed.
  for (const d of drafts) {
    if (d.rep || plan === 'all-at-once') continue
    const name = names[d.c] ?? ''
    const gates = [name, ...after(d.c)].map(n => passedAt.get(n))
    if (failing.has(d.c)) d.m.events.push({ at: Math.max(d.seen + 200, firstFailure + 50), version: FAULTY, state: 'blocked' })
    if (gates.some(g => g === undefined)) continue
    const version = failing.has(d.c) ? FIX : FAULTY
    const start = Math.max(...(gates as number[])) + jitter(500, 1500)
    const installing = start + jitter(800, 1200)
    d.m.events.push({ at: start, version, state: 'downloading' }, { at: installing, version, state: 'installing' }, { at: installing + 300, version, state: 'installed' })
    d.m.bytesIn += ARTIFACT_BYTES
    d.m.workingAt = installing + 300
    d.m.finalVersion = version
  }
  let end = 0
  for (const d of drafts) {
    machines.push(d.m)
    end = Math.max(end, d.m.events[d.m.events.length - 1]?.at ?? 0)
  }
  names.forEach((name, c) => {
    const members = machines.filter(m => m.cluster === name)
    const working = members.map(m => m.workingAt)
    clusters.push({
      cluster: name,
      machines: members.length,
      after: after(c),
      breaksOn: failing.has(c) ? [FAULTY] : [],
      exposed: members.filter(m => m.exposedTo.length > 0).length,
      workingAt: working.some(w => w === null) ? null : Math.max(...(working as number[]))
    })
  })
  const times = machines.flatMap(m => m.workingAt === null ? [] : [m.workingAt]).sort((a, b) => a - b)
  const bytes = machines.map(m => m.bytesIn + m.bytesOut).sort((a, b) => a - b)
  const messages = machines.map(m => m.messages).sort((a, b) => a - b)
  const pick = (sorted: number[], q: number): number | null => sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? null
  const neverWorking = machines.length - times.length
  return {
    plan,
    repetition,
    seed,
    releases: [
      { version: FAULTY, publishedAt: 0, faulty: true },
      ...(fixAt === null ? [] : [{ version: FIX, publishedAt: fixAt, faulty: false, targets: names.filter((_, c) => failing.has(c)) }])
    ],
    machines,
    clusters,
    metrics: {
      machines: machines.length,
      overhead: machines.filter(m => m.exposedTo.length > 0).length,
      latencyMs: neverWorking > 0 ? null : (times[times.length - 1] ?? 0),
      timeToWorkingMs: { median: pick(times, 0.5), p90: pick(times, 0.9), max: times[times.length - 1] ?? null },
      neverWorking,
      vendorUploadMultiple: plan === 'all-at-once' ? 6 + Math.round(random() * 4) : 2 + Math.round(random() * 2),
      bytesPerMachine: { median: pick(bytes, 0.5) ?? 0, max: bytes[bytes.length - 1] ?? 0 },
      messagesPerMachine: { median: pick(messages, 0.5) ?? 0, max: messages[messages.length - 1] ?? 0 }
    },
    durationMs: end + 1000
  }
}
