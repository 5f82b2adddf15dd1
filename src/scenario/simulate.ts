import type { PlanStyle } from '../release/index.ts'
import type { RolloutRelease } from '../rollout/index.ts'
import { MAX_SIMULATED_TIME_MS, SIMULATED_PARALLEL_SOURCES } from './constants.ts'
import { EngineOracle } from './engine-oracle.ts'
import type { Ballots } from './engine-oracle.ts'
import { EventQueue } from './event-queue.ts'
import { computeRun } from './metrics.ts'
import type { MachineTimeline } from './metrics.ts'
import { lateJoinersOf, machineId, mulberry32, outagesOf, sampleIndices } from './population.ts'
import type { MachineState, PlanRun, TimelineEvent } from './results.ts'
import { planFor } from './scenario-schema.ts'
import type { Scenario } from './scenario-schema.ts'
import { SharedHost } from './shared-host.ts'

/**
 * The discrete-event simulator (`mirage scenario simulate`): the scenario's
 * population and timeline in simulated time, the rollout engine deciding
 * (through `EngineOracle`, which explains how the engine is fed), and a
 * timing model around it. No wall clock and no sleeps: a binary-heap event
 * queue (`EventQueue`) jumps from one event to the next.
 *
 * What a machine does, as a node does it (src/node/app-rollout.ts):
 * - sees a release a gossip delay after it is published (or on its return,
 *   by sync); a newer release supersedes one still in flight;
 * - asks the engine: 'test' (an elected representative, after the election
 *   settle; everyone under all-at-once): announce the start, download, run
 *   the test; pass: install (no health check: the tree was just tested)
 *   and gossip the pass; fail: gossip it, 'failed' and a problem report;
 * - 'install' (its gate opened): download, re-check the gate, install, run
 *   the health check (the same test): a failure rolls back, gossips a
 *   failing outcome and files a report;
 * - 'wait' / 'blocked': nothing until the answer changes.
 *
 * The model, and what it leaves out:
 * - Transfer: the artifact at the machine's own rate (jittered), from up to
 *   SIMULATED_PARALLEL_SOURCES sources drawn from the online machines that
 *   hold it and the vendor (if online); bytes are credited to the sources
 *   drawn when a transfer ends or is cut. Source uplinks are not a
 *   bottleneck (the vendor's included) and partial downloads are not
 *   served, as a node announces holding only a complete artifact. With no
 *   source (vendor offline, no holder yet) a download waits.
 * - Test and health check: the scenario's test duration (jittered); the
 *   outcome is the ground truth (`breaksOn`, the real script's verdict).
 * - Host: each machine has its own (the internet), or, with
 *   timing.sharedHostCores, every machine runs on one host of that many
 *   cores, as in a local real run: downloads, tests and health checks
 *   running at once share its cores (SharedHost, processor sharing), so
 *   the durations above are what each takes alone.
 * - Gossip: every message reaches every online machine after the gossip
 *   delay (plus the network delay, if the scenario sets one); a machine
 *   that was offline catches up on its return. Messages counted per machine
 *   are the gossip published while it was online plus its own.
 * - Reports reach the vendor after the report delay, or when it comes back
 *   online; the fix is published `afterFirstReport` after the first one.
 * - Churn: a killed machine drops what it was doing (download progress is
 *   kept, as chunks are on disk) and resumes on restart; a machine killed
 *   while testing is silent, and its silence fails its cluster if it does
 *   not report in time (rule 5). Loss is not modelled (noted in results).
 * - No vendor halts or clears: the vendor's answer to a failure is the fix.
 */
export interface SimulatePlanInput {
  scenario: Scenario
  plan: PlanStyle
  repetition: number
  seed: number
  /** version → cluster → breaks (`groundTruth`). */
  breaks: ReadonlyMap<string, ReadonlyMap<string, boolean>>
  /** Shared between plans of one (scenario, seed): ballots depend on the release id and population only. */
  cache?: SimulationCache
  /** Feed the engine every member and message and ask every machine alone (EngineOracle's reference mode): for tests. */
  reference?: boolean
}

/** Ballots by release id, reused across the plans of one seed (hashing a million rank keys costs about a second). */
export type SimulationCache = Map<string, Ballots>

const NONE = -1
const VENDOR = -2

const K = {
  PUBLISH: 1, DELIVER: 2, JOIN: 3, KILL: 4, RESTART: 5, STEP: 6, DOWNLOAD_DONE: 7, TEST_DONE: 8, HEALTH_DONE: 9,
  SHARED: 10, WAKE: 11, REPORT: 12, VENDOR_DOWN: 13, VENDOR_UP: 14, SYNC: 15, HOST: 16
} as const

/** What a machine is doing on the shared host (see SharedHost). */
const A = { DOWNLOAD: 1, TEST: 2, HEALTH: 3 } as const

/** Where a machine is with its current release. */
const P = { IDLE: 0, SEEN: 1, WAITING: 2, DOWNLOADING: 3, STARVED: 4, TESTING: 5, INSTALLING: 6, BLOCKED: 7, DONE: 8 } as const

const STATE_INDEX: ReadonlyArray<MachineState> = [
  'offline', 'seen', 'waiting', 'downloading', 'testing', 'installing', 'installed',
  'blocked', 'halted', 'failed', 'rolled-back', 'superseded', 'not-targeted'
]
const S: Record<MachineState, number> = Object.fromEntries(STATE_INDEX.map((s, i) => [s, i])) as Record<MachineState, number>

interface SimRelease {
  index: number
  version: string
  targets?: string[]
  targeted: boolean[]
  breaks: Uint8Array
  fix?: { version: string, afterFirstReportMs: number, targets?: string[] }
  publishedAt: number
  deliveredAt: number
  firstReportAt: number
  oracle?: EngineOracle
  rollout: RolloutRelease
  holders: number[]
  holderPos: Int32Array
  /** Machines that hold the whole artifact (serving it while online). */
  has: Uint8Array
  starved: number[]
  waiting: number[][]
  wakeAt: number
  /** Shared events waiting for their gossip delay: [kind, machine, cluster, at, pass]. */
  pending: Array<{ type: 'start' | 'pass' | 'fail' | 'member', machine: number, cluster: number, at: number, force?: boolean }>
}

/** Simulates one plan style of a scenario (one repetition) and computes its metrics. */
export function simulatePlan (input: SimulatePlanInput): PlanRun {
  return new PlanSimulation(input).run()
}

class PlanSimulation {
  readonly input: SimulatePlanInput
  readonly scenario: Scenario
  readonly queue = new EventQueue()
  readonly n: number
  readonly clusterNames: string[]
  readonly clusterStart: Int32Array
  readonly clusterSize: Int32Array
  readonly clusterOf: Uint16Array
  readonly joinAt: Float64Array
  readonly churned: Uint8Array
  readonly online: Uint8Array
  readonly gen: Uint32Array
  readonly cur: Int8Array
  readonly phase: Uint8Array
  readonly forInstall: Uint8Array
  readonly remaining: Float64Array
  readonly segmentStart: Float64Array
  readonly rate: Float64Array
  readonly testMs: Float64Array
  readonly outcome: Uint8Array
  readonly outcomeAt: Float64Array
  readonly startedAt: Float64Array
  readonly seenAt: Float64Array
  readonly role: Uint8Array
  /** The sources of each machine's transfer in flight, drawn when it starts: holder ids, VENDOR, or NONE. */
  readonly sources: Int32Array
  /** release index + 1 of the waiting list the machine is on (0: none), so it is listed once. */
  readonly listedIn: Uint8Array
  readonly bytesIn: Float64Array
  readonly bytesOut: Float64Array
  readonly messages: Float64Array
  readonly gossipAtOnline: Float64Array
  readonly releases: SimRelease[] = []
  readonly random: () => number
  readonly gossipMs: number
  readonly settleMs: number
  readonly outages = new Map<number, Array<{ atMs: number, downForMs: number }>>()
  /** The one host every machine runs on (timing.sharedHostCores), or undefined: each machine has its own. */
  readonly host: SharedHost | undefined
  /** The activity (A) each machine runs on the shared host. */
  readonly hostActivity: Uint8Array
  /** Tags the latest HOST event; earlier ones are stale. */
  hostEvent = 0
  gossipCount = 0
  vendorDown = 0
  vendorUploadBytes = 0
  pendingReports: number[] = []
  pendingPublishes: number[] = []
  now = 0
  /** The timeline, in time order: machine, time, release (-1 none), state. */
  logMachine = new Int32Array(1 << 16)
  logAt = new Float64Array(1 << 16)
  logRelease = new Int8Array(1 << 16)
  logState = new Uint8Array(1 << 16)
  logSize = 0

  constructor (input: SimulatePlanInput) {
    this.input = input
    const scenario = this.scenario = input.scenario
    this.clusterNames = scenario.clusters.map(c => c.name)
    this.clusterStart = new Int32Array(scenario.clusters.length)
    this.clusterSize = Int32Array.from(scenario.clusters, c => c.machines)
    let n = 0
    scenario.clusters.forEach((c, i) => { this.clusterStart[i] = n; n += c.machines })
    this.n = n
    this.clusterOf = new Uint16Array(n)
    scenario.clusters.forEach((c, i) => { this.clusterOf.fill(i, this.clusterStart[i], (this.clusterStart[i] as number) + c.machines) })
    this.joinAt = new Float64Array(n)
    this.churned = new Uint8Array(n)
    this.online = new Uint8Array(n)
    this.gen = new Uint32Array(n)
    this.cur = new Int8Array(n).fill(-1)
    this.phase = new Uint8Array(n)
    this.forInstall = new Uint8Array(n)
    this.remaining = new Float64Array(n)
    this.segmentStart = new Float64Array(n)
    this.rate = new Float64Array(n)
    this.testMs = new Float64Array(n)
    this.outcome = new Uint8Array(n)
    this.outcomeAt = new Float64Array(n)
    this.startedAt = new Float64Array(n).fill(-1)
    this.seenAt = new Float64Array(n)
    this.role = new Uint8Array(n)
    this.sources = new Int32Array(n * SIMULATED_PARALLEL_SOURCES).fill(NONE)
    this.listedIn = new Uint8Array(n)
    this.bytesIn = new Float64Array(n)
    this.bytesOut = new Float64Array(n)
    this.messages = new Float64Array(n)
    this.gossipAtOnline = new Float64Array(n)
    this.random = mulberry32(input.seed)
    const { timing, network } = scenario
    this.host = timing.sharedHostCores === undefined ? undefined : new SharedHost(timing.sharedHostCores)
    this.hostActivity = new Uint8Array(this.host === undefined ? 0 : n)
    this.gossipMs = timing.gossipDelayMs + (network?.delayMs ?? 0)
    const startTimeout = planFor(scenario, input.plan).startTimeoutMs
    // Without staging nobody is elected, so nobody waits for an election (as the node).
    this.settleMs = input.plan === 'all-at-once' ? 0 : Math.min(timing.electionSettleMs, startTimeout / 2)
    const transfer = Math.min(timing.transferBytesPerSecond, network?.rateBytesPerSecond ?? Infinity)
    const j = timing.jitter
    for (let m = 0; m < n; m++) {
      this.rate[m] = transfer * (1 + j * (2 * this.random() - 1)) / 1000
      this.testMs[m] = timing.testDurationMs * (1 + j * (2 * this.random() - 1))
    }
    for (const late of lateJoinersOf(scenario)) {
      const base = this.clusterStart[this.clusterNames.indexOf(late.cluster)] as number
      this.joinAt.fill(late.atMs, base + late.fromIndex, base + late.toIndex)
    }
    for (const outage of outagesOf(scenario, input.seed)) {
      this.churned[outage.machine] = 1
      const list = this.outages.get(outage.machine) ?? []
      list.push({ atMs: outage.atMs, downForMs: outage.downForMs })
      this.outages.set(outage.machine, list)
    }
  }

  peerIdOf = (m: number): string => `sim${this.input.seed}-${this.machineIdOf(m)}`
  machineIdOf (m: number): string {
    const c = this.clusterOf[m] as number
    return machineId(this.scenario.clusters[c] as Scenario['clusters'][number], m - (this.clusterStart[c] as number))
  }

  run (): PlanRun {
    const { scenario, queue } = this
    for (let m = 0; m < this.n; m++) {
      if (this.joinAt[m] === 0) {
        this.online[m] = 1
      } else {
        this.log(m, 0, -1, S.offline)
        queue.push(this.joinAt[m] as number, K.JOIN, m)
      }
    }
    for (const [m, list] of this.outages) for (const o of list) queue.push(o.atMs, K.KILL, m, o.downForMs)
    scenario.vendorOffline.forEach((w, i) => { queue.push(w.atMs, K.VENDOR_DOWN, i); queue.push(w.atMs + w.forMs, K.VENDOR_UP, i) })
    for (const release of scenario.releases) {
      const r = this.addRelease(release.version, release.targets, release.fix)
      queue.push(release.atMs, K.PUBLISH, r)
    }

    const event = { time: 0, kind: 0, a: 0, b: 0 }
    while (queue.pop(event)) {
      if (event.time > MAX_SIMULATED_TIME_MS) break
      this.now = event.time
      this.dispatch(event.kind, event.a, event.b)
    }
    return this.results()
  }

  addRelease (version: string, targets: string[] | undefined, fix: SimRelease['fix']): number {
    const index = this.releases.length
    const breaks = this.input.breaks.get(version)
    const targeted = this.clusterNames.map(c => targets === undefined || targets.includes(c))
    const release: SimRelease = {
      index,
      version,
      targeted,
      breaks: Uint8Array.from(this.clusterNames, c => breaks?.get(c) === true ? 1 : 0),
      publishedAt: -1,
      deliveredAt: -1,
      firstReportAt: -1,
      rollout: {
        id: `sim:${this.scenario.name}:${version}:${this.input.seed}`,
        plan: planFor(this.scenario, this.input.plan, targets),
        testTimeoutMs: this.scenario.test.timeoutMs
      },
      holders: [],
      holderPos: new Int32Array(0),
      has: new Uint8Array(0),
      starved: [],
      waiting: this.clusterNames.map(() => []),
      wakeAt: -1,
      pending: []
    }
    if (targets !== undefined) release.targets = targets
    if (fix !== undefined) release.fix = fix
    this.releases.push(release)
    return index
  }

  dispatch (kind: number, a: number, b: number): void {
    const t = this.now
    switch (kind) {
      case K.PUBLISH: return this.publish(a)
      case K.DELIVER: return this.deliver(a)
      case K.JOIN: return this.join(a)
      case K.KILL: return this.kill(a, b)
      case K.RESTART: return this.restart(a)
      case K.SYNC: if (this.online[a] === 1 && this.gen[a] === b) this.sync(a); return
      case K.STEP: if (this.online[a] === 1 && this.gen[a] === b) this.step(a); return
      case K.DOWNLOAD_DONE: if (this.online[a] === 1 && this.gen[a] === b) this.downloadDone(a); return
      case K.TEST_DONE: if (this.online[a] === 1 && this.gen[a] === b) this.testDone(a); return
      case K.HEALTH_DONE: if (this.online[a] === 1 && this.gen[a] === b) this.healthDone(a); return
      case K.HOST: if (b === this.hostEvent) this.hostDue(); return
      case K.SHARED: return this.applyShared(a, b)
      case K.WAKE: return this.wake(a)
      case K.REPORT: return this.report(a)
      case K.VENDOR_DOWN: this.vendorDown++; return
      case K.VENDOR_UP: return this.vendorUp()
      default: throw new Error(`bug: unknown simulation event ${kind} at ${t}`)
    }
  }

  // --- the vendor ---------------------------------------------------------

  publish (r: number): void {
    const release = this.releases[r] as SimRelease
    if (this.vendorDown > 0) { this.pendingPublishes.push(r); return }
    release.publishedAt = this.now
    this.gossipCount++
    this.queue.push(this.now + this.gossipMs, K.DELIVER, r)
  }

  report (r: number): void {
    if (this.vendorDown > 0) { this.pendingReports.push(r); return }
    const release = this.releases[r] as SimRelease
    if (release.firstReportAt >= 0) return
    release.firstReportAt = this.now
    if (release.fix === undefined) return
    const fix = this.addRelease(release.fix.version, release.fix.targets, undefined)
    this.queue.push(this.now + release.fix.afterFirstReportMs, K.PUBLISH, fix)
  }

  vendorUp (): void {
    this.vendorDown = Math.max(0, this.vendorDown - 1)
    if (this.vendorDown > 0) return
    const reports = this.pendingReports
    const publishes = this.pendingPublishes
    this.pendingReports = []
    this.pendingPublishes = []
    for (const r of reports) this.report(r)
    for (const r of publishes) this.publish(r)
    for (const release of this.releases) this.unstarve(release)
  }

  // --- delivery, lifecycle -------------------------------------------------

  deliver (r: number): void {
    const release = this.releases[r] as SimRelease
    release.deliveredAt = this.now
    release.holderPos = new Int32Array(this.n).fill(-1)
    release.has = new Uint8Array(this.n)
    const cacheKey = release.rollout.id
    const cached = this.input.cache?.get(cacheKey)
    const oracle = release.oracle = new EngineOracle({
      release: release.rollout,
      clusters: this.clusterNames,
      clusterStart: this.clusterStart,
      clusterSize: this.clusterSize,
      peerIdOf: this.peerIdOf,
      alwaysOn: m => this.joinAt[m] === 0 && this.churned[m] === 0,
      joinAt: m => this.joinAt[m] as number,
      targeted: release.targeted,
      seenAt: this.now,
      reference: this.input.reference === true,
      ...(cached === undefined || this.input.reference === true ? {} : { ballots: cached })
    })
    if (this.input.reference !== true) this.input.cache?.set(cacheKey, oracle.ballots)
    this.clusterNames.forEach((_, c) => {
      for (const m of oracle.ballots.members[c] ?? []) if (this.joinAt[m] as number <= this.now) oracle.memberJoined(m, c, this.now)
    })
    for (let m = 0; m < this.n; m++) if (this.online[m] === 1) this.receive(m, r)
  }

  /** The machine learns of release `r` (gossip or sync). */
  receive (m: number, r: number): void {
    const previous = this.cur[m] as number
    if (previous >= r) return
    const release = this.releases[r] as SimRelease
    const c = this.clusterOf[m] as number
    if (release.targeted[c] !== true) {
      this.log(m, this.now, r, S['not-targeted'])
      return
    }
    if (previous >= 0 && this.phase[m] !== P.DONE) {
      this.cutDownload(m)
      this.hostStop(m)
      this.log(m, this.now, previous, S.superseded)
      bump(this.gen, m)
    }
    this.cur[m] = r
    this.phase[m] = P.SEEN
    this.outcome[m] = 0
    this.startedAt[m] = -1
    this.remaining[m] = this.scenario.artifactBytes
    this.seenAt[m] = this.now
    this.log(m, this.now, r, S.seen)
    this.step(m)
  }

  join (m: number): void {
    this.online[m] = 1
    this.gossipAtOnline[m] = this.gossipCount
    const c = this.clusterOf[m] as number
    for (const release of this.releases) {
      if (release.oracle?.inBallot(m) === true) this.pendingShared(release, { type: 'member', machine: m, cluster: c, at: this.now })
    }
    this.queue.push(this.now + this.gossipMs, K.SYNC, m, this.gen[m] as number)
  }

  kill (m: number, downForMs: number): void {
    if (this.online[m] === 0) return
    this.cutDownload(m)
    this.hostStop(m)
    const r = this.cur[m] as number
    const release = r >= 0 ? this.releases[r] as SimRelease : undefined
    // A machine that dies mid-test owes an outcome: its start now matters (rule 5, silence).
    if (release !== undefined && this.phase[m] === P.TESTING && release.oracle?.inBallot(m) !== true) {
      this.pendingShared(release, { type: 'start', machine: m, cluster: this.clusterOf[m] as number, at: this.startedAt[m] as number, force: true })
    }
    if (this.phase[m] === P.DOWNLOADING || this.phase[m] === P.STARVED || this.phase[m] === P.TESTING || this.phase[m] === P.INSTALLING || this.phase[m] === P.WAITING) {
      this.phase[m] = P.SEEN
    }
    for (const rel of this.releases) this.dropHolder(rel, m)
    this.online[m] = 0
    bump(this.messages, m, this.gossipCount - (this.gossipAtOnline[m] as number))
    bump(this.gen, m)
    this.log(m, this.now, -1, S.offline)
    this.queue.push(this.now + downForMs, K.RESTART, m)
  }

  restart (m: number): void {
    this.online[m] = 1
    this.gossipAtOnline[m] = this.gossipCount
    for (const rel of this.releases) {
      if (rel.has.length === 0 || rel.has[m] === 0) continue
      this.addHolder(rel, m)
      this.unstarve(rel)
    }
    this.queue.push(this.now + this.gossipMs, K.SYNC, m, this.gen[m] as number)
  }

  /** Back online: catch up with the newest release (sync), else carry on with the current one. */
  sync (m: number): void {
    for (let r = this.releases.length - 1; r > (this.cur[m] as number); r--) {
      const release = this.releases[r] as SimRelease
      if (release.deliveredAt < 0) continue
      if (release.targeted[this.clusterOf[m] as number] === true) { this.receive(m, r); return }
    }
    if (this.cur[m] as number >= 0 && this.phase[m] === P.SEEN) {
      this.log(m, this.now, this.cur[m] as number, S.seen)
      this.step(m)
    }
  }

  // --- the machine's rollout -----------------------------------------------

  /** Asks the engine and acts on its answer. */
  step (m: number): void {
    const r = this.cur[m] as number
    if (r < 0 || this.online[m] === 0) return
    const phase = this.phase[m] as number
    if (phase === P.DONE || phase === P.BLOCKED || phase === P.DOWNLOADING || phase === P.STARVED || phase === P.TESTING || phase === P.INSTALLING) return
    const release = this.releases[r] as SimRelease
    const c = this.clusterOf[m] as number
    const { decision, nextDeadlineAt } = this.decide(release, m, c)
    if (nextDeadlineAt !== undefined) this.scheduleWake(release, nextDeadlineAt)
    switch (decision.action) {
      case 'wait':
        this.enterWaiting(release, m, c)
        return
      case 'blocked':
      case 'halted':
        this.phase[m] = P.BLOCKED
        this.log(m, this.now, r, decision.action === 'blocked' ? S.blocked : S.halted)
        return
      case 'test': {
        // The node waits for the election to settle before it acts on being elected (ELECTION_SETTLE_MS).
        const settledAt = this.seenAt[m] as number + this.settleMs
        if (this.now < settledAt && (this.startedAt[m] as number) < 0) {
          this.enterWaiting(release, m, c)
          this.queue.push(settledAt, K.STEP, m, this.gen[m] as number)
          return
        }
        // The start is announced once the artifact is here (src/node/app-rollout.ts), in downloaded().
        if (r === 0 && this.role[m] === 0) this.role[m] = 1
        this.forInstall[m] = 0
        this.download(release, m)
        return
      }
      case 'install':
        if (r === 0 && this.role[m] === 0) this.role[m] = 2
        this.forInstall[m] = 1
        this.download(release, m)
    }
  }

  decide (release: SimRelease, m: number, c: number): ReturnType<EngineOracle['decide']> {
    const oracle = release.oracle as EngineOracle
    const own: Parameters<EngineOracle['decide']>[3] = { seenAt: this.seenAt[m] as number }
    if (this.startedAt[m] as number >= 0) own.startedAt = this.startedAt[m] as number
    if (this.outcome[m] !== 0) own.outcome = { at: this.outcomeAt[m] as number, pass: this.outcome[m] === 1 }
    return oracle.decide(m, c, this.now, own)
  }

  enterWaiting (release: SimRelease, m: number, c: number): void {
    if (this.phase[m] !== P.WAITING) {
      this.phase[m] = P.WAITING
      this.log(m, this.now, release.index, S.waiting)
    }
    if (this.listedIn[m] !== release.index + 1) {
      this.listedIn[m] = release.index + 1
      ;(release.waiting[c] as number[]).push(m)
    }
  }

  download (release: SimRelease, m: number): void {
    if (this.remaining[m] as number <= 0) return this.downloaded(release, m)
    const sources = release.holders.length + (this.vendorDown > 0 ? 0 : 1)
    if (this.phase[m] !== P.DOWNLOADING && this.phase[m] !== P.STARVED) this.log(m, this.now, release.index, S.downloading)
    if (sources === 0) {
      this.phase[m] = P.STARVED
      release.starved.push(m)
      return
    }
    this.phase[m] = P.DOWNLOADING
    this.segmentStart[m] = this.now
    this.drawSources(release, m, sources)
    this.after((this.remaining[m] as number) / (this.rate[m] as number), A.DOWNLOAD, m)
  }

  downloadDone (m: number): void {
    const release = this.releases[this.cur[m] as number] as SimRelease
    this.cutDownload(m)
    this.addHolder(release, m)
    this.unstarve(release)
    this.downloaded(release, m)
  }

  /** Credits the bytes of the transfer in flight to the sources drawn when it started, and keeps the progress (chunks are on disk). */
  cutDownload (m: number): void {
    if (this.phase[m] !== P.DOWNLOADING) return
    const elapsed = this.host === undefined ? this.now - (this.segmentStart[m] as number) : this.hostStop(m)
    const bytes = Math.min(this.remaining[m] as number, elapsed * (this.rate[m] as number))
    this.remaining[m] = (this.remaining[m] as number) - bytes < 1 ? 0 : (this.remaining[m] as number) - bytes
    bump(this.bytesIn, m, bytes)
    const base = m * SIMULATED_PARALLEL_SOURCES
    let count = 0
    while (count < SIMULATED_PARALLEL_SOURCES && this.sources[base + count] !== NONE) count++
    const share = bytes / Math.max(1, count)
    for (let i = 0; i < count; i++) {
      const source = this.sources[base + i] as number
      if (source === VENDOR) this.vendorUploadBytes += share
      else bump(this.bytesOut, source, share)
    }
  }

  /** Up to SIMULATED_PARALLEL_SOURCES distinct sources, uniformly from the online holders and the vendor (if online). */
  drawSources (release: SimRelease, m: number, pool: number): void {
    const base = m * SIMULATED_PARALLEL_SOURCES
    const count = Math.min(SIMULATED_PARALLEL_SOURCES, pool)
    this.sources.fill(NONE, base, base + SIMULATED_PARALLEL_SOURCES)
    for (const i of sampleIndices(pool, count, this.random).sort((a, b) => a - b)) {
      this.sources[base + (this.sources.indexOf(NONE, base) - base)] = i === release.holders.length ? VENDOR : release.holders[i] as number
    }
  }

  downloaded (release: SimRelease, m: number): void {
    if (this.forInstall[m] === 0) {
      if ((this.startedAt[m] as number) < 0) {
        // The download took a while: the node asks the rules again before it announces its start,
        // and tests unless it was replaced or halted meanwhile (src/node/app-rollout.ts).
        const { decision } = this.decide(release, m, this.clusterOf[m] as number)
        if (decision.action !== 'test' && decision.action !== 'blocked') {
          if (this.cur[m] === 0 && this.role[m] === 1) this.role[m] = 0
          this.phase[m] = P.SEEN
          this.step(m)
          return
        }
        const c = this.clusterOf[m] as number
        this.startedAt[m] = this.now
        this.publishGossip(m)
        this.pendingShared(release, { type: 'start', machine: m, cluster: c, at: this.now })
      }
      this.phase[m] = P.TESTING
      this.log(m, this.now, release.index, S.testing)
      this.after(this.testMs[m] as number, A.TEST, m)
      return
    }
    // The download took a while: the gate may have closed meanwhile (the node checks again).
    const { decision } = this.decide(release, m, this.clusterOf[m] as number)
    if (decision.action !== 'install') {
      this.phase[m] = P.SEEN
      this.step(m)
      return
    }
    this.phase[m] = P.INSTALLING
    this.log(m, this.now, release.index, S.installing)
    this.after(this.testMs[m] as number, A.HEALTH, m)
  }

  // --- the time a step takes ----------------------------------------------

  /** Ends activity `activity` of machine `m` after `ms` on a machine of its own, later on a busy shared host. */
  after (ms: number, activity: number, m: number): void {
    const host = this.host
    if (host === undefined) {
      const kind = activity === A.DOWNLOAD ? K.DOWNLOAD_DONE : activity === A.TEST ? K.TEST_DONE : K.HEALTH_DONE
      this.queue.push(this.now + ms, kind, m, this.gen[m] as number)
      return
    }
    host.start(m, ms, this.now)
    this.hostActivity[m] = activity
    this.scheduleHost()
  }

  /** Takes `m`'s activity off the shared host (if any); returns the work it got, in ms of a core to itself. */
  hostStop (m: number): number {
    const host = this.host
    if (host === undefined || !host.has(m)) return 0
    const work = host.stop(m, this.now)
    this.scheduleHost()
    return work
  }

  scheduleHost (): void {
    const at = (this.host as SharedHost).nextEndAt()
    this.hostEvent = (this.hostEvent + 1) | 0
    if (at !== Infinity) this.queue.push(at, K.HOST, 0, this.hostEvent)
  }

  /** The shared host's next activities are done: each goes on as its own event would have. */
  hostDue (): void {
    const host = this.host as SharedHost
    for (const m of host.due(this.now)) {
      // Handling an earlier one may have ended this one (never today; cheap to be sure).
      if (!host.has(m)) continue
      const activity = this.hostActivity[m]
      // A download leaves the host in cutDownload, which reads its work.
      if (activity === A.DOWNLOAD) {
        this.downloadDone(m)
        continue
      }
      this.hostStop(m)
      if (activity === A.TEST) this.testDone(m)
      else this.healthDone(m)
    }
    this.scheduleHost()
  }

  testDone (m: number): void {
    const release = this.releases[this.cur[m] as number] as SimRelease
    const c = this.clusterOf[m] as number
    const pass = release.breaks[c] === 0
    this.outcome[m] = pass ? 1 : 2
    this.outcomeAt[m] = this.now
    this.publishGossip(m)
    this.pendingShared(release, { type: pass ? 'pass' : 'fail', machine: m, cluster: c, at: this.now })
    if (!pass) {
      this.phase[m] = P.DONE
      this.log(m, this.now, release.index, S.failed)
      this.queue.push(this.now + this.scenario.timing.reportDelayMs, K.REPORT, release.index)
      return
    }
    // A representative installs the tree it just tested, without a second
    // run of the test, and announces its pass once installed (src/node/app-rollout.ts).
    this.phase[m] = P.DONE
    this.log(m, this.now, release.index, S.installing)
    this.log(m, this.now, release.index, S.installed)
  }

  healthDone (m: number): void {
    const release = this.releases[this.cur[m] as number] as SimRelease
    const c = this.clusterOf[m] as number
    this.phase[m] = P.DONE
    if (release.breaks[c] === 0) {
      this.log(m, this.now, release.index, S.installed)
      return
    }
    // A machine its cluster misplaced: back at once, and tell the others (src/node/app-rollout.ts #install).
    this.log(m, this.now, release.index, S['rolled-back'])
    this.outcome[m] = 2
    this.outcomeAt[m] = this.now
    this.publishGossip(m)
    this.pendingShared(release, { type: 'fail', machine: m, cluster: c, at: this.now })
    this.queue.push(this.now + this.scenario.timing.reportDelayMs, K.REPORT, release.index)
  }

  // --- gossip into the engine ----------------------------------------------

  publishGossip (m: number): void {
    this.gossipCount++
    bump(this.messages, m)
  }

  /** A message that reaches every online machine's engine after the gossip delay. */
  pendingShared (release: SimRelease, event: SimRelease['pending'][number]): void {
    if (release.oracle?.mayMatter(event.type, event.machine, event.cluster, event.force === true) === false) return
    release.pending.push(event)
    this.queue.push(this.now + this.gossipMs, K.SHARED, release.index, release.pending.length - 1)
  }

  applyShared (r: number, i: number): void {
    const release = this.releases[r] as SimRelease
    const event = release.pending[i]
    const oracle = release.oracle
    if (event === undefined || oracle === undefined) return
    release.pending[i] = undefined as never
    let changed = false
    switch (event.type) {
      case 'member': changed = oracle.memberJoined(event.machine, event.cluster, event.at); break
      case 'start': changed = oracle.testStarted(event.machine, event.cluster, event.at, event.force === true); break
      case 'pass': changed = oracle.outcome(event.machine, event.cluster, event.at, true); break
      case 'fail': changed = oracle.outcome(event.machine, event.cluster, event.at, false); break
    }
    if (changed) this.scheduleWake(release, this.now)
  }

  scheduleWake (release: SimRelease, at: number): void {
    if (release.wakeAt === at) return
    release.wakeAt = at
    this.queue.push(at, K.WAKE, release.index)
  }

  /** The shared state changed or a deadline came: machines waiting on this release ask again. */
  wake (r: number): void {
    const release = this.releases[r] as SimRelease
    const oracle = release.oracle
    if (oracle === undefined) return
    for (let c = 0; c < this.clusterNames.length; c++) {
      const waiting = release.waiting[c] as number[]
      if (waiting.length === 0) continue
      // Ballot members alone first (they are few, and may be told to test), then the others' class.
      for (const m of oracle.ballots.members[c] ?? []) if (this.isWaitingOn(m, r)) this.step(m)
      const probe = waiting.find(m => this.isWaitingOn(m, r) && !oracle.inBallot(m))
      if (probe === undefined) { release.waiting[c] = this.unlist(waiting, r, true); continue }
      const { decision, nextDeadlineAt } = this.decide(release, probe, c)
      if (nextDeadlineAt !== undefined) this.scheduleWake(release, nextDeadlineAt)
      // (In reference mode every machine is asked on its own, whatever the probe was told.)
      if (decision.action === 'wait' && this.input.reference !== true) continue
      release.waiting[c] = []
      for (const m of this.unlist(waiting, r, false)) this.step(m)
    }
  }

  /** Takes machines off a waiting list: those still waiting are kept listed (keep) or returned unlisted, to be stepped. */
  unlist (list: number[], r: number, keep: boolean): number[] {
    const out: number[] = []
    for (const m of list) {
      if (this.listedIn[m] !== r + 1) continue
      if (!this.isWaitingOn(m, r)) { this.listedIn[m] = 0; continue }
      if (!keep) this.listedIn[m] = 0
      out.push(m)
    }
    return out
  }

  isWaitingOn (m: number, r: number): boolean {
    return this.cur[m] === r && this.phase[m] === P.WAITING && this.online[m] === 1
  }

  // --- holders ---------------------------------------------------------------

  addHolder (release: SimRelease, m: number): void {
    if (release.holderPos.length === 0 || (release.holderPos[m] as number) >= 0) return
    release.has[m] = 1
    release.holderPos[m] = release.holders.length
    release.holders.push(m)
  }

  dropHolder (release: SimRelease, m: number): void {
    if (release.holderPos.length === 0) return
    const at = release.holderPos[m] as number
    if (at < 0) return
    const last = release.holders.pop() as number
    if (last !== m) { release.holders[at] = last; release.holderPos[last] = at }
    release.holderPos[m] = -1
  }

  unstarve (release: SimRelease): void {
    if (release.starved.length === 0 || release.holders.length + (this.vendorDown > 0 ? 0 : 1) === 0) return
    const starved = release.starved
    release.starved = []
    for (const m of starved) {
      if (this.cur[m] !== release.index || this.phase[m] !== P.STARVED || this.online[m] === 0) continue
      this.download(release, m)
    }
  }

  // --- the timeline and the results --------------------------------------------

  log (m: number, at: number, r: number, state: number): void {
    if (this.logSize === this.logMachine.length) {
      const grow = <T extends Int32Array | Float64Array | Int8Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2)
        b.set(a)
        return b
      }
      this.logMachine = grow(this.logMachine)
      this.logAt = grow(this.logAt)
      this.logRelease = grow(this.logRelease)
      this.logState = grow(this.logState)
    }
    const i = this.logSize++
    this.logMachine[i] = m
    this.logAt[i] = at
    this.logRelease[i] = r
    this.logState[i] = state
  }

  results (): PlanRun {
    for (let m = 0; m < this.n; m++) if (this.online[m] === 1) bump(this.messages, m, this.gossipCount - (this.gossipAtOnline[m] as number))
    // Group the log by machine (counting sort: the log is in time order, and stays so per machine).
    const offsets = new Int32Array(this.n + 1)
    for (let i = 0; i < this.logSize; i++) bump(offsets, (this.logMachine[i] as number) + 1)
    for (let m = 0; m < this.n; m++) bump(offsets, m + 1, offsets[m] as number)
    const order = new Int32Array(this.logSize)
    const fill = offsets.slice(0, this.n)
    for (let i = 0; i < this.logSize; i++) { const at = this.logMachine[i] as number; order[fill[at] as number] = i; bump(fill, at) }
    const versions = this.releases.map(r => r.version)
    const roles = ['undecided', 'representative', 'follower'] as const
    const self = this
    function * machines (): Generator<MachineTimeline> {
      for (let m = 0; m < self.n; m++) {
        const events: TimelineEvent[] = []
        for (let j = offsets[m] as number; j < (offsets[m + 1] as number); j++) {
          const i = order[j] as number
          const r = self.logRelease[i] as number
          events.push({ at: Math.round(self.logAt[i] as number), version: r < 0 ? '' : versions[r] as string, state: STATE_INDEX[self.logState[i] as number] as MachineState })
        }
        yield {
          id: self.machineIdOf(m),
          cluster: self.clusterNames[self.clusterOf[m] as number] as string,
          role: roles[self.role[m] as number] ?? 'undecided',
          events,
          bytesIn: self.bytesIn[m] as number,
          bytesOut: self.bytesOut[m] as number,
          messages: self.messages[m] as number
        }
      }
    }
    const published = this.releases.filter(r => r.publishedAt >= 0)
    const plan = planFor(this.scenario, this.input.plan)
    const ruleOf = (name: string): readonly string[] => (plan.clusters.find(r => r.name === name) ?? plan.default).after
    return computeRun({
      plan: this.input.plan,
      repetition: this.input.repetition,
      seed: this.input.seed,
      releases: published.map(r => ({ version: r.version, publishedAt: Math.round(r.publishedAt), ...(r.targets === undefined ? {} : { targets: r.targets }) })),
      breaks: this.input.breaks,
      clusters: this.clusterNames.map(name => ({ name, after: ruleOf(name) })),
      machines: machines(),
      vendorUploadBytes: this.vendorUploadBytes,
      artifactBytes: this.scenario.artifactBytes,
      // Until the last machine changed state (or the last publication): deadlines after that changed nothing.
      durationMs: Math.round(Math.max(this.logSize === 0 ? 0 : this.logAt[this.logSize - 1] as number, ...published.map(r => r.publishedAt)))
    })
  }
}

function bump (array: Float64Array | Uint32Array | Int32Array, i: number, by = 1): void {
  array[i] = (array[i] as number) + by
}
