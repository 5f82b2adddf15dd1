/**
 * The two yardsticks of the overlay benchmark, arranged like the overlay
 * (one process per party, everything on 127.0.0.1, clients connected or
 * ready before the clock starts):
 *
 * - HTTP: a node:http server with the seed's upload limit (the same token
 *   bucket) serving the release's archive to N concurrent clients: what a
 *   vendor without an overlay does.
 * - Ceiling: one libp2p node (the overlay's own stack: TCP + Noise + Yamux)
 *   streaming the archive to N receivers over one stream each, uncapped:
 *   the best any libp2p design can do here, since each byte still has to be
 *   encrypted, framed and sent by JS (DESIGN.md, "What we measured").
 *
 * Both time from the moment the parent says "go" to the last client's last
 * byte (Date.now() in each process, same machine clock).
 */
import type { CpuSampler } from './cpu-sampler.ts'
import type { BenchProcess, ProcessGroup } from './processes.ts'
import type { BenchRelease } from './release-fixture.ts'

const READY_TIMEOUT_MS = 120_000
/** Receivers connected per round, one round per second at most: libp2p refuses > 5 inbound connections per second per host. */
const CONNECTS_PER_ROUND = 4
const CONNECT_ROUND_MS = 1_000

export interface BaselineResult {
  clients: number
  /** "go" → the last client had every byte. */
  wallMs: number
  /** Median client's time. */
  medianClientMs: number
  /** Bytes the server sent, over the artifact size. */
  uploadMultiple: number
  busyCores: number
}

interface Done { [key: string]: unknown, type: string, bytes: number, sha256?: string, startedAt: number, finishedAt: number }

export interface BaselineInit {
  release: BenchRelease
  clients: number
  group: ProcessGroup
  cpu: CpuSampler
  /** Gives up after this long from "go". */
  timeoutMs: number
  /** Called once every client is ready, just before the clock starts. */
  beforeClock: () => Promise<void>
}

/** HTTP baseline: `bytesPerSecond` shared by every response, as the seed's limit is shared by every chunk stream. */
export async function runHttpBaseline (init: BaselineInit & { bytesPerSecond: number }): Promise<BaselineResult> {
  const { release, group } = init
  const server = group.worker('http-server', 'http-server', { file: release.archiveFile, bytesPerSecond: init.bytesPerSecond })
  const { port } = await server.message<{ type: string, port: number }>('ready', READY_TIMEOUT_MS)
  const url = `http://127.0.0.1:${port}/artifact`
  const clients = Array.from({ length: init.clients }, (_v, i) => group.worker(`http-client-${i + 1}`, 'http-client', { url }))
  await Promise.all(clients.map(async c => c.message('ready', READY_TIMEOUT_MS)))

  await init.beforeClock()
  const { startedAt, done } = await timed(clients, init.timeoutMs)
  for (const d of done) {
    if (d.bytes !== release.size || d.sha256 !== release.archiveSha256) throw new Error(`an HTTP client got ${d.bytes} bytes (sha256 ${d.sha256 ?? '?'}), expected ${release.size} (${release.archiveSha256})`)
  }
  server.send({ type: 'stats' })
  const { served } = await server.message<{ type: string, served: number }>('stats', READY_TIMEOUT_MS)
  return result(init, startedAt, done, served)
}

/** Ceiling baseline: every receiver pulls the whole archive straight from one libp2p node, uncapped. */
export async function runCeilingBaseline (init: BaselineInit): Promise<BaselineResult> {
  const { release, group } = init
  const vendor = group.worker('ceiling-vendor', 'ceiling-vendor', { file: release.archiveFile })
  const ready = await vendor.message<{ type: string, peerId: string, addresses: string[] }>('ready', READY_TIMEOUT_MS)
  const address = ready.addresses.find(a => a.startsWith('/ip4/127.0.0.1/'))
  if (address === undefined) throw new Error('the ceiling vendor listens on no 127.0.0.1 address')
  const receivers = Array.from({ length: init.clients }, (_v, i) => group.worker(`ceiling-receiver-${i + 1}`, 'ceiling-receiver', { vendor: address }))
  await Promise.all(receivers.map(async r => r.message('ready', READY_TIMEOUT_MS)))
  // Connected before the clock starts, a few per second.
  for (let i = 0; i < receivers.length; i += CONNECTS_PER_ROUND) {
    const round = receivers.slice(i, i + CONNECTS_PER_ROUND)
    const began = Date.now()
    for (const r of round) r.send({ type: 'connect' })
    await Promise.all(round.map(async r => r.message('connected', READY_TIMEOUT_MS)))
    const wait = CONNECT_ROUND_MS - (Date.now() - began)
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
  }

  await init.beforeClock()
  const { startedAt, done } = await timed(receivers, init.timeoutMs)
  for (const d of done) {
    if (d.bytes !== release.size) throw new Error(`a ceiling receiver got ${d.bytes} bytes, expected ${release.size}`)
  }
  vendor.send({ type: 'stats' })
  const { sent } = await vendor.message<{ type: string, sent: number }>('stats', READY_TIMEOUT_MS)
  return result(init, startedAt, done, sent)
}

/** Says "go" to every client at once and collects their `done`. */
async function timed (clients: BenchProcess[], timeoutMs: number): Promise<{ startedAt: number, done: Done[] }> {
  const startedAt = Date.now()
  for (const c of clients) c.send({ type: 'go' })
  const done = await Promise.all(clients.map(async c => c.message<Done>('done', timeoutMs)))
  return { startedAt, done }
}

function result (init: BaselineInit, startedAt: number, done: Done[], sentBytes: number): BaselineResult {
  const finished = done.map(d => d.finishedAt - startedAt).sort((a, b) => a - b)
  const wallMs = finished.at(-1) ?? Number.NaN
  return {
    clients: init.clients,
    wallMs,
    medianClientMs: finished[Math.floor(finished.length / 2)] ?? Number.NaN,
    uploadMultiple: sentBytes / init.release.size,
    busyCores: init.cpu.busyCores(startedAt, startedAt + wallMs)
  }
}
