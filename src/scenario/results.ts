/**
 * What a scenario run leaves behind (`results.json`): every machine's
 * timeline and the metrics of Mirage's evaluation, for each plan style the
 * scenario compares. A real run (`mirage scenario run`) and a simulated one
 * (`mirage scenario simulate`) write the same format, so the report, the
 * comparison and the agreement check read both alike.
 *
 * Times are milliseconds since the run's start (the vendor's first
 * publication is at `publishedAt`, usually near 0).
 *
 * The two measures (Mirage §5):
 * - overhead: machines on which a faulty release was tested or installed,
 *   where it is faulty (the test or health check failed there). Staging
 *   keeps it to the representatives of the failing clusters; deploying to
 *   everyone at once exposes every machine of those clusters.
 * - latency: from the first publication until every machine runs a working
 *   version (the last machine's `workingAt`), fix releases included.
 */
import { z } from 'zod'
import { PLAN_STYLES } from '../release/index.ts'

export const RESULTS_FORMAT_VERSION = 1

/** States a machine's timeline records (the node's rollout states, plus lifecycle). */
export const MACHINE_STATES = [
  'offline', 'seen', 'waiting', 'downloading', 'testing', 'installing', 'installed',
  'blocked', 'halted', 'failed', 'rolled-back', 'superseded', 'not-targeted'
] as const
export type MachineState = typeof MACHINE_STATES[number]

const ms = z.number().finite().nonnegative()
const count = z.int().nonnegative()

export const timelineEventSchema = z.strictObject({
  /** ms since the run's start. */
  at: ms,
  /** Version of the release the state is about ('' for lifecycle states like 'offline'). */
  version: z.string().max(64),
  state: z.enum(MACHINE_STATES)
})
export type TimelineEvent = z.infer<typeof timelineEventSchema>

export const machineResultSchema = z.strictObject({
  id: z.string().min(1).max(128),
  cluster: z.string().min(1).max(64),
  /** What the machine did for the first release: tested it first, or followed. */
  role: z.enum(['representative', 'follower', 'undecided']),
  /** Versions whose test fails on this machine (by its environment): the ground truth of the scenario. */
  breaksOn: z.array(z.string().max(64)).max(64),
  /** State changes in time order. */
  events: z.array(timelineEventSchema).max(10_000),
  /** Versions the machine tested or installed although they are faulty there (its share of the overhead). */
  exposedTo: z.array(z.string().max(64)).max(64),
  /** When it first ran a working version (installed one that is not in breaksOn), or null if never. */
  workingAt: ms.nullable(),
  /** The version it runs at the end ('' if none). */
  finalVersion: z.string().max(64),
  bytesIn: count,
  bytesOut: count,
  messages: count
})
export type MachineResult = z.infer<typeof machineResultSchema>

export const clusterResultSchema = z.strictObject({
  cluster: z.string().min(1).max(64),
  machines: count,
  /** Prerequisite clusters of the plan (`after`). */
  after: z.array(z.string().max(64)).max(1000),
  /** Versions that fail on this cluster's environment. */
  breaksOn: z.array(z.string().max(64)).max(64),
  /** Machines of the cluster exposed to a faulty version. */
  exposed: count,
  /** When every machine of the cluster ran a working version, or null. */
  workingAt: ms.nullable()
})
export type ClusterResult = z.infer<typeof clusterResultSchema>

export const runMetricsSchema = z.strictObject({
  machines: count,
  /** Machines exposed to a faulty version (see the header). */
  overhead: count,
  /** Until every machine runs a working version; null if some never did. */
  latencyMs: ms.nullable(),
  /** Distribution of the machines' time to a working version (those that got there). */
  timeToWorkingMs: z.strictObject({ median: ms.nullable(), p90: ms.nullable(), max: ms.nullable() }),
  /** Machines that never ran a working version. */
  neverWorking: count,
  /** Vendor's upload in multiples of the artifact size (summed over releases). */
  vendorUploadMultiple: z.number().finite().nonnegative(),
  bytesPerMachine: z.strictObject({ median: count, max: count }),
  messagesPerMachine: z.strictObject({ median: count, max: count })
})
export type RunMetrics = z.infer<typeof runMetricsSchema>

export const planRunSchema = z.strictObject({
  plan: z.enum(PLAN_STYLES),
  repetition: count,
  seed: z.int(),
  /** When the vendor published each version (ms since start), in order. */
  releases: z.array(z.strictObject({ version: z.string().max(64), publishedAt: ms, faulty: z.boolean(), targets: z.array(z.string().max(64)).optional() })).max(64),
  machines: z.array(machineResultSchema).max(10_000_000),
  clusters: z.array(clusterResultSchema).max(100_000),
  metrics: runMetricsSchema,
  /** How long the run took on the clock (real runs) or in simulated time (simulations). */
  durationMs: ms
})
export type PlanRun = z.infer<typeof planRunSchema>

export const scenarioResultsSchema = z.strictObject({
  v: z.literal(RESULTS_FORMAT_VERSION),
  scenario: z.string().min(1).max(128),
  mode: z.enum(['real', 'simulated']),
  /** For real runs: 'in-process' or 'processes'; for simulations: 'simulator'. */
  runner: z.enum(['in-process', 'processes', 'simulator']),
  startedAt: z.iso.datetime(),
  artifactBytes: count,
  /** Notes the run wants the reader to see (network conditions ignored, sandbox missing, …). */
  notes: z.array(z.string().max(1000)).max(100),
  runs: z.array(planRunSchema).min(1).max(1000)
})
export type ScenarioResults = z.infer<typeof scenarioResultsSchema>
