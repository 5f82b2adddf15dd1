/**
 * Issue 4, "what it must show", third bullet: on a population of generated
 * machine environments built around real upgrade failures, each machine's
 * fate decided by the upgrade's real test script, the vendor's clustering
 * (fingerprints from `src/env`, quality-threshold clustering from
 * `src/cluster`) never puts a machine on which the upgrade fails in a
 * cluster with machines on which it works, and needs far fewer clusters than
 * machines (Mirage §4.1, §6: a cluster is tested by a few representatives,
 * so every misplaced machine is one the staged rollout would break).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterCensus, factDistance } from '../../../src/cluster/index.ts'
import type { CensusClustering, MachineFingerprint, ResourceWeights } from '../../../src/cluster/index.ts'
import { checkResources, fingerprintDigest, fingerprintEnvironment, relevantFacts } from '../../../src/env/index.ts'
import type { Fact, Fingerprint } from '../../../src/env/index.ts'
import {
  FAILURE_CAUSES, WEBSHOP_CLUSTER_DIAMETER, WEBSHOP_CLUSTER_WEIGHTS, WEBSHOP_RESOURCES, WEBSHOP_UPGRADE_TEST, generatePopulation
} from './population.ts'
import type { FailureCause, GeneratedMachine } from './population.ts'

const MACHINES = 300
const SEED = 4
/** Test scripts run at once: two cores, and each run is a few short sh/awk processes. */
const SCRIPT_CONCURRENCY = 4
/** Machines fingerprinted at once (each reads its resources 4 at a time). */
const FINGERPRINT_CONCURRENCY = 8
/** A run of the script takes milliseconds; this only stops a hang. */
const SCRIPT_TIMEOUT_MS = 20_000

interface Outcome {
  /** The script's exit status: 0 the upgrade works, 1 it fails. */
  exitCode: number
  /** The causes the script named ("FAIL <cause>: ..."), sorted. */
  causes: string[]
  output: string
}

interface Machine {
  generated: GeneratedMachine
  outcome: Outcome
  fingerprint: Fingerprint
  digest: string
}

async function runUpgradeTest (root: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile('sh', [WEBSHOP_UPGRADE_TEST, root], { timeout: SCRIPT_TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`
      const exitCode = err === null ? 0 : (err as NodeJS.ErrnoException & { code?: unknown }).code
      if (typeof exitCode !== 'number') {
        reject(new Error(`${root}: the upgrade test did not run: ${(err as Error).message}`))
        return
      }
      const causes = [...new Set([...output.matchAll(/^FAIL (\S+):/gm)].map(match => match[1] as string))].sort()
      resolve({ exitCode, causes, output })
    })
  })
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimited<T, R> (items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T)
  }))
  return results
}

const failing = (m: Machine): boolean => m.outcome.exitCode !== 0

/**
 * Machines in a cluster on the wrong side of it: in a cluster holding both
 * machines on which the upgrade fails and machines on which it works, the
 * minority. (Whichever side its representatives land on, those machines get
 * the wrong verdict.)
 */
function misplaced (clustering: CensusClustering, byDigest: ReadonlyMap<string, readonly Machine[]>): { misplaced: number, mixedClusters: number } {
  let total = 0
  let mixedClusters = 0
  for (const cluster of clustering.clusters) {
    const members = cluster.digests.flatMap(digest => byDigest.get(digest) ?? [])
    const failures = members.filter(failing).length
    const minority = Math.min(failures, members.length - failures)
    total += minority
    if (minority > 0) mixedClusters++
  }
  return { misplaced: total, mixedClusters }
}

function cluster (machines: readonly Machine[], diameter: number, weights: ResourceWeights = WEBSHOP_CLUSTER_WEIGHTS): CensusClustering {
  const census: MachineFingerprint[] = machines.map(m => ({ digest: m.digest, facts: relevantFacts(m.fingerprint) }))
  return clusterCensus(census, { diameter, weights })
}

/**
 * The smallest distance, under the vendor's weights, between a fingerprint
 * of machines on which the upgrade fails and one of machines on which it
 * works: a diameter below it can never mix the two.
 */
function failPassMargin (byDigest: ReadonlyMap<string, readonly Machine[]>): number {
  const fails: Fact[][] = []
  const passes: Fact[][] = []
  for (const group of byDigest.values()) {
    const first = group[0] as Machine
    ;(failing(first) ? fails : passes).push(relevantFacts(first.fingerprint))
  }
  let margin = Number.POSITIVE_INFINITY
  for (const a of fails) for (const b of passes) margin = Math.min(margin, factDistance(a, b, WEBSHOP_CLUSTER_WEIGHTS))
  return margin
}

describe('clustering a generated population by environment', () => {
  let dir = ''
  let machines: Machine[] = []
  const byDigest = new Map<string, Machine[]>()
  const started = Date.now()

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mirage-population-'))
    const generated = await generatePopulation({ dir, machines: MACHINES, seed: SEED })
    // The ground truth: the upgrade's own test, run against every machine.
    const outcomes = await mapLimited(generated, SCRIPT_CONCURRENCY, async m => runUpgradeTest(m.root))
    const resources = checkResources(WEBSHOP_RESOURCES, 'webshop spec')
    const fingerprints = await mapLimited(generated, FINGERPRINT_CONCURRENCY, async m =>
      fingerprintEnvironment({ app: 'webshop', resources }, { root: m.root, environment: {} }))
    machines = generated.map((g, i) => {
      const fingerprint = fingerprints[i] as Fingerprint
      return { generated: g, outcome: outcomes[i] as Outcome, fingerprint, digest: fingerprintDigest(fingerprint) }
    })
    for (const m of machines) byDigest.set(m.digest, [...(byDigest.get(m.digest) ?? []), m])
  }, 120_000)

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('runs the upgrade test on every machine, and it fails exactly where the generator put a failure', () => {
    expect(machines).toHaveLength(MACHINES)
    for (const m of machines) {
      // 0 or 1: anything else is the script failing, not the upgrade.
      expect([0, 1], `${m.generated.name}: ${m.outcome.output}`).toContain(m.outcome.exitCode)
      expect(m.outcome.causes.length > 0, `${m.generated.name}: exit ${m.outcome.exitCode} with causes ${m.outcome.causes.join(', ')}`).toBe(m.outcome.exitCode === 1)
      expect(m.outcome.causes, `${m.generated.name} (${m.generated.environmentKey}):\n${m.outcome.output}`).toEqual([...m.generated.expectedCauses].sort())
    }
    for (const cause of FAILURE_CAUSES) {
      expect(machines.filter(m => m.outcome.causes.includes(cause)).length, cause).toBeGreaterThanOrEqual(10)
    }
    expect(machines.filter(m => !failing(m)).length).toBeGreaterThanOrEqual(10)
  })

  it('fingerprints every file as its kind, and noise changes no relevant fingerprint', () => {
    for (const m of machines) expect(m.fingerprint.notes, m.generated.name).toEqual([])
    // Machines the generator gave the same environment differ only in noise
    // (comments, order, spacing, unrelated packages, hostname, motd).
    const digestsByEnvironment = new Map<string, Set<string>>()
    for (const m of machines) {
      const digests = digestsByEnvironment.get(m.generated.environmentKey) ?? new Set()
      digests.add(m.digest)
      digestsByEnvironment.set(m.generated.environmentKey, digests)
    }
    for (const [key, digests] of digestsByEnvironment) expect(digests.size, key).toBe(1)
    // ...and there was noise to ignore: the irrelevant resources differ where the relevant ones agree.
    const shared = [...byDigest.values()].filter(group => group.length > 1)
    expect(shared.length).toBeGreaterThan(0)
    const irrelevant = (m: Machine): string => JSON.stringify(m.fingerprint.facts.filter(f => f.resource === 'hostname' || f.resource === 'motd'))
    expect(shared.every(group => new Set(group.map(irrelevant)).size > 1)).toBe(true)
  })

  it('puts no machine on which the upgrade fails in a cluster with machines on which it works, with far fewer clusters than machines', () => {
    const clustering = cluster(machines, WEBSHOP_CLUSTER_DIAMETER)
    const { misplaced: wrong, mixedClusters } = misplaced(clustering, byDigest)
    const perCause = Object.fromEntries(FAILURE_CAUSES.map(cause => [cause, machines.filter(m => m.outcome.causes.includes(cause)).length])) as Record<FailureCause, number>
    const failingMachines = machines.filter(failing).length
    // Clusters whose failing machines fail for different reasons: allowed (each is blocked), but worth seeing.
    const mixedCauses = clustering.clusters.filter(c => new Set(c.digests.flatMap(d => byDigest.get(d) ?? []).filter(failing).map(m => m.outcome.causes.join('+'))).size > 1).length
    const margin = failPassMargin(byDigest)
    // What the tuning file's low weight buys: the same diameter with every resource at 1.
    const unweighted = cluster(machines, WEBSHOP_CLUSTER_DIAMETER, {}).clusters.length
    console.log(`population: ${machines.length} machines, ${clustering.census.fingerprints.length} distinct fingerprints, ` +
      `${clustering.clusters.length} clusters (diameter ${WEBSHOP_CLUSTER_DIAMETER}, weights ${JSON.stringify(WEBSHOP_CLUSTER_WEIGHTS)}, ${clustering.columns} varying items); ` +
      `${failingMachines} failing (${FAILURE_CAUSES.map(c => `${c} ${perCause[c]}`).join(', ')}), ${machines.length - failingMachines} passing; ` +
      `misplaced ${wrong} in ${mixedClusters} mixed clusters; ${mixedCauses} clusters mix failure causes; ` +
      `nearest failing and passing fingerprints ${margin} apart; ${unweighted} clusters with php-tuning at weight 1; ${((Date.now() - started) / 1000).toFixed(1)} s so far`)

    expect(clustering.census.machines).toBe(MACHINES)
    expect(wrong).toBe(0)
    // The structural reason: no failing fingerprint is within the diameter of a passing one.
    expect(margin).toBeGreaterThan(WEBSHOP_CLUSTER_DIAMETER)
    expect(clustering.clusters.length).toBeLessThanOrEqual(MACHINES / 5)
    // Tuning variation collapsed: fewer clusters than distinct fingerprints.
    expect(clustering.clusters.length).toBeLessThan(clustering.census.fingerprints.length)
  })

  it('negative controls: a diameter too large, or a resource wrongly ignored, does mix failing and working machines', () => {
    const failures = machines.filter(failing).length
    const everything = cluster(machines, 1_000)
    expect(everything.clusters).toHaveLength(1)
    expect(misplaced(everything, byDigest).misplaced).toBe(Math.min(failures, machines.length - failures))
    expect(misplaced(everything, byDigest).misplaced).toBeGreaterThan(0)

    // A vendor who believes PHP's settings cannot matter (php.ini weighs 0)
    // merges machines that differ only in `extension=mysql.so` or a removed
    // directive: exactly where two of this release's failures live.
    const blind = cluster(machines, WEBSHOP_CLUSTER_DIAMETER, { ...WEBSHOP_CLUSTER_WEIGHTS, 'php.ini': 0 })
    const blindResult = misplaced(blind, byDigest)
    expect(blindResult.misplaced).toBeGreaterThan(0)

    // How much room the vendor's diameter leaves: clusters and misplaced machines as it grows.
    const sweep = [0.75, 1, 1.5, 2, 4, 8, 16].map(diameter => {
      const clustering = cluster(machines, diameter)
      return `${diameter} → ${clustering.clusters.length} clusters, ${misplaced(clustering, byDigest).misplaced} misplaced`
    })
    console.log(`negative controls: one cluster → ${misplaced(everything, byDigest).misplaced} misplaced; php.ini weighted 0 → ${blind.clusters.length} clusters, ` +
      `${blindResult.misplaced} misplaced in ${blindResult.mixedClusters} mixed clusters; diameter sweep: ${sweep.join('; ')}`)
  })
})
