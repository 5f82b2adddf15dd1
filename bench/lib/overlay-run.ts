/**
 * One staged rollout through the real system, for the overlay benchmark:
 * the vendor's seed (a Mirage node in a worker process), one representative
 * and N followers (each the real `mirage node start` command in its own
 * process). Machines start and join the swarm first, like long-running
 * machines; then the vendor hands the release to its seed (the same
 * seedRelease that `mirage vendor seed` reaches through a running seed's
 * control API), and the run ends when every follower has installed it.
 *
 * All times come from the nodes' own records (`at`: the first time each
 * state was entered, Date.now() on the same machine), so how often the
 * benchmark polls changes when it notices the end, not what it measures.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { callControl } from '../../src/node/index.ts'
import { APP, CLUSTER, PAYLOAD_FILE } from './release-fixture.ts'
import type { NodeStatus, ReleaseStatus } from '../../src/node/index.ts'
import type { CpuSampler } from './cpu-sampler.ts'
import { memAvailableBytes } from './processes.ts'
import type { BenchProcess, ProcessGroup } from './processes.ts'
import type { BenchRelease } from './release-fixture.ts'

/** Machines started at once: each start is a second or so of CPU, and the seed accepts ≤ 5 inbound connections per second per host (libp2p's inboundConnectionThreshold; every machine here is 127.0.0.1). */
const START_CONCURRENCY = 4
const START_TIMEOUT_MS = 120_000
/** The swarm counts as joined once every machine has this many connections (seed and a few peers; capped by the swarm's size)... */
const MIN_CONNECTIONS = 3
/** ...and the total has not moved for this long (DHT routing and gossip meshes done forming). */
const JOIN_STABLE_MS = 3_000
const JOIN_TIMEOUT_MS = 120_000
/** Status polls: cheap unix-socket calls; the figures do not depend on this. */
const POLL_INTERVAL_MS = 500
const STATE_FAILED = new Set(['failed', 'blocked', 'rolled-back'])
/**
 * The run stops (as broken) when the machine has less memory than this
 * left: a swarm of 51 nodes that downloads 64 MB each can exhaust this
 * shared machine, and the kernel's OOM killer would pick anyone's process.
 */
const MIN_AVAILABLE_MEMORY_BYTES = 2 * 2 ** 30

/**
 * The rollout itself did not finish (a machine blocked, failed or crashed,
 * time or memory ran out): a measured result, not a broken benchmark.
 */
export class RolloutUnfinishedError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'RolloutUnfinishedError'
  }
}

export interface OverlayRunInit {
  /** A fresh directory for this run's machines. */
  work: string
  release: BenchRelease
  followers: number
  /** The seed's (node-wide) upload limit; 0 = unlimited. */
  seedUploadBytesPerSecond: number
  /** Gives up after this long from seeding. */
  timeoutMs: number
  group: ProcessGroup
  cpu: CpuSampler
  /** Called once the swarm is ready, just before the clock starts (the benchmark waits for a quiet machine there). */
  beforeClock: () => Promise<void>
  log: (line: string) => void
}

/** Milliseconds since the vendor seeded, per state a machine entered. */
export type Timeline = Partial<Record<'seen' | 'waiting' | 'downloading' | 'testing' | 'installing' | 'installed', number>>

export interface OverlayResult {
  followers: number
  /** When the vendor handed the release to its seed (Date.now()), to line up with node logs. */
  seededAt: number
  /** (a) seeding → the last follower installed. */
  endToEndMs: number
  /** (b) the followers' gate opened (earliest follower `downloading`) → the last follower installed. */
  distributionMs: number
  /** Gate opened → the last follower held every chunk (`installing`): delivery alone, without unpack and install. */
  deliveryMs: number
  representative: Timeline
  /** Followers' first and last entry into each state, ms since seeding. */
  followersFirst: Timeline
  followersLast: Timeline
  /** Median follower, ms from the gate opening to its download done and its install done. */
  medianFollowerDeliveryMs: number
  medianFollowerInstallMs: number
  /** Chunk bytes the seed served, and that over the artifact size. */
  seedUploadedBytes: number
  uploadMultiple: number
  /** Where the followers' bytes came from, as fractions. */
  followerBytesFrom: { seed: number, representative: number, followers: number }
  /** Average busy cores of the machine during (b), and from seeding until the gate opened. */
  busyCoresDuringDistribution: number
  busyCoresBeforeGate: number
  /** Peak resident memory of the seed and machines together, sampled at each poll. */
  peakRssBytes: number
  /** Bitfields (answers to `have`) the seed and machines sent, from start to the end of the run: the swarm's chatter. */
  bitfieldsServed: number
  /** Connections per machine when the vendor seeded (min / median / max). */
  connectionsAtSeed: [number, number, number]
}

interface Machine {
  name: string
  role: 'representative' | 'follower'
  dir: string
  config: string
  process?: BenchProcess
}

export async function runOverlay (init: OverlayRunInit): Promise<OverlayResult> {
  const { work, release, group, log } = init
  await mkdir(work, { recursive: true })

  // The seed: the vendor's key as identity, the upload limit under test.
  const seedDir = join(work, 'seed')
  const seedConfig = await writeConfig(seedDir, { uploadBytesPerSecond: init.seedUploadBytesPerSecond })
  const seed = group.worker('seed', 'seed', { config: seedConfig, vendorDir: release.vendorDir })
  const seedReady = await seed.message<{ type: string, peerId: string, addresses: string[] }>('ready', START_TIMEOUT_MS)
  const seedAddress = seedReady.addresses.find(a => a.startsWith('/ip4/127.0.0.1/'))
  if (seedAddress === undefined) throw new Error(`the seed listens on no 127.0.0.1 address: ${seedReady.addresses.join(', ')}`)

  // One volunteer representative and N followers in one cluster. Explicit
  // roles make "1 representative + N followers" exact; with 'auto' the
  // ranking would pick one as well, but a machine that had not yet seen the
  // others could elect itself too and add a second download from the seed.
  const machines: Machine[] = [
    { name: 'rep', role: 'representative', dir: join(work, 'rep'), config: '' },
    ...Array.from({ length: init.followers }, (_v, i): Machine => ({ name: `f${i + 1}`, role: 'follower', dir: join(work, `f${i + 1}`), config: '' }))
  ]
  for (const machine of machines) {
    machine.config = await writeConfig(machine.dir, {
      bootstrap: [seedAddress],
      apps: {
        [APP]: {
          vendorKeys: [release.vendorKeyText],
          installDir: join(machine.dir, 'install'),
          cluster: { name: CLUSTER },
          role: machine.role
        }
      }
    })
  }
  const started = Date.now()
  for (let i = 0; i < machines.length; i += START_CONCURRENCY) {
    checkMemory(`${i} of ${machines.length} machines started`)
    await Promise.all(machines.slice(i, i + START_CONCURRENCY).map(async (machine) => {
      machine.process = group.mirage(machine.name, ['node', 'start', '--config', machine.config, '--json'])
      await machine.process.jsonLine('peerId', START_TIMEOUT_MS)
    }))
  }
  log(`  ${machines.length} machines started in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const connections = await waitJoined(machines, log)
  await init.beforeClock()

  // The vendor seeds: the clock starts.
  const seededAt = Date.now()
  seed.send({ type: 'seed-release', dir: release.dir })
  await seed.message('seeded', START_TIMEOUT_MS)

  // Until every follower installed (or one failed, or time ran out).
  const statuses = new Map<string, ReleaseStatus>()
  /** What each machine last said, for the message if the run times out. */
  const notes = new Map<string, string>()
  const deadline = seededAt + init.timeoutMs
  let lastReport = seededAt
  let peakRssBytes = group.rssBytes()
  for (;;) {
    const pending = machines.filter(m => statuses.get(m.name)?.state !== 'installed')
    if (pending.length === 0) break
    await Promise.all(pending.map(async (machine) => {
      const node = await nodeStatus(machine)
      const status = node?.apps[0]?.releases.find(r => r.id === release.id)
      notes.set(machine.name, node === undefined ? 'no answer from its control API' : status === undefined ? `has not seen the release (${node.connectedPeers} connections)` : `${status.state}: ${status.reason}; chunks ${status.chunksHeld}/${status.chunksTotal}`)
      if (status !== undefined) statuses.set(machine.name, status)
      if (status !== undefined && STATE_FAILED.has(status.state)) throw new RolloutUnfinishedError(`${machine.name} is ${status.state} ${((Date.now() - seededAt) / 1000).toFixed(0)} s after seeding: ${status.reason}; representative: ${notes.get('rep') ?? '?'}`)
      if (machine.process?.running === false) throw new RolloutUnfinishedError(`${machine.name} exited: ${machine.process.stderr.slice(-2000)}`)
    }))
    peakRssBytes = Math.max(peakRssBytes, group.rssBytes())
    checkMemory(`${pending.length} machines still to install`)
    const now = Date.now()
    if (now > deadline) {
      throw new RolloutUnfinishedError(`not every follower installed within ${init.timeoutMs} ms: ${pending.map(m => `${m.name} ${notes.get(m.name) ?? '?'}`).join('; ')}`)
    }
    if (now - lastReport > 10_000) {
      lastReport = now
      const counts = new Map<string, number>()
      for (const m of machines) counts.set(statuses.get(m.name)?.state ?? 'without the release', (counts.get(statuses.get(m.name)?.state ?? 'without the release') ?? 0) + 1)
      log(`  ${((now - seededAt) / 1000).toFixed(0)} s: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`)
    }
    await new Promise(resolve => setTimeout(resolve, POLL_INTERVAL_MS))
  }
  const seedStatus = await callControl(join(seedDir, 'data'), 'GET', '/status') as NodeStatus
  const finalStatuses = await Promise.all(machines.map(nodeStatus))
  const bitfieldsServed = [seedStatus, ...finalStatuses].reduce((sum, s) => sum + (s?.uploaded.bitfields ?? 0), 0)

  // Every follower runs the release it should: the installed payload is the vendor's.
  for (const machine of machines) {
    const installed = await readFile(join(machine.dir, 'install', 'current', PAYLOAD_FILE))
    if (createHash('sha256').update(installed).digest('hex') !== release.payloadSha256) throw new Error(`${machine.name} installed a payload that differs from the release's`)
  }

  const rep = statuses.get('rep')
  const followers = machines.filter(m => m.role === 'follower').map(m => statuses.get(m.name) as ReleaseStatus)
  const repPeer = machines[0]?.process === undefined ? '' : peerOf(machines[0].process)
  const seedPeer = seedReady.peerId
  const at = (states: ReleaseStatus[], state: keyof Timeline): number[] => states.map(s => s.at[state]).filter((t): t is number => t !== undefined)
  const gateOpenedAt = Math.min(...at(followers, 'downloading'))
  const lastDownloadedAt = Math.max(...at(followers, 'installing'))
  const lastInstalledAt = Math.max(...at(followers, 'installed'))
  const timeline = (pick: (times: number[]) => number): Timeline => {
    const out: Timeline = {}
    for (const state of ['seen', 'waiting', 'downloading', 'testing', 'installing', 'installed'] as const) {
      const times = at(followers, state)
      if (times.length > 0) out[state] = pick(times) - seededAt
    }
    return out
  }
  const repTimeline: Timeline = {}
  for (const [state, time] of Object.entries(rep?.at ?? {})) repTimeline[state as keyof Timeline] = time - seededAt

  let fromSeed = 0
  let fromRep = 0
  let total = 0
  for (const follower of followers) {
    for (const [peer, bytes] of Object.entries(follower.bytesFrom)) {
      total += bytes
      if (peer === seedPeer) fromSeed += bytes
      else if (peer === repPeer) fromRep += bytes
    }
  }
  const seedUploadedBytes = seedStatus.uploaded.bytes
  return {
    followers: init.followers,
    seededAt,
    endToEndMs: lastInstalledAt - seededAt,
    distributionMs: lastInstalledAt - gateOpenedAt,
    deliveryMs: lastDownloadedAt - gateOpenedAt,
    representative: repTimeline,
    followersFirst: timeline(times => Math.min(...times)),
    followersLast: timeline(times => Math.max(...times)),
    medianFollowerDeliveryMs: median(at(followers, 'installing')) - gateOpenedAt,
    medianFollowerInstallMs: median(at(followers, 'installed')) - gateOpenedAt,
    seedUploadedBytes,
    uploadMultiple: seedUploadedBytes / release.size,
    followerBytesFrom: total === 0
      ? { seed: 0, representative: 0, followers: 0 }
      : { seed: fromSeed / total, representative: fromRep / total, followers: (total - fromSeed - fromRep) / total },
    busyCoresDuringDistribution: init.cpu.busyCores(gateOpenedAt, lastInstalledAt),
    busyCoresBeforeGate: init.cpu.busyCores(seededAt, gateOpenedAt),
    peakRssBytes,
    bitfieldsServed,
    connectionsAtSeed: connections
  }
}

/** Removes a finished run's directories (the group has stopped its processes). */
export async function removeRun (work: string): Promise<void> {
  await rm(work, { recursive: true, force: true })
}

async function writeConfig (dir: string, fields: Record<string, unknown>): Promise<string> {
  await mkdir(dir, { recursive: true })
  const file = join(dir, 'config.json')
  await writeFile(file, JSON.stringify({ dataDir: join(dir, 'data'), listen: ['/ip4/127.0.0.1/tcp/0'], ...fields }, null, 2))
  return file
}

async function nodeStatus (machine: Machine): Promise<NodeStatus | undefined> {
  try {
    return await callControl(join(machine.dir, 'data'), 'GET', '/status') as NodeStatus
  } catch {
    // A busy node may miss one poll; the next one asks again.
    return undefined
  }
}

/**
 * Waits until every machine has MIN_CONNECTIONS connections and the swarm's
 * total has stayed put for JOIN_STABLE_MS: the machines have found each
 * other, as long-running machines would have before a release. Returns the
 * connections per machine (min, median, max). Gives up waiting (and says
 * so) after JOIN_TIMEOUT_MS: a swarm that never settles is still measured.
 */
async function waitJoined (machines: Machine[], log: (line: string) => void): Promise<[number, number, number]> {
  const need = Math.min(MIN_CONNECTIONS, machines.length)
  const began = Date.now()
  let lastTotal = -1
  let stableSince = Date.now()
  let counts: number[] = []
  while (Date.now() - began < JOIN_TIMEOUT_MS) {
    counts = await Promise.all(machines.map(async m => (await nodeStatus(m))?.connectedPeers ?? 0))
    const total = counts.reduce((a, b) => a + b, 0)
    if (total !== lastTotal) {
      lastTotal = total
      stableSince = Date.now()
    }
    if (counts.every(c => c >= need) && Date.now() - stableSince >= JOIN_STABLE_MS) {
      log(`  swarm joined in ${((Date.now() - began) / 1000).toFixed(1)} s`)
      return summary(counts)
    }
    await new Promise(resolve => setTimeout(resolve, POLL_INTERVAL_MS))
  }
  log(`  the swarm did not settle within ${JOIN_TIMEOUT_MS / 1000} s (connections min/median/max ${summary(counts).join('/')}); measuring anyway`)
  return summary(counts)
}

function checkMemory (when: string): void {
  const available = memAvailableBytes()
  if (available < MIN_AVAILABLE_MEMORY_BYTES) {
    throw new RolloutUnfinishedError(`out of memory, ${(available / 2 ** 30).toFixed(1)} GiB left with ${when}`)
  }
}

function peerOf (p: BenchProcess): string {
  for (const line of p.stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const value = JSON.parse(line) as { peerId?: string }
      if (typeof value.peerId === 'string') return value.peerId
    } catch {}
  }
  return ''
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

function summary (counts: number[]): [number, number, number] {
  const sorted = [...counts].sort((a, b) => a - b)
  return [sorted[0] ?? 0, sorted[Math.floor(sorted.length / 2)] ?? 0, sorted.at(-1) ?? 0]
}
