import type { PlanStyle } from '../release/index.ts'
import type { ClusterResult, MachineResult, MachineState, PlanRun, TimelineEvent } from './results.ts'

/** What a runner knows about one machine at the end of a run. */
export interface MachineTimeline {
  id: string
  cluster: string
  role: MachineResult['role']
  /** State changes in time order (ms since the run's start). */
  events: TimelineEvent[]
  bytesIn: number
  bytesOut: number
  /** Rollout messages sent and received (gossip: releases, test starts, outcomes). */
  messages: number
}

/** Everything `computeRun` needs: the same for a real run and a simulation. */
export interface ComputeRunInput {
  plan: PlanStyle
  repetition: number
  seed: number
  /** The releases the vendor actually published, in order (a fix that was never triggered is not here). */
  releases: ReadonlyArray<{ version: string, publishedAt: number, targets?: readonly string[] }>
  /** version → cluster → whether the version breaks there: `breaksOn` for each version (the ground truth). */
  breaks: ReadonlyMap<string, ReadonlyMap<string, boolean>>
  /** Every cluster of the population, with its plan prerequisites. */
  clusters: ReadonlyArray<{ name: string, after: readonly string[] }>
  machines: Iterable<MachineTimeline>
  /** Bytes the vendor's seed uploaded, all releases together. */
  vendorUploadBytes: number
  artifactBytes: number
  /** Wall time of a real run, simulated time of a simulation. */
  durationMs: number
}

/**
 * States in which a machine ran the version's code on its own environment:
 * its test (a representative, or everyone under all-at-once) or its install
 * and health check. A machine there with a version that breaks it was
 * exposed (Mirage §5's overhead). Blocked, waiting or superseded machines
 * never ran it.
 */
const EXPOSING_STATES: ReadonlySet<MachineState> = new Set(['testing', 'installing', 'installed', 'rolled-back'])

/**
 * The metrics of one plan run from the machines' timelines (Mirage §5):
 * overhead (machines exposed to a faulty version where it is faulty),
 * latency (first publication until the last machine runs a working
 * version), the distribution of time to a working version (from the first
 * publication), per-cluster results, the vendor's upload in multiples of the
 * artifact, and bytes (in + out) and messages per machine. Pure: both
 * runners call it, so their numbers mean the same.
 */
export function computeRun (input: ComputeRunInput): PlanRun {
  const start = input.releases[0]?.publishedAt ?? 0
  const published = input.releases.map(r => r.version)
  const breaksHere = (version: string, cluster: string): boolean => input.breaks.get(version)?.get(cluster) === true
  const clusterBreaks = new Map(input.clusters.map(c => [c.name, published.filter(v => breaksHere(v, c.name))]))
  const perCluster = new Map(input.clusters.map(c => [c.name, { machines: 0, exposed: 0, working: 0, workingAt: 0 }]))

  const machines: MachineResult[] = []
  const toWorking: number[] = []
  const bytes: number[] = []
  const messages: number[] = []
  let overhead = 0
  let lastWorkingAt = 0
  for (const timeline of input.machines) {
    const breaksOn = clusterBreaks.get(timeline.cluster) ?? published.filter(v => breaksHere(v, timeline.cluster))
    const faulty = new Set(breaksOn)
    const exposed = new Set<string>()
    let workingAt: number | null = null
    let finalVersion = ''
    for (const event of timeline.events) {
      if (faulty.has(event.version) && EXPOSING_STATES.has(event.state)) exposed.add(event.version)
      if (event.state === 'installed') {
        finalVersion = event.version
        if (workingAt === null && event.version !== '' && !faulty.has(event.version)) workingAt = event.at
      }
    }
    const exposedTo = breaksOn.filter(v => exposed.has(v))
    machines.push({
      id: timeline.id,
      cluster: timeline.cluster,
      role: timeline.role,
      breaksOn,
      events: timeline.events,
      exposedTo,
      workingAt,
      finalVersion,
      bytesIn: Math.round(timeline.bytesIn),
      bytesOut: Math.round(timeline.bytesOut),
      messages: Math.round(timeline.messages)
    })
    const cluster = perCluster.get(timeline.cluster) ?? { machines: 0, exposed: 0, working: 0, workingAt: 0 }
    perCluster.set(timeline.cluster, cluster)
    cluster.machines++
    if (exposedTo.length > 0) { overhead++; cluster.exposed++ }
    if (workingAt !== null) {
      cluster.working++
      cluster.workingAt = Math.max(cluster.workingAt, workingAt)
      lastWorkingAt = Math.max(lastWorkingAt, workingAt)
      toWorking.push(Math.max(0, workingAt - start))
    }
    bytes.push(Math.round(timeline.bytesIn + timeline.bytesOut))
    messages.push(Math.round(timeline.messages))
  }

  const clusters: ClusterResult[] = [...perCluster].map(([name, c]) => ({
    cluster: name,
    machines: c.machines,
    after: [...(input.clusters.find(x => x.name === name)?.after ?? [])],
    breaksOn: clusterBreaks.get(name) ?? [],
    exposed: c.exposed,
    workingAt: c.machines > 0 && c.working === c.machines ? c.workingAt : null
  }))
  const neverWorking = machines.length - toWorking.length
  const sortedToWorking = Float64Array.from(toWorking).sort()
  const sortedBytes = Float64Array.from(bytes).sort()
  const sortedMessages = Float64Array.from(messages).sort()
  return {
    plan: input.plan,
    repetition: input.repetition,
    seed: input.seed,
    releases: input.releases.map(r => {
      const targets = r.targets === undefined ? undefined : [...r.targets]
      const reach = targets ?? input.clusters.map(c => c.name)
      return { version: r.version, publishedAt: r.publishedAt, faulty: reach.some(c => breaksHere(r.version, c)), ...(targets === undefined ? {} : { targets }) }
    }),
    machines,
    clusters,
    metrics: {
      machines: machines.length,
      overhead,
      latencyMs: machines.length > 0 && neverWorking === 0 ? Math.max(0, lastWorkingAt - start) : null,
      timeToWorkingMs: {
        median: percentile(sortedToWorking, 0.5),
        p90: percentile(sortedToWorking, 0.9),
        max: percentile(sortedToWorking, 1)
      },
      neverWorking,
      vendorUploadMultiple: input.artifactBytes > 0 ? input.vendorUploadBytes / input.artifactBytes : 0,
      bytesPerMachine: { median: percentile(sortedBytes, 0.5) ?? 0, max: percentile(sortedBytes, 1) ?? 0 },
      messagesPerMachine: { median: percentile(sortedMessages, 0.5) ?? 0, max: percentile(sortedMessages, 1) ?? 0 }
    },
    durationMs: input.durationMs
  }
}

/** Nearest-rank percentile of ascending values (`p` in (0, 1]); null when there are none. */
export function percentile (sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)))
  return sorted[rank - 1] as number
}
