/**
 * `mirage scenario run`: a scenario on real nodes. For each compared plan
 * style (and repetition) it creates a vendor, publishes the scenario's
 * releases with that plan, starts the vendor's seed and every machine as a
 * real libp2p node on 127.0.0.1 (in this process or as `mirage node start`
 * processes), drives the timeline (publications, the fix after the first
 * problem report, churn, late joiners, the vendor offline), shows progress,
 * and reads every machine's persisted timeline at the end into the same
 * results format the simulator writes (`computeRun`).
 *
 * Nothing a run starts outlives it: machines and seed are stopped when the
 * run ends, fails, or is aborted (Ctrl-C).
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { decodeSealedReport } from '../report/index.ts'
import { initVendorDir, vendorPublish, vendorReportsDir } from '../vendor/index.ts'
import type { PlanStyle } from '../release/index.ts'
import type { NodeStatus } from '../node/index.ts'
import { groundTruth, scenarioVersions } from './ground-truth.ts'
import { computeRun } from './metrics.ts'
import type { MachineTimeline } from './metrics.ts'
import { populationOf, writeAppTree, writeEnvironment } from './population.ts'
import type { ScenarioMachine } from './population.ts'
import { MACHINE_STATES, RESULTS_FORMAT_VERSION, scenarioResultsSchema } from './results.ts'
import type { MachineState, PlanRun, ScenarioResults, TimelineEvent } from './results.ts'
import { planFor } from './scenario-schema.ts'
import type { Scenario } from './scenario-schema.ts'
import { inProcessConnectionCap, openFilesLimit } from './connection-cap.ts'
import { ScenarioSwarm } from './run-swarm.ts'
import { awaitSwarmFormation, formationTimeoutMs } from './swarm-formation.ts'
import type { FormationResult } from './swarm-formation.ts'
import type { MachineRunner, SwarmMachine } from './run-swarm.ts'

const log = logger('mirage:scenario:run')

/** How often the driver looks at the swarm (publications, churn, completion, progress). */
const TICK_MS = 500
/** A run that has not settled this long after its last scheduled event gives up (and says so in the results). */
const DEFAULT_SETTLE_TIMEOUT_MS = 300_000
/** Every machine must have held still this long before the run counts as settled. */
const QUIET_MS = 3_000
/** States after which a machine does nothing more for a release unless something new arrives. */
const RESTING_STATES: ReadonlySet<string> = new Set(['installed', 'failed', 'rolled-back', 'blocked', 'halted', 'superseded', 'not-targeted'])

export interface RunScenarioOptions {
  runner: MachineRunner
  /** In-process runs: worker threads for the machines (default one per core; 0 = all on this thread). */
  threads?: number
  /** Where the run keeps vendor, seed and machines (removed at the end unless `keepWork`). Not under /tmp: sandboxed tests get their own /tmp. */
  workDir: string
  keepWork?: boolean
  plans?: PlanStyle[]
  repetitions?: number
  seed?: number
  /** Give up on a run that has not settled this long after its last scheduled event. */
  settleTimeoutMs?: number
  signal?: AbortSignal
  onProgress?: (progress: RunProgress) => void
}

export type RunProgress =
  | { type: 'run-started', plan: PlanStyle, repetition: number, machines: number }
  /** The machines present at the start formed a swarm (or the wait gave up on `waitingFor` of them); the clock starts now. */
  | { type: 'swarm-formed', plan: PlanStyle, formed: boolean, tookMs: number, waitingFor: number }
  | { type: 'published', plan: PlanStyle, version: string, atMs: number }
  | { type: 'states', plan: PlanStyle, atMs: number, byCluster: Record<string, Record<string, number>> }
  | { type: 'run-finished', plan: PlanStyle, repetition: number, run: PlanRun, settled: boolean }

/** Runs the scenario on real nodes and returns its results (not yet written). */
export async function runScenario (scenario: Scenario, options: RunScenarioOptions): Promise<ScenarioResults> {
  const startedAt = new Date()
  const plans = options.plans ?? scenario.plans
  const repetitions = options.repetitions ?? scenario.repetitions
  const breaks = await groundTruth(scenario, scenarioVersions(scenario))
  const notes: string[] = []
  if (scenario.network !== undefined) {
    notes.push('network conditions were asked for and ignored: this runner puts every machine on 127.0.0.1 without network namespaces')
  }
  const runs: PlanRun[] = []
  try {
    for (const plan of plans) {
      for (let repetition = 0; repetition < repetitions; repetition++) {
        options.signal?.throwIfAborted()
        const seed = (options.seed ?? scenario.seed) + repetition
        const { run, settled, formation } = await runPlan(scenario, plan, repetition, seed, breaks, options)
        if (!formation.formed) {
          notes.push(`${plan} repetition ${repetition}: the clock started before the swarm had formed (${formation.waitingFor.length} machines had not announced themselves to it after ${Math.round(formation.tookMs / 1000)} s)`)
        }
        if (!settled) notes.push(`${plan} repetition ${repetition}: did not settle within the time limit; timelines end where the run was stopped`)
        runs.push(run)
        options.onProgress?.({ type: 'run-finished', plan, repetition, run, settled })
      }
    }
  } finally {
    if (options.keepWork !== true) await rm(options.workDir, { recursive: true, force: true })
  }
  return scenarioResultsSchema.parse({
    v: RESULTS_FORMAT_VERSION,
    scenario: scenario.name,
    mode: 'real',
    runner: options.runner,
    startedAt: startedAt.toISOString(),
    artifactBytes: scenario.artifactBytes,
    notes,
    runs
  })
}

interface PublishedRelease { version: string, id: string, dir: string, publishedAt?: number, targets?: string[] }

async function runPlan (
  scenario: Scenario, plan: PlanStyle, repetition: number, seed: number,
  breaks: ReadonlyMap<string, ReadonlyMap<string, boolean>>, options: RunScenarioOptions
): Promise<{ run: PlanRun, settled: boolean, formation: FormationResult }> {
  const work = join(options.workDir, `${plan}-${repetition}`)
  await mkdir(work, { recursive: true })
  const vendor = await initVendorDir(join(work, 'vendor'))

  // Every release (and fix) is published before the clock starts; the seed gets each at its time.
  const releases = new Map<string, PublishedRelease>()
  let sequence = 0
  for (const spec of scenario.releases) {
    for (const { version, targets } of [{ version: spec.version, targets: spec.targets }, ...(spec.fix === undefined ? [] : [{ version: spec.fix.version, targets: spec.fix.targets }])]) {
      if (releases.has(version)) continue
      const tree = await writeAppTree(scenario, version, join(work, 'apps', version))
      const dir = join(work, 'releases', version)
      const planFile = join(work, 'plans', `${version}.json`)
      await mkdir(join(work, 'plans'), { recursive: true })
      await writeFile(planFile, JSON.stringify(planFor(scenario, plan, targets)))
      const published = await vendorPublish({
        vendor, app: scenario.app, version, artifactDir: tree, planPath: planFile, outDir: dir,
        testCommand: ['mirage-test'], testTimeoutMs: scenario.test.timeoutMs, sequence: ++sequence,
        ...(targets === undefined ? {} : { targets: [...targets] })
      })
      releases.set(version, { version, id: published.id, dir, ...(targets === undefined ? {} : { targets: [...targets] }) })
    }
  }

  const population = populationOf(scenario, seed)
  const machines = new Map<string, SwarmMachine & { spec: ScenarioMachine }>()
  for (const spec of population) {
    const dir = join(work, 'machines', spec.id)
    const envDir = await writeEnvironment(scenario, spec.cluster, spec.index, join(dir, 'env'))
    machines.set(spec.id, { id: spec.id, cluster: spec.cluster, dir, envDir, spec })
  }
  options.onProgress?.({ type: 'run-started', plan, repetition, machines: machines.size })

  // In one process the machines share its file descriptors (connection-cap.ts).
  const maxConnections = options.runner === 'in-process' ? inProcessConnectionCap(machines.size, await openFilesLimit()) : undefined
  const swarm = new ScenarioSwarm({
    runner: options.runner, threads: options.threads, app: scenario.app, vendor, seedDir: join(work, 'seed'),
    ...(maxConnections === undefined ? {} : { maxConnections })
  })
  const abort = (): void => { void swarm.stopAll() }
  options.signal?.addEventListener('abort', abort, { once: true })
  try {
    await swarm.startSeed()
    const atStart = [...machines.values()].filter(m => m.spec.joinAt === 0)
    await Promise.all(atStart.map(async m => swarm.start(m)))
    options.signal?.throwIfAborted()
    const formation = await awaitSwarmFormation(atStart.map(m => m.id), async id => swarm.progress(id), {
      timeoutMs: formationTimeoutMs(atStart.length),
      ...(options.signal === undefined ? {} : { signal: options.signal })
    })
    options.onProgress?.({ type: 'swarm-formed', plan, formed: formation.formed, tookMs: formation.tookMs, waitingFor: formation.waitingFor.length })

    const t0 = Date.now()
    const since = (): number => Date.now() - t0
    const seedUploadBase = (await swarm.seed?.status())?.uploaded.bytes ?? 0
    let seedUploaded = 0
    const outages = [...machines.values()].flatMap(m => m.spec.outages.map(o => ({ id: m.id, ...o })))
    const restarts = new Map<string, number>()
    const offline = scenario.vendorOffline.map(w => ({ ...w, done: false, back: false }))
    const fixDue = new Map<string, number>()
    const lastEventAt = Math.max(0, ...scenario.releases.map(r => r.atMs), ...population.map(m => m.joinAt), ...outages.map(o => o.atMs + o.downForMs), ...offline.map(w => w.atMs + w.forMs))
    let lastChangeAt = 0
    let lastFingerprint = ''
    let settled = false
    let lastProgressAt = -Infinity

    // Bounded: ends when settled, or settleTimeoutMs after the last scheduled event, or on abort.
    while (true) {
      options.signal?.throwIfAborted()
      const now = since()
      // Publications and fixes (the seed may be offline: then they wait for it).
      for (const spec of scenario.releases) {
        const release = releases.get(spec.version)
        if (release !== undefined && release.publishedAt === undefined && now >= spec.atMs && swarm.seed !== undefined) {
          await swarm.seed.seedRelease(release.dir)
          release.publishedAt = since()
          log('%s: published %s at %d ms', plan, release.version, release.publishedAt)
          options.onProgress?.({ type: 'published', plan, version: release.version, atMs: release.publishedAt })
        }
        const fix = spec.fix === undefined ? undefined : releases.get(spec.fix.version)
        if (spec.fix !== undefined && fix !== undefined && fix.publishedAt === undefined && swarm.seed !== undefined) {
          const faulty = releases.get(spec.version)
          if (!fixDue.has(spec.version) && faulty !== undefined && await inboxHasReportOn(vendor.dir, faulty.id)) fixDue.set(spec.version, now + spec.fix.afterFirstReportMs)
          const due = fixDue.get(spec.version)
          if (due !== undefined && now >= due) {
            await swarm.seed.seedRelease(fix.dir)
            fix.publishedAt = since()
            options.onProgress?.({ type: 'published', plan, version: fix.version, atMs: fix.publishedAt })
          }
        }
      }
      // The vendor offline.
      for (const window of offline) {
        if (!window.done && now >= window.atMs) {
          seedUploaded += ((await swarm.seed?.status())?.uploaded.bytes ?? 0) - (window === offline[0] ? seedUploadBase : 0)
          await swarm.stopSeed()
          window.done = true
        }
        if (window.done && !window.back && now >= window.atMs + window.forMs) {
          await swarm.startSeed()
          window.back = true
        }
      }
      // Late joiners, churn.
      for (const m of machines.values()) {
        if (m.spec.joinAt > 0 && now >= m.spec.joinAt && !swarm.isRunning(m.id) && !outages.some(o => o.id === m.id && now >= o.atMs && now < o.atMs + o.downForMs)) {
          await swarm.start(m)
        }
      }
      for (const outage of outages) {
        const key = `${outage.id}@${outage.atMs}`
        if (now >= outage.atMs && !restarts.has(key) && swarm.isRunning(outage.id)) {
          await swarm.stop(outage.id)
          restarts.set(key, outage.atMs + outage.downForMs)
        }
        const back = restarts.get(key)
        if (back !== undefined && back >= 0 && now >= back) {
          const machine = machines.get(outage.id)
          if (machine !== undefined) await swarm.start(machine)
          restarts.set(key, -1)
        }
      }

      // Where everyone stands: progress, and whether the run has settled.
      const statuses = await Promise.all([...machines.values()].map(async m => ({ m, status: await swarm.progress(m.id) })))
      const byCluster: Record<string, Record<string, number>> = {}
      let resting = true
      const fingerprint: string[] = []
      const publishedVersions = [...releases.values()].filter(r => r.publishedAt !== undefined).map(r => r.version)
      for (const { m, status } of statuses) {
        const known = status?.apps[0]?.releases ?? []
        // A machine rests only once it knows every published release (gossip or sync brought it) and is done with each.
        if (publishedVersions.some(v => !known.some(r => r.version === v))) resting = false
        // The newest release that concerns the machine (one for other clusters says nothing about it).
        const latest = known.find(r => r.state !== 'not-targeted') ?? known[0]
        const state = status === undefined ? 'offline' : latest?.state ?? 'waiting'
        const counts = byCluster[m.cluster] ??= {}
        counts[state] = (counts[state] ?? 0) + 1
        fingerprint.push(`${m.id}:${latest?.version ?? ''}:${state}`)
        if (status === undefined || latest === undefined || !RESTING_STATES.has(state)) resting = false
      }
      const print = fingerprint.join('|')
      if (print !== lastFingerprint) { lastFingerprint = print; lastChangeAt = now }
      if (now - lastProgressAt >= 2_000) {
        options.onProgress?.({ type: 'states', plan, atMs: now, byCluster })
        lastProgressAt = now
      }
      const allPublished = scenario.releases.every(r => releases.get(r.version)?.publishedAt !== undefined)
      const fixPending = scenario.releases.some(r => r.fix !== undefined && fixDue.has(r.version) && releases.get(r.fix.version)?.publishedAt === undefined)
      const faultyWithoutReport = scenario.releases.some(r => r.fix !== undefined && !fixDue.has(r.version) && statuses.some(({ status }) => (status?.reports.waiting ?? 0) > 0))
      if (now >= lastEventAt && allPublished && !fixPending && !faultyWithoutReport && resting && now - lastChangeAt >= QUIET_MS) {
        settled = true
        break
      }
      if (now > lastEventAt + (options.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS)) break
      await new Promise(resolve => setTimeout(resolve, TICK_MS))
    }
    const durationMs = since()

    // Timelines from what every machine persisted (first time each state was entered, per release).
    const timelines: MachineTimeline[] = []
    for (const m of machines.values()) {
      const status = await swarm.status(m.id)
      timelines.push(timelineOf(m, status, t0))
    }
    seedUploaded += ((await swarm.seed?.status())?.uploaded.bytes ?? 0) - (offline.some(w => w.done) ? 0 : seedUploadBase)
    const published = [...releases.values()].filter(r => r.publishedAt !== undefined).sort((a, b) => (a.publishedAt ?? 0) - (b.publishedAt ?? 0))
    const run = computeRun({
      plan,
      repetition,
      seed,
      releases: published.map(r => ({ version: r.version, publishedAt: r.publishedAt ?? 0, ...(r.targets === undefined ? {} : { targets: r.targets }) })),
      breaks,
      clusters: scenario.clusters.map(c => ({ name: c.name, after: afterOf(scenario, c.name) })),
      machines: timelines,
      vendorUploadBytes: Math.max(0, seedUploaded),
      artifactBytes: scenario.artifactBytes,
      durationMs
    })
    return { run, settled, formation }
  } finally {
    options.signal?.removeEventListener('abort', abort)
    await swarm.stopAll()
  }
}

/** A machine's timeline: the states of every release it saw, at the times it persisted them. */
function timelineOf (m: SwarmMachine & { spec: ScenarioMachine }, status: NodeStatus | undefined, t0: number): MachineTimeline {
  const events: TimelineEvent[] = []
  let role: MachineTimeline['role'] = 'undecided'
  let bytesIn = 0
  // Oldest release first: the role is what the machine did for the first one.
  for (const release of [...status?.apps[0]?.releases ?? []].reverse()) {
    if (role === 'undecided' && (release.role === 'representative' || release.role === 'follower')) role = release.role
    bytesIn += Object.values(release.bytesFrom).reduce((a, b) => a + b, 0)
    for (const [state, at] of Object.entries(release.at)) {
      if (!(MACHINE_STATES as readonly string[]).includes(state)) continue
      events.push({ at: Math.max(0, at - t0), version: release.version, state: state as MachineState })
    }
  }
  events.sort((a, b) => a.at - b.at || (MACHINE_STATES.indexOf(a.state) - MACHINE_STATES.indexOf(b.state)))
  return {
    id: m.id,
    cluster: m.cluster,
    role,
    events,
    bytesIn,
    bytesOut: status?.uploaded.bytes ?? 0,
    messages: (status?.messages.accepted ?? 0) + (status?.messages.ignored ?? 0) + (status?.messages.rejected ?? 0)
  }
}

function afterOf (scenario: Scenario, cluster: string): string[] {
  return [...(scenario.rules.clusters.find(c => c.name === cluster)?.after ?? scenario.rules.default.after ?? [])]
}

/** Whether the vendor's inbox holds a report about `releaseId` (read from the sealed envelope's outer fields, without opening it). */
async function inboxHasReportOn (vendorDir: string, releaseId: string): Promise<boolean> {
  const dir = vendorReportsDir(vendorDir)
  const files = await readdir(dir).catch(() => [])
  for (const file of files) {
    if (!file.endsWith('.report')) continue
    try {
      if (decodeSealedReport(await readFile(join(dir, file))).release === releaseId) return true
    } catch {
      // A file the seed would never write (it checks the form first): not a report about anything.
    }
  }
  return false
}
