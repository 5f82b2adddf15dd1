/**
 * Child entry of the overlay benchmark, one role per process:
 *
 *   seed              the vendor's seed: a real Mirage node (startMirageNode,
 *                     as `mirage vendor seed` runs it) started without a
 *                     release, so machines can join before the vendor seeds;
 *                     the release is handed over later (`seed-release`)
 *   http-server       the plain-HTTP baseline's server: one file from memory,
 *                     paced by one token bucket shared by all responses
 *   http-client       one HTTP download: hashes and counts the bytes
 *   ceiling-vendor    a libp2p node (the overlay's transport stack) that
 *                     streams the file to whoever opens the ceiling protocol
 *   ceiling-receiver  a libp2p node that connects to it and reads one stream
 *
 * Talks to the parent over IPC: `ready` once started, `done` when a timed
 * transfer ends, `error` on failure. Stops on a `stop` message, and on its
 * own when the IPC channel closes (the benchmark died), so no worker outlives
 * the benchmark.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer, get } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { loadNodeConfig, startMirageNode } from '../../src/node/index.ts'
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_MAX_PARALLEL_DIALS, DEFAULT_UPGRADE_TIMEOUT_MS } from '../../src/overlay/constants.ts'
// The node's own limiter (not re-exported by src/overlay/index.ts): the HTTP
// baseline is paced by exactly the token bucket that paces the seed.
import { createUploadLimiter } from '../../src/overlay/upload-limiter.ts'
import { generateSigningKey } from '../../src/trust/index.ts'
import { openVendorDir } from '../../src/vendor/index.ts'
import type { Libp2p } from '@libp2p/interface'
import type { UploadLimiter } from '../../src/overlay/upload-limiter.ts'

/** The ceiling baseline's protocol: open a stream, receive the whole file, done. */
const CEILING_PROTOCOL = '/mirage-bench/ceiling/1.0.0'
/** Bytes per write: 1 MiB, the overlay's default chunk size, so both move the same units. */
const WRITE_BYTES = 1024 * 1024
/** Dial attempts of a ceiling receiver (a loaded vendor can time out a handshake). */
const DIAL_ATTEMPTS = 6

type Send = (message: Record<string, unknown>) => void
const send: Send = message => { if (process.connected) process.send?.(message) }

const [role = '', argsText = '{}'] = process.argv.slice(2)
const args = JSON.parse(argsText) as Record<string, unknown>
const cleanups: Array<() => Promise<void>> = []
let stopping = false

async function stop (code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  }
  process.exit(code)
}

process.on('message', (message: { type?: string }) => {
  if (message.type === 'stop') void stop(0)
})
// The parent is gone: nobody will ever stop us.
process.on('disconnect', () => { void stop(0) })
process.on('SIGTERM', () => { void stop(0) })

try {
  switch (role) {
    case 'seed': await seed(); break
    case 'http-server': await httpServer(); break
    case 'http-client': await httpClient(); break
    case 'ceiling-vendor': await ceilingVendor(); break
    case 'ceiling-receiver': await ceilingReceiver(); break
    default: throw new Error(`unknown role "${role}"`)
  }
} catch (err) {
  send({ type: 'error', message: (err as Error).stack ?? String(err) })
  await stop(1)
}

async function seed (): Promise<void> {
  const config = await loadNodeConfig(String(args.config))
  const vendor = await openVendorDir(String(args.vendorDir))
  const node = await startMirageNode({ config, seed: { vendorKey: vendor.key } })
  cleanups.push(async () => { await node.stop() })
  // The release is handed over here rather than through the control API
  // (what `mirage vendor seed` does with a running seed): same seedRelease,
  // without the control client's 15 s timeout, which a seed starved by a
  // 51-node swarm on 2 cores can exceed while it imports the chunks.
  process.on('message', (message: { type?: string, dir?: string }) => {
    if (message.type !== 'seed-release') return
    node.seedRelease(String(message.dir)).then(
      release => { send({ type: 'seeded', id: release.id }) },
      (err: unknown) => { send({ type: 'error', message: (err as Error).stack ?? String(err) }) }
    )
  })
  send({ type: 'ready', peerId: node.peerId.toString(), addresses: node.multiaddrs() })
}

async function httpServer (): Promise<void> {
  const data = await readFile(String(args.file))
  const rate = Number(args.bytesPerSecond)
  // Same bucket as the node's upload limit: GCRA with the default 1 MiB burst.
  const limiter = rate > 0 ? createUploadLimiter({ bytesPerSecond: rate }) : undefined
  let served = 0
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/artifact') {
      res.writeHead(404).end()
      return
    }
    void serve(res, data, limiter, bytes => { served += bytes }).catch(() => { res.destroy() })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(async () => {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
  })
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stats') send({ type: 'stats', served })
  })
  const address = server.address()
  send({ type: 'ready', port: typeof address === 'object' && address !== null ? address.port : 0 })
}

/** Writes `data` in WRITE_BYTES pieces, each paid for in the shared bucket, waiting for the socket to drain. */
async function serve (res: ServerResponse, data: Uint8Array, limiter: UploadLimiter | undefined, count: (bytes: number) => void): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength) })
  const closed = new AbortController()
  res.on('close', () => { closed.abort() })
  for (let offset = 0; offset < data.byteLength; offset += WRITE_BYTES) {
    const piece = data.subarray(offset, Math.min(data.byteLength, offset + WRITE_BYTES))
    await limiter?.take(piece.byteLength, closed.signal)
    count(piece.byteLength)
    if (!res.write(piece)) await once(res, 'drain', { signal: closed.signal })
  }
  res.end()
}

async function httpClient (): Promise<void> {
  send({ type: 'ready' })
  await message('go')
  const startedAt = Date.now()
  const hash = createHash('sha256')
  let bytes = 0
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    get(String(args.url), resolve).on('error', reject)
  })
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`)
  for await (const piece of res as AsyncIterable<Buffer>) {
    hash.update(piece)
    bytes += piece.byteLength
  }
  send({ type: 'done', bytes, sha256: hash.digest('hex'), startedAt, finishedAt: Date.now() })
}

async function ceilingVendor (): Promise<void> {
  const data = await readFile(String(args.file))
  const libp2p = await ceilingNode()
  let sent = 0
  await libp2p.handle(CEILING_PROTOCOL, async (stream) => {
    try {
      for (let offset = 0; offset < data.byteLength; offset += WRITE_BYTES) {
        const piece = data.subarray(offset, Math.min(data.byteLength, offset + WRITE_BYTES))
        // Backpressure: `send` says false once the stream's buffer is full.
        if (!stream.send(piece)) await stream.onDrain()
        sent += piece.byteLength
      }
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 1024 })
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stats') send({ type: 'stats', sent })
  })
  send({ type: 'ready', peerId: libp2p.peerId.toString(), addresses: libp2p.getMultiaddrs().map(ma => ma.toString()) })
}

async function ceilingReceiver (): Promise<void> {
  const libp2p = await ceilingNode()
  const vendor = multiaddr(String(args.vendor))
  send({ type: 'ready', peerId: libp2p.peerId.toString() })
  await message('connect')
  // Connected before the clock starts, like the overlay's machines.
  for (let attempt = 1; ; attempt++) {
    try {
      await libp2p.dial(vendor)
      break
    } catch (err) {
      if (attempt >= DIAL_ATTEMPTS) throw err
      await new Promise(resolve => setTimeout(resolve, 500 * attempt))
    }
  }
  send({ type: 'connected' })
  await message('go')
  const startedAt = Date.now()
  const stream = await libp2p.dialProtocol(vendor, CEILING_PROTOCOL, { signal: AbortSignal.timeout(60_000) }).catch((err: unknown) => {
    throw new Error(`opening the stream failed after ${Date.now() - startedAt} ms: ${String(err)}`, { cause: err })
  })
  const openedAt = Date.now()
  let bytes = 0
  try {
    // Noise's AEAD already authenticates every byte: counting is the whole check.
    for await (const piece of stream) bytes += piece.byteLength
  } catch (err) {
    throw new Error(`reading failed after ${bytes} bytes, ${Date.now() - openedAt} ms after the stream opened (${openedAt - startedAt} ms to open): ${String(err)}`, { cause: err })
  }
  send({ type: 'done', bytes, startedAt, openedAt, finishedAt: Date.now() })
}

/**
 * The ceiling's nodes: the overlay's transport stack exactly (TCP, Noise,
 * Yamux, the overlay's dial and upgrade budgets) and nothing a plain stream
 * does not need (no DHT, no gossip), so no design on this stack can do
 * better. One deliberate difference from createOverlayLibp2p: the
 * connection monitor does not abort connections whose ping is late. Under
 * this load a ping waits behind megabytes of stream data for longer than its
 * 5 s minimum timeout, and libp2p's default then kills the connection (and
 * the transfer) with a TimeoutError; a ceiling must not measure that.
 */
async function ceilingNode (): Promise<Libp2p> {
  const libp2p = await createLibp2p({
    privateKey: await generateSigningKey(),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { dialTimeout: DEFAULT_DIAL_TIMEOUT_MS, inboundUpgradeTimeout: DEFAULT_UPGRADE_TIMEOUT_MS, maxParallelDials: DEFAULT_MAX_PARALLEL_DIALS },
    connectionMonitor: { abortConnectionOnPingFailure: false }
  })
  cleanups.push(async () => { await libp2p.stop() })
  return libp2p
}

/** Resolves on the parent's next message of `type`. */
async function message (type: string): Promise<void> {
  await new Promise<void>(resolve => {
    const listener = (m: { type?: string }): void => {
      if (m.type !== type) return
      process.off('message', listener)
      resolve()
    }
    process.on('message', listener)
  })
}
