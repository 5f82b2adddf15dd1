/**
 * Mirage's result on real nodes (issue 6): with staging, a faulty release
 * reaches only the representatives of the clusters it breaks; with everyone
 * at once, every machine of those clusters. The simulator, running the same
 * rollout engine on the same scenario with every machine on one host of
 * this machine's cores, agrees on that overhead; the latency of both is
 * printed side by side. How close latency comes is a timing claim, so it is
 * measured by bench/agreement.bench.ts (on paper-staging), not asserted here.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { rm } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { agreement, compareResults, renderComparison } from '../../../src/results-report/index.ts'
import { loadScenario, resolveScenario, simulateScenario } from '../../../src/scenario/index.ts'
import { runScenario } from '../../../src/scenario/run-scenario.ts'
import type { ScenarioResults } from '../../../src/scenario/index.ts'

const WORK = `/var/tmp/mirage-staging-shape-${process.pid}`
afterAll(async () => { await rm(WORK, { recursive: true, force: true }) })

describe('staged deployment against everyone at once, on real nodes', () => {
  it('exposes only the failing cluster\'s representatives when staged, the whole cluster at once; the simulator agrees on overhead', async () => {
    const scenario = await loadScenario(await resolveScenario('quickstart'))
    const plans = ['all-at-once', 'staged'] as const
    const real: ScenarioResults = await runScenario(scenario, { runner: 'in-process', workDir: WORK, plans: [...plans] })
    const simulated = await simulateScenario(scenario, { plans: [...plans], sharedHostCores: availableParallelism() })
    const broken = 'legacy'
    const brokenMachines = scenario.clusters.find(c => c.name === broken)?.machines ?? 0
    const k = scenario.rules.clusters.find(c => c.name === broken)?.k ?? scenario.rules.default.k

    const runOf = (results: ScenarioResults, plan: string) => {
      const run = results.runs.find(r => r.plan === plan)
      if (run === undefined) throw new Error(`no ${plan} run`)
      return run
    }
    const atOnce = runOf(real, 'all-at-once')
    const staged = runOf(real, 'staged')
    // Everyone at once: every machine of the broken cluster ran the faulty release.
    expect(atOnce.metrics.overhead).toBe(brokenMachines)
    expect(atOnce.machines.filter(m => m.exposedTo.length > 0).every(m => m.cluster === broken)).toBe(true)
    // Staged: only its representatives did, and they are k of them.
    const exposed = staged.machines.filter(m => m.exposedTo.length > 0)
    expect(exposed.map(m => [m.cluster, m.role])).toEqual(Array.from({ length: k }, () => [broken, 'representative']))
    // Both end with every machine on a working version (the vendor's fix came after the first report).
    expect(atOnce.metrics.neverWorking).toBe(0)
    expect(staged.metrics.neverWorking).toBe(0)

    const check = agreement(real, simulated, { latencyTolerance: 1 })
    console.log(`latency cost of staging on real nodes: ${((staged.metrics.latencyMs ?? 0) / 1000).toFixed(1)} s staged against ${((atOnce.metrics.latencyMs ?? 0) / 1000).toFixed(1)} s at once\n` +
      renderComparison(compareResults(real, simulated), check))
    for (const plan of check.plans) expect(plan.overheadAgrees, `${plan.plan}: ${plan.reason}`).toBe(true)
  })
})
