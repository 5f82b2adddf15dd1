/**
 * Benchmark (not a test), issue 6: the simulator runs the real rollout
 * engine for a million machines. Goal: a 1,000,000-machine rollout of the
 * `large` scenario (10 clusters, one broken, a vendor fix) simulated in
 * under a minute on this machine, per plan style; 100,000 for scale.
 *
 *   node bench/simulator.bench.ts
 *   node bench/simulator.bench.ts --machines 200000 --plans staged --scenario paper-staging
 *   node bench/simulator.bench.ts --write     # also time writing results.json (≈ 0.7 GB per run at 1M)
 *
 * Timed: the simulation proper (`simulatePlan`: event queue, engine, metrics
 * and the per-machine results), and the schema validation of the run; the
 * ground truth (one `sh` per distinct environment) once, before. Printed:
 * machines per second, wall time, peak RSS.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { builtInScenario, groundTruth, loadScenario, planRunSchema, scaleScenario, scenarioVersions, simulatePlan, writeSimulation } from '../src/scenario/index.ts'
import type { PlanStyle } from '../src/release/index.ts'

const GOAL_SECONDS = 60

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'large' },
    machines: { type: 'string', default: '100000,1000000' },
    plans: { type: 'string', default: 'staged,all-at-once,front-loading' },
    validate: { type: 'boolean', default: true },
    write: { type: 'boolean', default: false }
  }
})

const file = await builtInScenario(args.scenario) ?? args.scenario
const base = await loadScenario(file)
const plans = args.plans.split(',') as PlanStyle[]
console.log(`simulator benchmark: scenario ${base.name}, plans ${plans.join(', ')}, goal: 1,000,000 machines in under ${GOAL_SECONDS} s per plan`)

for (const machines of args.machines.split(',').map(Number)) {
  const scenario = scaleScenario(base, machines)
  const truthStart = performance.now()
  const breaks = await groundTruth(scenario, scenarioVersions(scenario))
  console.log(`\n${machines.toLocaleString('en')} machines (ground truth: ${(performance.now() - truthStart).toFixed(0)} ms)`)
  const cache = new Map()
  for (const plan of plans) {
    const began = performance.now()
    const run = simulatePlan({ scenario, plan, repetition: 0, seed: scenario.seed, breaks, cache })
    const simulated = performance.now() - began
    let validated = 0
    if (args.validate) {
      const v = performance.now()
      planRunSchema.parse(run)
      validated = performance.now() - v
    }
    const wall = (simulated + validated) / 1000
    const m = run.metrics
    const verdict = machines >= 1_000_000 ? (wall < GOAL_SECONDS ? 'GOAL MET' : 'GOAL MISSED') : ''
    console.log(`  ${plan.padEnd(14)} simulate ${(simulated / 1000).toFixed(1)} s + validate ${(validated / 1000).toFixed(1)} s = ${wall.toFixed(1)} s, ` +
      `${Math.round(machines / wall).toLocaleString('en')} machines/s; overhead ${m.overhead}, latency ${m.latencyMs === null ? 'never' : `${(m.latencyMs / 1000).toFixed(1)} s`}, ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB ${verdict}`)
  }
  if (args.write) {
    const dir = await mkdtemp(join(tmpdir(), 'mirage-sim-bench-'))
    const began = performance.now()
    await writeSimulation(scenario, dir, { plans: [plans[0] as PlanStyle] })
    console.log(`  writeSimulation (${plans[0]}, simulate + validate + write results.json): ${((performance.now() - began) / 1000).toFixed(1)} s`)
    await rm(dir, { recursive: true, force: true })
  }
}
