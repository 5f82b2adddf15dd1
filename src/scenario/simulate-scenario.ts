import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { PlanStyle } from '../release/index.ts'
import { MAX_SHARED_HOST_CORES } from './constants.ts'
import { SimulationError } from './errors.ts'
import { groundTruth, scenarioVersions } from './ground-truth.ts'
import { machineCount, scaleScenario } from './population.ts'
import { RESULTS_FORMAT_VERSION, planRunSchema, scenarioResultsSchema } from './results.ts'
import type { PlanRun, RunMetrics, ScenarioResults } from './results.ts'
import type { Scenario } from './scenario-schema.ts'
import { simulatePlan } from './simulate.ts'
import type { SimulationCache } from './simulate.ts'

/** The largest population `--machines` accepts (memory: ≈ 1 KB per machine and plan with its timeline). */
export const MAX_SIMULATED_MACHINES = 5_000_000

export interface SimulateOptions {
  /** Scale the population to this many machines (each cluster proportionally). */
  machines?: number
  /** Plan styles to run (default: the scenario's). */
  plans?: PlanStyle[]
  /** Default: the scenario's. */
  repetitions?: number
  /** Default: the scenario's; repetition i runs with seed + i. */
  seed?: number
  /**
   * Every machine runs on one host of this many cores (TimingModel
   * sharedHostCores), 0 for none; default: the scenario's.
   */
  sharedHostCores?: number
  onProgress?: (event: SimulationProgress) => void
}

/** Typed progress of a simulation, for the CLI's display. */
export type SimulationProgress =
  | { type: 'ground-truth', versions: string[], breaks: Record<string, string[]> }
  | { type: 'run-started', plan: PlanStyle, repetition: number, machines: number }
  | { type: 'run-finished', plan: PlanStyle, repetition: number, metrics: RunMetrics, wallMs: number }

/** One compared run, without its machines: what a summary prints. */
export interface RunSummary { plan: PlanStyle, repetition: number, seed: number, metrics: RunMetrics, durationMs: number, wallMs: number }

/** Simulates a scenario and keeps the whole results in memory (tests, small populations). */
export async function simulateScenario (scenario: Scenario, options: SimulateOptions = {}): Promise<ScenarioResults> {
  const runs: PlanRun[] = []
  const header = await runSimulation(scenario, options, run => { runs.push(run) })
  return scenarioResultsSchema.parse({ ...header, runs })
}

/**
 * Simulates a scenario and writes `results.json` into `outDir`, one run at
 * a time (a million-machine run is hundreds of megabytes of JSON: each run
 * is validated against the results schema, written, and dropped before the
 * next). The file appears complete or not at all (temp file, rename).
 */
export async function writeSimulation (scenario: Scenario, outDir: string, options: SimulateOptions = {}): Promise<{ file: string, runs: RunSummary[] }> {
  await mkdir(outDir, { recursive: true })
  const file = join(outDir, 'results.json')
  const temp = `${file}.${process.pid}.tmp`
  const out = createWriteStream(temp)
  const summaries: RunSummary[] = []
  let buffer = ''
  const write = async (text: string, flush = false): Promise<void> => {
    buffer += text
    if (buffer.length < 1 << 20 && !flush) return
    const chunk = buffer
    buffer = ''
    if (!out.write(chunk)) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
  }
  try {
    let first = true
    let wroteHeader = false
    await runSimulation(scenario, options, async (run, wallMs, head) => {
      if (!wroteHeader) {
        const text = JSON.stringify(head)
        await write(`${text.slice(0, -1)},"runs":[`)
        wroteHeader = true
      }
      const { machines, ...rest } = run
      const restText = JSON.stringify(rest)
      await write(`${first ? '' : ','}${restText.slice(0, -1)},"machines":[`)
      first = false
      for (let i = 0; i < machines.length; i++) await write(`${i === 0 ? '' : ','}${JSON.stringify(machines[i])}`)
      await write(']}')
      summaries.push({ plan: run.plan, repetition: run.repetition, seed: run.seed, metrics: run.metrics, durationMs: run.durationMs, wallMs })
    })
    if (!wroteHeader) throw new SimulationError('no plan run: nothing to write')
    await write(']}\n', true)
    await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { if (err) reject(err); else resolve() }) })
    await rename(temp, file)
  } catch (err) {
    out.destroy()
    await rm(temp, { force: true })
    throw err
  }
  return { file, runs: summaries }
}

type Header = Omit<ScenarioResults, 'runs'>

/** The header's schema: the results schema with the runs checked one by one (`planRunSchema`). */
const headerSchema = scenarioResultsSchema.omit({ runs: true }).extend({ runs: z.array(z.unknown()).max(1000) })

async function runSimulation (
  original: Scenario, options: SimulateOptions,
  onRun: (run: PlanRun, wallMs: number, header: Header) => void | Promise<void>
): Promise<Header> {
  const machines = options.machines ?? machineCount(original)
  if (!Number.isSafeInteger(machines) || machines < 1 || machines > MAX_SIMULATED_MACHINES) {
    throw new SimulationError(`the population must be 1 to ${MAX_SIMULATED_MACHINES} machines, not ${machines}`)
  }
  const scaled = scaleScenario(original, machines)
  const cores = options.sharedHostCores ?? scaled.timing.sharedHostCores ?? 0
  if (!Number.isInteger(cores) || cores < 0 || cores > MAX_SHARED_HOST_CORES) {
    throw new SimulationError(`a shared host has 0 (none) to ${MAX_SHARED_HOST_CORES} cores, not ${cores}`)
  }
  const { sharedHostCores: _, ...ownHosts } = scaled.timing
  const scenario: Scenario = { ...scaled, timing: cores === 0 ? ownHosts : { ...ownHosts, sharedHostCores: cores } }
  const plans = options.plans ?? scenario.plans
  const repetitions = options.repetitions ?? scenario.repetitions
  const seed = options.seed ?? scenario.seed
  if (plans.length * repetitions > 1000) throw new SimulationError('at most 1000 runs (plans × repetitions) per results file')

  const versions = scenarioVersions(scenario)
  const breaks = await groundTruth(scenario, versions)
  options.onProgress?.({
    type: 'ground-truth',
    versions,
    breaks: Object.fromEntries(versions.map(v => [v, [...(breaks.get(v) ?? new Map<string, boolean>())].filter(([, b]) => b).map(([c]) => c)]))
  })

  const notes: string[] = ['simulated: the rollout engine is real, transfer, test, report and gossip times are modelled (see src/scenario/simulate.ts)']
  if (machines !== machineCount(original)) notes.push(`population scaled from ${machineCount(original)} to ${machines} machines`)
  if (scenario.network?.lossPercent !== undefined && scenario.network.lossPercent > 0) notes.push(`network loss of ${scenario.network.lossPercent}% is not modelled by the simulator`)
  if (scenario.network?.delayMs !== undefined) notes.push(`network delay of ${scenario.network.delayMs} ms added to the gossip delay`)
  if (scenario.network?.rateBytesPerSecond !== undefined) notes.push('network rate caps the per-machine transfer rate')
  if (cores > 0) notes.push(`every machine shares one host of ${cores} core${cores === 1 ? '' : 's'}, as in a local real run: downloads, tests and health checks running at once share it`)
  const header: Header = headerSchema.parse({
    v: RESULTS_FORMAT_VERSION,
    scenario: scenario.name,
    mode: 'simulated',
    runner: 'simulator',
    startedAt: new Date().toISOString(),
    artifactBytes: scenario.artifactBytes,
    notes,
    runs: []
  }) as Header & { runs?: unknown }
  delete (header as { runs?: unknown }).runs

  for (let repetition = 0; repetition < repetitions; repetition++) {
    const cache: SimulationCache = new Map()
    for (const plan of plans) {
      options.onProgress?.({ type: 'run-started', plan, repetition, machines })
      const began = performance.now()
      const run = simulatePlan({ scenario, plan, repetition, seed: seed + repetition, breaks, cache })
      const wallMs = performance.now() - began
      planRunSchema.parse(run)
      options.onProgress?.({ type: 'run-finished', plan, repetition, metrics: run.metrics, wallMs })
      await onRun(run, wallMs, header)
    }
  }
  return header
}
