/**
 * Benchmark (not a test), issue 4: the vendor clusters a census of 100,000
 * machines with 5,000 distinct fingerprints. Goal: under 30 s in total on
 * this machine, with the time per phase and the peak memory printed.
 *
 *   node bench/cluster.bench.ts
 *   node bench/cluster.bench.ts --machines 20000 --distinct 1000 --diameter 6
 *   node bench/cluster.bench.ts --max-matrix-mb 0     # no distance matrix
 *
 * The census is generated, deterministically (seeded PRNG): a base
 * environment of ~195 facts over binaries and libraries (content hashes),
 * `php.ini`, `my.cnf`, `httpd.conf`, Debian package versions, environment
 * variables and command outputs. 48 items across those resources vary.
 * Environments come in "archetypes" (think distribution releases and common
 * stacks: each changes 8-16 of the varying items), with Zipf-like
 * popularity; every distinct fingerprint is an archetype with 0-2 further
 * items changed, and often a different environment variable (weight 0: a
 * different digest at distance 0). Machines are spread over the fingerprints
 * with the archetypes' popularity, each fingerprint having at least one, and
 * arrive shuffled, sharing facts arrays by fingerprint as a census intake
 * that decodes each distinct fingerprint once would.
 *
 * Phases timed: collapse (100,000 machines → distinct fingerprints),
 * distances (interning, dense rows, the full matrix cut off at the diameter),
 * QT (neighbourhoods and clustering), then order + signed map. Peak memory:
 * the process RSS sampled every 10 ms from a worker thread (the main thread
 * is busy in synchronous code), and `process.resourceUsage().maxRSS`.
 */
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import {
  buildClusterMap, buildDistanceTable, collapseCensus, openClusterMap, orderClusters, qualityThreshold, sealClusterMap
} from '../src/cluster/index.ts'
import type { MachineFingerprint } from '../src/cluster/index.ts'
import type { Fact } from '../src/env/index.ts'
import { generateSigningKey } from '../src/trust/index.ts'
import { mulberry32 } from '../test/helpers/seeded-random.ts'

const GOAL_SECONDS = 30

const { values: args } = parseArgs({
  options: {
    machines: { type: 'string', default: '100000' },
    distinct: { type: 'string', default: '5000' },
    diameter: { type: 'string', default: '6' },
    archetypes: { type: 'string', default: '60' },
    'max-matrix-mb': { type: 'string' },
    seed: { type: 'string', default: '4' }
  }
})
const MACHINES = Number(args.machines)
const DISTINCT = Number(args.distinct)
const DIAMETER = Number(args.diameter)
const ARCHETYPES = Number(args.archetypes)
/** `--max-matrix-mb 0` exercises the path without a distance matrix (distances recomputed from the dense rows). */
const MAX_MATRIX_BYTES = args['max-matrix-mb'] === undefined ? undefined : Number(args['max-matrix-mb']) * 1e6

/** Binaries and libraries weigh most: a different libmysqlclient broke PHP in the paper's study. */
const WEIGHTS: Record<string, number> = {
  '/usr/bin/php': 3,
  '/usr/sbin/apache2': 3,
  '/usr/sbin/mysqld': 3,
  'libc.so.6': 3,
  'libssl.so.3': 3,
  'libmysqlclient.so': 3,
  'libxml2.so.2': 3,
  'uname -r': 2,
  'openssl version': 2,
  env: 0
}

/** Resources and their item counts: ~195 facts a machine. */
const LAYOUT: Array<[string, number]> = [
  ['/usr/bin/php', 1], ['/usr/sbin/apache2', 1], ['/usr/sbin/mysqld', 1],
  ['libc.so.6', 1], ['libssl.so.3', 1], ['libmysqlclient.so', 1], ['libxml2.so.2', 1],
  ['/etc/php/php.ini', 60], ['/etc/mysql/my.cnf', 30], ['/etc/apache2/apache2.conf', 50],
  ['packages', 40], ['env', 5], ['uname -r', 1], ['openssl version', 1]
]


interface Cell { resource: string, item: string }

function generateCensus (random: () => number): { machines: MachineFingerprint[], reference: Fact[] } {
  const cells: Cell[] = []
  for (const [resource, items] of LAYOUT) {
    for (let k = 0; k < items; k++) cells.push({ resource, item: items === 1 ? '' : `${resource.split('/').pop() ?? resource}.item${k}` })
  }
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
  // 48 varying cells: every binary and command, and a share of each config and the packages.
  const byResource = (r: string) => cells.map((c, i) => ({ c, i })).filter(({ c }) => c.resource === r).map(({ i }) => i)
  const varying = [
    ...byResource('/usr/bin/php'), ...byResource('/usr/sbin/apache2'), ...byResource('/usr/sbin/mysqld'),
    ...byResource('libc.so.6'), ...byResource('libssl.so.3'), ...byResource('libmysqlclient.so'), ...byResource('libxml2.so.2'),
    ...byResource('uname -r'), ...byResource('openssl version'),
    ...byResource('/etc/php/php.ini').slice(0, 12), ...byResource('/etc/mysql/my.cnf').slice(0, 8),
    ...byResource('/etc/apache2/apache2.conf').slice(0, 9), ...byResource('packages').slice(0, 10)
  ]
  const envCells = byResource('env')
  const salt = 'bench-salt'
  const hashes = new Map<string, string>()
  const valueOf = (cell: number, version: number): string => {
    const key = `${cell}/${version}`
    let value = hashes.get(key)
    if (value === undefined) {
      const { resource, item } = cells[cell] as Cell
      value = createHash('sha256').update(`${salt}\0${resource}\0${item}\0${version}`).digest('base64url')
      hashes.set(key, value)
    }
    return value
  }

  // Archetypes: version per cell (0 = the base environment's), Zipf popularity.
  const archetypes = Array.from({ length: ARCHETYPES }, (_, a) => {
    const versions = new Int32Array(cells.length)
    if (a > 0) {
      const changes = 8 + Math.floor(random() * 9)
      for (let k = 0; k < changes; k++) versions[pick(varying)] = 1 + Math.floor(random() * 3)
    }
    return { versions, popularity: 1 / (a + 1) ** 0.9 }
  })

  const distinct = new Map<string, { facts: Fact[], weight: number }>()
  const archetypeWeight = archetypes.map(a => a.popularity ** 0.5)
  const archetypeTotal = archetypeWeight.reduce((s, w) => s + w, 0)
  while (distinct.size < DISTINCT) {
    let r = random() * archetypeTotal
    let a = 0
    while (a < archetypes.length - 1 && r >= (archetypeWeight[a] as number)) r -= archetypeWeight[a++] as number
    const archetype = archetypes[a] as { versions: Int32Array, popularity: number }
    const versions = Int32Array.from(archetype.versions)
    const mutations = Math.floor(random() * 3)
    for (let k = 0; k < mutations; k++) versions[pick(varying)] = 4 + Math.floor(random() * 3)
    if (random() < 0.3) versions[pick(envCells)] = 1 + Math.floor(random() * 20)
    const facts: Fact[] = cells.map((cell, i) => ({ resource: cell.resource, item: cell.item, value: valueOf(i, versions[i] as number) }))
    const digest = createHash('sha256').update(facts.map(f => `${f.resource}\0${f.item}\0${f.value}`).join('\n')).digest('hex')
    if (!distinct.has(digest)) distinct.set(digest, { facts, weight: archetype.popularity / (1 + mutations) })
  }

  const entries = [...distinct]
  const machines: MachineFingerprint[] = entries.map(([digest, { facts }]) => ({ digest, facts }))
  const cumulative = new Float64Array(entries.length)
  let sum = 0
  entries.forEach(([, { weight }], i) => { cumulative[i] = sum += weight })
  while (machines.length < MACHINES) {
    const r = random() * sum
    let lo = 0
    let hi = entries.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cumulative[mid] as number) > r) hi = mid
      else lo = mid + 1
    }
    const [digest, { facts }] = entries[lo] as [string, { facts: Fact[] }]
    machines.push({ digest, facts })
  }
  for (let i = machines.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = machines[i] as MachineFingerprint
    machines[i] = machines[j] as MachineFingerprint
    machines[j] = t
  }
  const reference = cells.map((cell, i) => ({ resource: cell.resource, item: cell.item, value: valueOf(i, 0) }))
  return { machines, reference }
}

/** Samples the process RSS from another thread, so the peak during synchronous work is seen. */
function rssSampler (): { peakMb: () => number, reset: () => void, stop: () => Promise<number> } {
  const shared = new Float64Array(new SharedArrayBuffer(8))
  const worker = new Worker(`
    const { workerData } = require('node:worker_threads')
    const peak = new Float64Array(workerData)
    setInterval(() => { const rss = process.memoryUsage.rss(); if (rss > peak[0]) peak[0] = rss }, 10)
  `, { eval: true, workerData: shared.buffer })
  return {
    peakMb: () => Math.max(shared[0] as number, process.memoryUsage.rss()) / 1e6,
    reset: () => { shared[0] = 0 },
    stop: async () => worker.terminate()
  }
}

const seconds = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e9

async function main (): Promise<void> {
  const sampler = rssSampler()
  let start = process.hrtime.bigint()
  const { machines, reference } = generateCensus(mulberry32(Number(args.seed)))
  const generated = seconds(start)
  const rssCensusMb = process.memoryUsage.rss() / 1e6
  sampler.reset()

  const total = process.hrtime.bigint()
  start = process.hrtime.bigint()
  const census = collapseCensus(machines)
  const collapse = seconds(start)

  start = process.hrtime.bigint()
  const table = buildDistanceTable(census.fingerprints, { weights: WEIGHTS, cutoff: DIAMETER, maxMatrixBytes: MAX_MATRIX_BYTES })
  const distances = seconds(start)

  start = process.hrtime.bigint()
  const found = qualityThreshold(table, census.fingerprints.map(f => f.machines), DIAMETER)
  const qt = seconds(start)

  start = process.hrtime.bigint()
  const ordered = orderClusters(census.fingerprints, found, { reference, weights: WEIGHTS })
  const key = await generateSigningKey()
  const map = buildClusterMap({ app: 'webshop', sequence: 1, created: Date.now(), diameter: DIAMETER, weights: WEIGHTS, clusters: ordered })
  const sealed = await sealClusterMap(map, key)
  await openClusterMap(sealed, key.publicKey)
  const mapping = seconds(start)
  const elapsed = seconds(total)
  const peakClusteringMb = sampler.peakMb()
  await sampler.stop()
  const maxRssMb = process.resourceUsage().maxRSS * 1024 / 1e6

  const sizes = found.map(c => c.machines).sort((a, b) => b - a)
  const singletons = found.filter(c => c.members.length === 1).length
  const pass = elapsed < GOAL_SECONDS
  process.stdout.write([
    `census: ${census.machines} machines, ${census.fingerprints.length} distinct fingerprints, ${reference.length} facts each; generated in ${generated.toFixed(1)} s (not timed below)`,
    `diameter ${DIAMETER}, weights ${JSON.stringify(WEIGHTS)}`,
    `distance table: ${table.columns} varying columns, matrix ${table.storage}`,
    `collapse:        ${collapse.toFixed(2)} s`,
    `distances:       ${distances.toFixed(2)} s`,
    `QT:              ${qt.toFixed(2)} s`,
    `order + map:     ${mapping.toFixed(2)} s (order, build, seal and open a ${(sealed.byteLength / 1e3).toFixed(0)} kB signed map)`,
    `total:           ${elapsed.toFixed(2)} s (goal < ${GOAL_SECONDS} s) ${pass ? 'PASS' : 'FAIL'}`,
    `clusters: ${found.length} (largest ${sizes.slice(0, 5).join(', ')} machines; ${singletons} of one fingerprint; widest diameter ${Math.max(...found.map(c => c.diameter))})`,
    `memory: RSS with the census generated ${rssCensusMb.toFixed(0)} MB; peak RSS while clustering (sampled every 10 ms) ${peakClusteringMb.toFixed(0)} MB; maxRSS ${maxRssMb.toFixed(0)} MB`
  ].join('\n') + '\n')
  if (!pass) process.exitCode = 1
}

await main()
