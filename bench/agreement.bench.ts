/**
 * Benchmark (not a test), issue 6: the simulator against a real run of the
 * same 50-machine scenario. `paper-staging` runs on real in-process nodes
 * (every plan style), then the simulator runs it with every machine on one
 * host of this machine's cores (timing.sharedHostCores: a local real run
 * shares them, so downloads, tests and health checks that run at once slow
 * each other down), and `scenario compare`'s agreement check prints both
 * side by side. Goal: overhead equal, latency within
 * DEFAULT_LATENCY_TOLERANCE, for every plan style.
 *
 *   node bench/agreement.bench.ts
 *   node bench/agreement.bench.ts --scenario quickstart --out DIR   # keep both results.json
 *
 * The simulator's timing is the scenario's own (defaults unless it sets
 * `timing:`), not fitted to the run: only the host's core count comes from
 * this machine. The figures are reported, not asserted: exit code 0 unless
 * the run broke.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_LATENCY_TOLERANCE, agreement, compareResults, renderComparison } from '../src/results-report/index.ts'
import { loadScenario, resolveScenario, simulateScenario } from '../src/scenario/index.ts'
import { runScenario } from '../src/scenario/run-scenario.ts'

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'paper-staging' },
    out: { type: 'string' }
  }
})
const scenario = await loadScenario(await resolveScenario(values.scenario))
const cores = availableParallelism()
const workDir = `/var/tmp/mirage-agreement-bench-${process.pid}`
try {
  console.log(`agreement bench: ${scenario.name} on real in-process nodes, then simulated on one shared host of ${cores} cores`)
  const startedAt = performance.now()
  const real = await runScenario(scenario, { runner: 'in-process', workDir })
  console.log(`  real run: ${((performance.now() - startedAt) / 1000).toFixed(0)} s of wall time`)
  const simulated = await simulateScenario(scenario, { sharedHostCores: cores })
  if (values.out !== undefined) {
    await mkdir(values.out, { recursive: true })
    await writeFile(join(values.out, 'real.json'), JSON.stringify(real))
    await writeFile(join(values.out, 'simulated.json'), JSON.stringify(simulated))
  }
  const check = agreement(real, simulated, { latencyTolerance: DEFAULT_LATENCY_TOLERANCE })
  console.log(renderComparison(compareResults(real, simulated), check))
  console.log(`agreement of the simulator with the real run (overhead exactly, latency within ±${(100 * DEFAULT_LATENCY_TOLERANCE).toFixed(0)}%): ${check.agrees ? 'PASS' : 'FAIL'}`)
} finally {
  await rm(workDir, { recursive: true, force: true })
}
