/**
 * Benchmark (not a test): one seed → N downloaders of one artifact on
 * loopback, all real libp2p nodes (TCP + Noise + Yamux) in this process,
 * uncapped. Prints the aggregate download rate, per-downloader times, how
 * much the seed uploaded in multiples of the artifact, and where the
 * followers' bytes came from.
 *
 *   node bench/fetch.bench.ts                       # 20 downloaders, 64 MiB, 1 MiB chunks
 *   node bench/fetch.bench.ts --downloaders 4 --size-mb 16 --runs 3
 *   node bench/fetch.bench.ts --mode origin         # everyone from the seed only (no swarm)
 *   node bench/fetch.bench.ts --in-flight 8 --last-resort 2 --streams 2
 *
 * All nodes share one thread here, so the aggregate rate is bounded by what
 * one core can push through the JS stack (DESIGN.md: ≈ 325–360 MB/s from
 * one origin to many receivers); the seed's upload multiple is the number
 * that shows whether followers serve each other.
 */
import { parseArgs } from 'node:util'
import { verifyArtifactChunks } from '../src/content/index.ts'
import { FetchHarness, makeArtifact } from '../test/integration/fetch/harness.ts'
import type { DownloadResult } from '../src/fetch/index.ts'

const { values } = parseArgs({
  options: {
    downloaders: { type: 'string', default: '20' },
    'size-mb': { type: 'string', default: '64' },
    'chunk-kb': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'swarm' },
    'in-flight': { type: 'string' },
    'last-resort': { type: 'string' },
    streams: { type: 'string' },
    'have-ms': { type: 'string' }
  }
})

const downloaders = Number(values.downloaders)
const size = Number(values['size-mb']) * 1024 * 1024
const chunkSize = Number(values['chunk-kb']) * 1024
const runs = Number(values.runs)
const swarm = values.mode !== 'origin'
const optional = (value: string | undefined): number | undefined => value === undefined ? undefined : Number(value)

const MB = 1e6
console.log(`fetch bench: 1 seed → ${downloaders} downloaders, ${size / 1024 / 1024} MiB in ${chunkSize / 1024} KiB chunks, mode ${swarm ? 'swarm (seed is last resort)' : 'origin (seed only)'}`)

for (let run = 1; run <= runs; run++) {
  const harness = new FetchHarness()
  try {
    const [seed, ...followers] = await harness.createNodes(downloaders + 1)
    if (seed === undefined) throw new Error('no seed')
    await harness.connectAll()
    const artifact = makeArtifact(size, chunkSize)
    await seed.seed(artifact)

    const cpuStart = process.cpuUsage()
    const start = performance.now()
    const finished: number[] = []
    const failures = new Map<string, number>()
    const count = (key: string): void => { failures.set(key, (failures.get(key) ?? 0) + 1) }
    const results: DownloadResult[] = await Promise.all(followers.map(async (node) => {
      const result = await node.download(artifact, {
        peers: () => swarm ? harness.nodes.filter((other) => other !== node).map((other) => other.id) : [],
        lastResort: [seed.id],
        maxInFlightPerPeer: optional(values['in-flight']),
        maxInFlightLastResort: optional(values['last-resort']),
        streamsPerPeer: optional(values.streams),
        haveRefreshMs: optional(values['have-ms']),
        onProgress: (event) => {
          if (event.type === 'chunk-failed') {
            count(`chunk-failed:${event.reason}`)
            if (process.env.BENCH_VERBOSE !== undefined) console.log(`  ${node.id.slice(-6)} chunk ${event.index} from ${event.peer.slice(-6)} failed: ${event.message}`)
          }
          if (event.type === 'peer-dropped') {
            count(`peer-dropped:${event.reason}`)
            if (process.env.BENCH_VERBOSE !== undefined) console.log(`  ${node.id.slice(-6)} dropped ${event.peer.slice(-6)}: ${event.message}`)
          }
        }
      })
      finished.push(performance.now() - start)
      return result
    }))
    const elapsedMs = performance.now() - start
    const cpu = process.cpuUsage(cpuStart)

    for (const node of followers) {
      const problems = await verifyArtifactChunks(node.store, artifact.layout)
      if (problems.length > 0) throw new Error(`${node.id} has ${problems.length} bad chunks`)
    }
    const received = size * followers.length
    const seedServed = seed.server?.stats().bytesServed ?? 0
    const fromSeed = results.reduce((sum, result) => sum + (result.bytesByPeer.get(seed.id) ?? 0), 0)
    finished.sort((a, b) => a - b)
    const median = finished[Math.floor(finished.length / 2)] ?? 0
    console.log([
      `run ${run}:`,
      `all done in ${(elapsedMs / 1000).toFixed(2)} s`,
      `aggregate ${(received / MB / (elapsedMs / 1000)).toFixed(0)} MB/s`,
      `per downloader median ${(median / 1000).toFixed(2)} s (first ${((finished[0] ?? 0) / 1000).toFixed(2)} s)`,
      `seed uploaded ${(seedServed / size).toFixed(2)}× the artifact`,
      `followers got ${(100 * (received - fromSeed) / received).toFixed(0)}% from each other`,
      `CPU ${((cpu.user + cpu.system) / 1000 / elapsedMs).toFixed(2)} cores`,
      `dropped ${results.reduce((n, r) => n + r.droppedPeers.length, 0)}`
    ].join(' | '))
    if (failures.size > 0) console.log(`  failures: ${[...failures].map(([key, n]) => `${key} ${n}`).join(', ')}`)
  } finally {
    await harness.stop()
  }
}
