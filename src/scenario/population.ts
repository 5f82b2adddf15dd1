import { createCipheriv, createHash } from 'node:crypto'
import { chmod, mkdir, open, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { PAYLOAD_PATH, TEST_SCRIPT_PATH, VERSION_FILE_PATH } from './constants.ts'
import { SimulationError } from './errors.ts'
import type { Scenario, ScenarioCluster } from './scenario-schema.ts'

/** One machine of a scenario's population, as both runners create it. */
export interface ScenarioMachine {
  /** `<cluster>-<index>`, zero-padded: the `{{machine}}` of its templates. */
  id: string
  cluster: string
  /** 0-based within its cluster: the `{{index}}` of its templates. */
  index: number
  /** When it starts (ms since the run's start): 0, or a late joiner's `at`. */
  joinAt: number
  /** When it is killed, and how long it stays down (churn), in time order. */
  outages: Array<{ atMs: number, downForMs: number }>
}

/** The machine id of `index` in `cluster`: `<cluster>-0007`, padded to the cluster's size so ids sort. */
export function machineId (cluster: ScenarioCluster, index: number): string {
  return `${cluster.name}-${String(index).padStart(Math.max(4, String(cluster.machines - 1).length), '0')}`
}

/**
 * The files of one machine's environment: the cluster's templates with
 * `{{var}}` from its vars, `{{machine}}` (the machine id), `{{index}}` and
 * `{{cluster}}`. Written into the machine's own dir; the release test reads
 * them there (`MIRAGE_ENV_DIR`).
 */
export function environmentFiles (scenario: Scenario, cluster: string, machineIndex: number): Map<string, string> {
  const spec = clusterOf(scenario, cluster)
  const vars: Record<string, string> = { ...spec.vars, machine: machineId(spec, machineIndex), index: String(machineIndex), cluster: spec.name }
  const files = new Map<string, string>()
  for (const [path, template] of Object.entries(spec.files)) {
    files.set(path, template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, name: string) => vars[name] ?? ''))
  }
  return files
}

/** Writes a machine's environment files under `dir` (created); resolves to `dir`, the `MIRAGE_ENV_DIR` of its tests. */
export async function writeEnvironment (scenario: Scenario, cluster: string, machineIndex: number, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  for (const [path, content] of environmentFiles(scenario, cluster, machineIndex)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), content)
  }
  return dir
}

/**
 * What a release of the scenario ships: the test script (`mirage-test`, the
 * manifest's test command), a `VERSION` file the script can read, and a
 * payload file of `artifactBytes` (a number: its size; `writeAppTree` fills
 * it with bytes derived from the scenario and version, so every version has
 * its own chunks).
 */
export function appTree (scenario: Scenario, version: string): Map<string, string | number> {
  const payloadBytes = Math.max(0, scenario.artifactBytes - Buffer.byteLength(scenario.test.script) - version.length - 1)
  return new Map<string, string | number>([
    [TEST_SCRIPT_PATH, scenario.test.script],
    [VERSION_FILE_PATH, `${version}\n`],
    [PAYLOAD_PATH, payloadBytes]
  ])
}

/**
 * Writes `appTree(scenario, version)` into `dir`: the script executable, the
 * payload as a deterministic keystream (AES-256-CTR keyed by the scenario
 * name and version: fast, incompressible, reproducible), or sparse when only
 * its size matters (the ground-truth runs).
 */
export async function writeAppTree (scenario: Scenario, version: string, dir: string, options: { sparsePayload?: boolean } = {}): Promise<string> {
  for (const [path, content] of appTree(scenario, version)) {
    const file = join(dir, path)
    await mkdir(dirname(file), { recursive: true })
    if (typeof content === 'string') {
      await writeFile(file, content)
      if (path === TEST_SCRIPT_PATH) await chmod(file, 0o755)
      continue
    }
    const handle = await open(file, 'w')
    try {
      if (options.sparsePayload === true) {
        await handle.truncate(content)
      } else {
        const key = createHash('sha256').update(`mirage-scenario-payload\n${scenario.name}\n${version}`).digest()
        const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
        const block = Buffer.alloc(1024 * 1024)
        for (let written = 0; written < content;) {
          const n = Math.min(block.length, content - written)
          await handle.write(cipher.update(block.subarray(0, n)))
          written += n
        }
      }
    } finally {
      await handle.close()
    }
  }
  return dir
}

/**
 * Every machine of the population with its start and outages. Late joiners
 * are the last machines of their cluster; churned machines are drawn with a
 * PRNG seeded by `seed`, so both runners kill the same machines.
 */
export function populationOf (scenario: Scenario, seed = scenario.seed): ScenarioMachine[] {
  const machines: ScenarioMachine[] = []
  const first = new Map<string, number>()
  for (const cluster of scenario.clusters) {
    first.set(cluster.name, machines.length)
    for (let i = 0; i < cluster.machines; i++) machines.push({ id: machineId(cluster, i), cluster: cluster.name, index: i, joinAt: 0, outages: [] })
  }
  for (const late of lateJoinersOf(scenario)) {
    for (let i = late.fromIndex; i < late.toIndex; i++) (machines[(first.get(late.cluster) ?? 0) + i] as ScenarioMachine).joinAt = late.atMs
  }
  for (const outage of outagesOf(scenario, seed)) {
    (machines[outage.machine] as ScenarioMachine).outages.push({ atMs: outage.atMs, downForMs: outage.downForMs })
  }
  for (const machine of machines) machine.outages.sort((a, b) => a.atMs - b.atMs)
  return machines
}

/**
 * Late joiners as index ranges [fromIndex, toIndex) of their cluster: each
 * entry takes the last machines not already taken by an earlier entry.
 */
export function lateJoinersOf (scenario: Scenario): Array<{ cluster: string, fromIndex: number, toIndex: number, atMs: number }> {
  const taken = new Map<string, number>()
  return scenario.lateJoiners.map(spec => {
    const size = scenario.clusters.find(c => c.name === spec.cluster)?.machines ?? 0
    const toIndex = size - (taken.get(spec.cluster) ?? 0)
    const fromIndex = Math.max(1, toIndex - spec.machines)
    taken.set(spec.cluster, size - fromIndex)
    return { cluster: spec.cluster, fromIndex, toIndex, atMs: spec.atMs }
  })
}

/**
 * Churn as outages of machines named by their position in the population
 * (clusters in scenario order, machines by index): drawn without
 * replacement per churn entry, from the entry's cluster or from everyone,
 * with a PRNG seeded by `seed`.
 */
export function outagesOf (scenario: Scenario, seed: number): Array<{ machine: number, atMs: number, downForMs: number }> {
  const first = new Map<string, number>()
  let total = 0
  for (const cluster of scenario.clusters) { first.set(cluster.name, total); total += cluster.machines }
  const random = mulberry32(seed ^ 0x5eed)
  const out: Array<{ machine: number, atMs: number, downForMs: number }> = []
  for (const spec of scenario.churn) {
    const offset = spec.cluster === undefined ? 0 : first.get(spec.cluster) ?? 0
    const size = spec.cluster === undefined ? total : scenario.clusters.find(c => c.name === spec.cluster)?.machines ?? 0
    for (const index of sampleIndices(size, spec.machines, random)) out.push({ machine: offset + index, atMs: spec.atMs, downForMs: spec.downForMs })
  }
  return out
}

/**
 * The scenario with its population scaled to `machines` in total (each
 * cluster proportionally, largest remainders, at least one machine each;
 * churn and late joiners scaled alike), for `simulate --machines N`.
 */
export function scaleScenario (scenario: Scenario, machines: number): Scenario {
  const total = scenario.clusters.reduce((sum, c) => sum + c.machines, 0)
  if (machines === total) return scenario
  if (machines < scenario.clusters.length) throw new SimulationError(`--machines must be at least ${scenario.clusters.length}, one per cluster`)
  const factor = machines / total
  const exact = scenario.clusters.map(c => c.machines * factor)
  const counts = exact.map(x => Math.max(1, Math.floor(x)))
  let left = machines - counts.reduce((a, b) => a + b, 0)
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  for (let j = 0; left > 0; j = (j + 1) % order.length, left--) {
    const i = (order[j] as readonly [number, number])[1]
    counts[i] = (counts[i] as number) + 1
  }
  for (let j = order.length - 1; left < 0; j = (j - 1 + order.length) % order.length) {
    const i = (order[j] as readonly [number, number])[1]
    if ((counts[i] as number) > 1) { counts[i] = (counts[i] as number) - 1; left++ }
  }
  const countOf = new Map(scenario.clusters.map((c, i) => [c.name, counts[i] as number]))
  const scaled = (n: number, cap: number): number => Math.min(cap, Math.max(1, Math.round(n * factor)))
  return {
    ...scenario,
    clusters: scenario.clusters.map((c, i) => ({ ...c, machines: counts[i] as number })),
    lateJoiners: scenario.lateJoiners.map(s => ({ ...s, machines: scaled(s.machines, (countOf.get(s.cluster) ?? 1) - 1) })).filter(s => s.machines > 0),
    churn: scenario.churn.map(s => ({ ...s, machines: scaled(s.machines, s.cluster === undefined ? machines : countOf.get(s.cluster) ?? 1) }))
  }
}

/** The scenario's total population. */
export function machineCount (scenario: Scenario): number {
  return scenario.clusters.reduce((sum, c) => sum + c.machines, 0)
}

function clusterOf (scenario: Scenario, cluster: string): ScenarioCluster {
  const spec = scenario.clusters.find(c => c.name === cluster)
  if (spec === undefined) throw new RangeError(`no cluster "${cluster}" in scenario ${scenario.name}`)
  return spec
}

/** `count` distinct indices of [0, n), drawn by a partial Fisher-Yates over a sparse map (n may be millions). */
export function sampleIndices (n: number, count: number, random: () => number): number[] {
  const swapped = new Map<number, number>()
  const out: number[] = []
  for (let i = 0; i < Math.min(n, count); i++) {
    const j = i + Math.floor(random() * (n - i))
    const atJ = swapped.get(j) ?? j
    swapped.set(j, swapped.get(i) ?? i)
    out.push(atJ)
  }
  return out
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1); the same sequence on every platform. */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
