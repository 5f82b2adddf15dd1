/**
 * Benchmark (not a test): one seed → N downloaders of one artifact on
 * loopback, real libp2p nodes (TCP + Noise + Yamux), uncapped. Prints the
 * aggregate download rate, per-downloader times, how much the seed uploaded
 * in multiples of the artifact, and where the followers' bytes came from.
 *
 *   node bench/fetch.bench.ts                        # 20 downloaders, 64 MiB, 1 MiB chunks, one worker thread per node
 *   node bench/fetch.bench.ts --in-process           # every node on the main thread
 *   node bench/fetch.bench.ts --mode origin          # everyone from the seed only (no swarm)
 *   node bench/fetch.bench.ts --downloaders 4 --size-mb 16 --runs 3
 *   node bench/fetch.bench.ts --in-flight 2 --last-resort 2 --streams 2 --have-ms 500 --max-peers 4
 *
 * With worker threads each node has its own event loop, as separate
 * machines would, and the two cores are shared by the OS. In-process, all
 * nodes share one thread, so the aggregate is bounded by what one core can
 * push through the JS stack for both ends of every transfer.
 */
import { parseArgs } from 'node:util'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { multiaddr } from '@multiformats/multiaddr'
import { artifactRoot, verifyArtifactChunks } from '../src/content/index.ts'
import type { ArtifactLayout } from '../src/content/index.ts'
import { shuffle } from '../src/fetch/chunk-scheduler.ts'
import type { DownloadInit, DownloadResult } from '../src/fetch/index.ts'
import { FetchHarness, makeArtifact } from '../test/integration/fetch/harness.ts'
import type { FetchNode, TestArtifact } from '../test/integration/fetch/harness.ts'

const MB = 1e6

/** What a downloader is told to do (tuning knobs of DownloadInit). */
interface Knobs {
  maxInFlightPerPeer?: number
  maxInFlightLastResort?: number
  streamsPerPeer?: number
  haveRefreshMs?: number
  maxPeers?: number
}

interface Outcome {
  id: string
  ms: number
  result: { bytesByPeer: Array<[string, number]>, chunksFetched: number, droppedPeers: string[] }
  failures: Array<[string, number]>
}

// ---------------------------------------------------------------------------
// One node (on a worker thread, or in-process)

async function download (node: FetchNode, artifact: TestArtifact, peers: string[], lastResort: string[], knobs: Knobs, start: number): Promise<Outcome> {
  const failures = new Map<string, number>()
  const count = (key: string): void => { failures.set(key, (failures.get(key) ?? 0) + 1) }
  const init: Partial<DownloadInit> & { peers: DownloadInit['peers'] } = {
    peers: () => peers,
    lastResort,
    ...knobs,
    onProgress: (event) => {
      if (event.type === 'chunk-failed') count(`chunk-failed:${event.reason}`)
      if (event.type === 'peer-dropped') count(`peer-dropped:${event.reason}`)
    }
  }
  const result: DownloadResult = await node.download(artifact, init)
  const ms = performance.now() - start
  const problems = await verifyArtifactChunks(node.store, artifact.layout)
  if (problems.length > 0) throw new Error(`${node.id} has ${problems.length} bad chunks`)
  return {
    id: node.id,
    ms,
    result: { bytesByPeer: [...result.bytesByPeer], chunksFetched: result.chunksFetched, droppedPeers: result.droppedPeers },
    failures: [...failures]
  }
}

type Request =
  | { op: 'seed', size: number, chunkSize: number }
  | { op: 'serve', root: string, layout: ArtifactLayout }
  | { op: 'dial', addrs: string[] }
  | { op: 'download', peers: string[], lastResort: string[], knobs: Knobs }
  | { op: 'stats' }
  | { op: 'stop' }

async function workerMain (): Promise<void> {
  const port = parentPort
  if (port === null) throw new Error('not a worker')
  const harness = new FetchHarness()
  const node = await harness.createNode()
  let artifact: TestArtifact | undefined
  port.postMessage({ id: node.id, addrs: node.libp2p.getMultiaddrs().map((addr) => addr.toString()) })
  port.on('message', (request: Request) => {
    void (async () => {
      switch (request.op) {
        case 'seed': {
          artifact = makeArtifact(request.size, request.chunkSize)
          await node.seed(artifact)
          return { root: artifact.root.toString(), layout: artifact.layout }
        }
        case 'serve': {
          const root = artifactRoot(request.layout)
          if (root.toString() !== request.root) throw new Error('layout does not match root')
          artifact = { root, layout: request.layout, chunks: [] }
          node.serve(artifact)
          return {}
        }
        case 'dial':
          for (const addr of request.addrs) {
            for (let attempt = 1; ; attempt++) {
              try {
                await node.libp2p.dial(multiaddr(addr))
                break
              } catch (err) {
                if (attempt >= 5) throw err
                await new Promise((resolve) => setTimeout(resolve, 300 * attempt))
              }
            }
          }
          return {}
        case 'download':
          if (artifact === undefined) throw new Error('nothing to download')
          return download(node, artifact, request.peers, request.lastResort, request.knobs, performance.now())
        case 'stats':
          return { bytesServed: node.server?.stats().bytesServed ?? 0 }
        case 'stop':
          await harness.stop()
          return {}
      }
    })().then((reply) => { port.postMessage({ ok: reply }) }, (err: unknown) => { port.postMessage({ error: String((err as Error)?.stack ?? err) }) })
  })
}

/** The main thread's handle on a node in a worker: one request at a time. */
class RemoteNode {
  readonly worker: Worker
  id = ''
  addrs: string[] = []
  #queue: Promise<unknown> = Promise.resolve()

  constructor () {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { bench: 'fetch-node' } })
  }

  async ready (): Promise<void> {
    const hello = await new Promise<{ id: string, addrs: string[] }>((resolve, reject) => {
      this.worker.once('message', resolve)
      this.worker.once('error', reject)
    })
    this.id = hello.id
    this.addrs = hello.addrs
  }

  async call<T> (request: Request): Promise<T> {
    const run = this.#queue.then(async () => new Promise<T>((resolve, reject) => {
      this.worker.once('message', (reply: { ok?: T, error?: string }) => {
        if (reply.error !== undefined) reject(new Error(reply.error))
        else resolve(reply.ok as T)
      })
      this.worker.postMessage(request)
    }))
    this.#queue = run.catch(() => {})
    return run
  }
}

// ---------------------------------------------------------------------------
// The benchmark

interface RunSummary {
  elapsedMs: number
  /** CPU time of the whole process (all threads) during the downloads, in ms. */
  cpuMs: number
  outcomes: Outcome[]
  seedId: string
  seedServed: number
}

async function runThreads (downloaders: number, size: number, chunkSize: number, swarm: boolean, knobs: Knobs): Promise<RunSummary> {
  const nodes = Array.from({ length: downloaders + 1 }, () => new RemoteNode())
  try {
    await Promise.all(nodes.map(async (node) => { await node.ready() }))
    const [seed, ...followers] = nodes
    if (seed === undefined) throw new Error('no seed')
    const { root, layout } = await seed.call<{ root: string, layout: ArtifactLayout }>({ op: 'seed', size, chunkSize })
    await Promise.all(followers.map(async (node) => node.call({ op: 'serve', root, layout })))
    // Full mesh, in rounds of disjoint pairs (libp2p accepts only a few inbound connections per second per host).
    for (const round of roundRobin(nodes.length)) {
      const started = performance.now()
      await Promise.all(round.map(async ([i, j]) => (nodes[i] as RemoteNode).call({ op: 'dial', addrs: (nodes[j] as RemoteNode).addrs })))
      const wait = 300 - (performance.now() - started)
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
    const cpuStart = process.cpuUsage()
    const start = performance.now()
    const outcomes = await Promise.all(followers.map(async (node) => {
      const outcome = await node.call<Outcome>({
        op: 'download',
        // Shuffled per follower, so that a --max-peers cap picks different peers for each.
        peers: swarm ? shuffled(nodes.filter((other) => other !== node).map((other) => other.id)) : [],
        lastResort: [seed.id],
        knobs
      })
      return { ...outcome, ms: performance.now() - start }
    }))
    const elapsedMs = performance.now() - start
    const cpu = process.cpuUsage(cpuStart)
    const { bytesServed } = await seed.call<{ bytesServed: number }>({ op: 'stats' })
    return { elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000, outcomes, seedId: seed.id, seedServed: bytesServed }
  } finally {
    await Promise.allSettled(nodes.map(async (node) => node.call({ op: 'stop' })))
    await Promise.allSettled(nodes.map(async (node) => node.worker.terminate()))
  }
}

async function runInProcess (downloaders: number, size: number, chunkSize: number, swarm: boolean, knobs: Knobs): Promise<RunSummary> {
  const harness = new FetchHarness()
  try {
    const [seed, ...followers] = await harness.createNodes(downloaders + 1)
    if (seed === undefined) throw new Error('no seed')
    await harness.connectAll()
    const artifact = makeArtifact(size, chunkSize)
    await seed.seed(artifact)
    const cpuStart = process.cpuUsage()
    const start = performance.now()
    const outcomes = await Promise.all(followers.map(async (node) => download(
      node, artifact, swarm ? harness.nodes.filter((other) => other !== node).map((other) => other.id) : [], [seed.id], knobs, start
    )))
    const cpu = process.cpuUsage(cpuStart)
    return {
      // When the last download finished (each outcome is timed before its store is re-verified).
      elapsedMs: Math.max(...outcomes.map((outcome) => outcome.ms)),
      cpuMs: (cpu.user + cpu.system) / 1000,
      outcomes,
      seedId: seed.id,
      seedServed: seed.server?.stats().bytesServed ?? 0
    }
  } finally {
    await harness.stop()
  }
}

/** A copy of `items` in random order. */
function shuffled<T> (items: T[]): T[] {
  const copy = [...items]
  shuffle(copy, Math.random)
  return copy
}

/** The circle method: rounds of disjoint pairs covering every pair once. */
function roundRobin (count: number): Array<Array<[number, number]>> {
  const slots = count % 2 === 0 ? count : count + 1
  const ring = Array.from({ length: slots }, (_v, i) => i)
  const rounds: Array<Array<[number, number]>> = []
  for (let r = 0; r < slots - 1; r++) {
    const round: Array<[number, number]> = []
    for (let k = 0; k < slots / 2; k++) {
      const a = ring[k] as number
      const b = ring[slots - 1 - k] as number
      if (a < count && b < count) round.push([a, b])
    }
    rounds.push(round)
    ring.splice(1, 0, ring.pop() as number)
  }
  return rounds
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      downloaders: { type: 'string', default: '20' },
      'size-mb': { type: 'string', default: '64' },
      'chunk-kb': { type: 'string', default: '1024' },
      runs: { type: 'string', default: '1' },
      mode: { type: 'string', default: 'swarm' },
      'in-process': { type: 'boolean', default: false },
      'in-flight': { type: 'string' },
      'last-resort': { type: 'string' },
      streams: { type: 'string' },
      'have-ms': { type: 'string' },
      'max-peers': { type: 'string' }
    }
  })
  const downloaders = Number(values.downloaders)
  const size = Number(values['size-mb']) * 1024 * 1024
  const chunkSize = Number(values['chunk-kb']) * 1024
  const swarm = values.mode !== 'origin'
  const optional = (value: string | undefined): number | undefined => value === undefined ? undefined : Number(value)
  const knobs: Knobs = {
    maxInFlightPerPeer: optional(values['in-flight']),
    maxInFlightLastResort: optional(values['last-resort']),
    streamsPerPeer: optional(values.streams),
    haveRefreshMs: optional(values['have-ms']),
    maxPeers: optional(values['max-peers'])
  }
  for (const key of Object.keys(knobs) as Array<keyof Knobs>) if (knobs[key] === undefined) delete knobs[key]
  const where = values['in-process'] ? 'one thread' : 'one worker thread per node'
  console.log(`fetch bench: 1 seed → ${downloaders} downloaders, ${size / 1024 / 1024} MiB in ${chunkSize / 1024} KiB chunks, ${swarm ? 'swarm (seed is last resort)' : 'origin (seed only)'}, ${where}${Object.keys(knobs).length > 0 ? `, ${JSON.stringify(knobs)}` : ''}`)

  for (let run = 1; run <= Number(values.runs); run++) {
    const summary = values['in-process']
      ? await runInProcess(downloaders, size, chunkSize, swarm, knobs)
      : await runThreads(downloaders, size, chunkSize, swarm, knobs)
    const received = size * downloaders
    const fromSeed = summary.outcomes.reduce((sum, o) => sum + (new Map(o.result.bytesByPeer).get(summary.seedId) ?? 0), 0)
    const times = summary.outcomes.map((o) => o.ms).sort((a, b) => a - b)
    const failures = new Map<string, number>()
    for (const o of summary.outcomes) for (const [key, n] of o.failures) failures.set(key, (failures.get(key) ?? 0) + n)
    console.log([
      `run ${run}:`,
      `all done in ${(summary.elapsedMs / 1000).toFixed(2)} s`,
      `aggregate ${(received / MB / (summary.elapsedMs / 1000)).toFixed(0)} MB/s`,
      `per downloader ${((times[0] ?? 0) / 1000).toFixed(2)}–${((times.at(-1) ?? 0) / 1000).toFixed(2)} s (median ${((times[Math.floor(times.length / 2)] ?? 0) / 1000).toFixed(2)} s)`,
      `seed uploaded ${(summary.seedServed / size).toFixed(2)}× the artifact`,
      `followers got ${(100 * (received - fromSeed) / received).toFixed(0)}% from each other`,
      `CPU ${(summary.cpuMs / summary.elapsedMs).toFixed(2)} cores, ${(summary.cpuMs / (received / MB)).toFixed(1)} ms per MB received`
    ].join(' | '))
    if (failures.size > 0) console.log(`  failures: ${[...failures].map(([key, n]) => `${key} ${n}`).join(', ')}`)
  }
}

if (isMainThread) {
  await main()
} else if ((workerData as { bench?: string } | undefined)?.bench === 'fetch-node') {
  await workerMain()
}
