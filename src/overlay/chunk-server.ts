/**
 * The serving side of the chunks protocol (see chunk-protocol.ts): every
 * node serves the verified chunks it holds, which is what lets followers
 * pull an upgrade from each other instead of from the vendor (DESIGN.md,
 * "The shape": followers "keep serving the chunks to others").
 *
 * One stream carries many requests: the handler reads each under an idle
 * timeout, answers, and keeps the stream for the next one until the client
 * closes it; any malformed frame or error aborts the stream. Uploads go
 * through one token bucket shared by every stream of the node.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import { ChunkLru, digestToHex, expectedChunkLength } from '../content/index.ts'
import type { ArtifactLayout, ChunkStore } from '../content/index.ts'
import {
  CHUNKS_PROTOCOL, HAVE_HOLD_MS, MAX_REQUEST_FRAME_BYTES, bitfieldOf, countBits, decodeRequest, encodeResponse
} from './chunk-protocol.ts'
import type { ChunkRequest, ChunkResponse } from './chunk-protocol.ts'
import { createUploadLimiter } from './upload-limiter.ts'
import type { UploadLimiter } from './upload-limiter.ts'
import type { AbortOptions, Connection, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('mirage:overlay:chunk-server')

/**
 * How long a stream may sit without a request (and how long one response
 * may take to write) before the server closes it. A downloading client asks
 * for bitfields every few hundred ms, so only a finished or vanished client
 * idles this long; 30 s leaves room for a loaded 2-core machine.
 */
export const DEFAULT_SERVER_IDLE_TIMEOUT_MS = 30_000

/**
 * Chunks-protocol streams one connection may have open at once. A download
 * opens one or two per peer; a few downloads of different artifacts at once
 * stay well below this, a peer opening streams in a loop does not.
 */
export const DEFAULT_MAX_INBOUND_CHUNK_STREAMS = 16

/**
 * Request bytes a client may have queued unanswered on one stream: requests
 * are ≈ 60 bytes and clients pipeline a handful, so 64 KiB is generous while
 * bounding what a flooding client can make us buffer.
 */
export const MAX_BUFFERED_REQUEST_BYTES = 64 * 1024

/**
 * Answers prepared ahead per stream (disk read and verification of the next
 * chunk while the current one is sent). Two overlap the disk with the wire;
 * more only hold more chunks in memory (each up to MAX_CHUNK_SIZE_BYTES).
 */
export const SERVER_READ_AHEAD = 2

/**
 * Recently served chunks kept in memory: eight default-size (1 MiB) chunks,
 * enough to catch the burst of requests for a chunk a follower just got.
 */
export const DEFAULT_SERVE_CACHE_BYTES = 8 * 1024 * 1024

/**
 * A held `have` is answered within this long after the news, at a random
 * point (see #answer). bench/overlay.bench.ts, 20 followers of 64 MB, one
 * run each unless said: answering at once took 45 s to distribute, against
 * 34–37 s in five runs of the 250 ms poll it replaced; spread over 250 ms,
 * 29 s; over 500 ms, 25 s and 35 s in two runs; over 1 s, 31 s. Runs of
 * the same code differ by up to ±20 % on that machine.
 */
export const HAVE_SPREAD_MS = 500

/** What the node serves: which artifacts, and which of their chunks it holds verified. */
export interface ChunkSource {
  /**
   * The layout of an artifact the node serves, or undefined if it does not
   * know `root`. Answer it only for artifacts the node holds or is
   * downloading: downloaders read "knows the artifact" (a non-empty
   * bitfield) as "is in the swarm" when they split the seed's chunks.
   */
  layout: (root: CID) => ArtifactLayout | undefined
  /** The store holding that artifact's chunks. */
  store: (root: CID) => ChunkStore | undefined
  /** Whether chunk `index` of `root` is verified and stored (partial downloads serve what they have). */
  holds: (root: CID, index: number) => boolean
  /**
   * Resolves once the number of chunks of `root` held differs from `count`
   * (at once if it already does), or when `signal` aborts. What lets the
   * server hold a `have` that carries `wait` until there is news; a source
   * without it answers every `have` at once, which the protocol allows.
   */
  changed?: (root: CID, count: number, signal: AbortSignal) => Promise<void>
}

/** The part of libp2p's registrar the server needs (a libp2p node is one). */
export interface ChunkServerRegistrar {
  handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
  unhandle: (protocol: string, options?: AbortOptions) => Promise<void>
}

export interface ChunkServerComponents {
  registrar: ChunkServerRegistrar
}

export interface ChunkServerInit {
  /** What to serve. */
  source: ChunkSource
  /** Upload limit in bytes per second across all streams; absent, 0 or Infinity means unlimited. */
  uploadBytesPerSecond?: number
  /** Token-bucket burst for the upload limit (default one 1 MiB chunk). */
  uploadBurstBytes?: number
  /** A limiter to share with other uploads of the node; overrides `uploadBytesPerSecond`. */
  limiter?: UploadLimiter
  /** Inbound chunk streams per connection (default DEFAULT_MAX_INBOUND_CHUNK_STREAMS). */
  maxInboundStreams?: number
  /** Idle and per-write timeout per stream (default DEFAULT_SERVER_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number
  /** Bytes of recently served chunks kept in memory (default DEFAULT_SERVE_CACHE_BYTES; 0 disables). */
  cacheBytes?: number
  /** Longest a `have` with `wait` is held (default HAVE_HOLD_MS; the protocol's bound, tests shorten it). */
  haveHoldMs?: number
}

export interface ChunkServerStats {
  /** Chunk bytes sent, over all peers. */
  bytesServed: number
  /** Chunks sent. */
  chunksServed: number
  /** Bitfields sent (answers to `have`): the chatter that keeps peers' views of each other fresh. */
  bitfieldsServed: number
  /** Chunk bytes sent per remote peer id. */
  byPeer: Map<string, number>
  /** Requests answered `missing`. */
  missing: number
  /** Streams aborted on a protocol violation or error. */
  streamsAborted: number
  /** Streams open right now. */
  activeStreams: number
  /** Time chunk sends spent waiting for the upload limit, summed, in ms. */
  throttledMs: number
}

export interface ChunkServer {
  start: () => Promise<void>
  stop: () => Promise<void>
  isStarted: () => boolean
  stats: () => ChunkServerStats
}

export function createChunkServer (components: ChunkServerComponents, init: ChunkServerInit): ChunkServer {
  return new DefaultChunkServer(components, init)
}

class DefaultChunkServer implements ChunkServer {
  readonly #registrar: ChunkServerRegistrar
  readonly #source: ChunkSource
  readonly #limiter: UploadLimiter | undefined
  readonly #maxInboundStreams: number
  readonly #idleTimeoutMs: number
  readonly #haveHoldMs: number
  readonly #streams = new Set<Stream>()
  readonly #onStream: StreamHandler
  #status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  #shutdown = new AbortController()
  #bytesServed = 0
  #chunksServed = 0
  #bitfieldsServed = 0
  #missing = 0
  #streamsAborted = 0
  readonly #byPeer = new Map<string, number>()
  /** Verified chunks by hex digest. */
  readonly #cache: ChunkLru
  /** Reads in progress, so concurrent requests for one chunk read it once. */
  readonly #reading = new Map<string, Promise<Uint8Array>>()

  constructor (components: ChunkServerComponents, init: ChunkServerInit) {
    this.#registrar = components.registrar
    this.#source = init.source
    const rate = init.uploadBytesPerSecond
    this.#limiter = init.limiter ?? (rate !== undefined && rate > 0 && Number.isFinite(rate)
      ? createUploadLimiter({ bytesPerSecond: rate, burstBytes: init.uploadBurstBytes })
      : undefined)
    this.#maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_CHUNK_STREAMS
    this.#idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS
    this.#cache = new ChunkLru(init.cacheBytes ?? DEFAULT_SERVE_CACHE_BYTES)
    this.#haveHoldMs = Math.min(init.haveHoldMs ?? HAVE_HOLD_MS, HAVE_HOLD_MS)
    this.#onStream = (stream, connection) => this.#handle(stream, connection)
  }

  isStarted (): boolean {
    return this.#status === 'started'
  }

  async start (): Promise<void> {
    if (this.#status !== 'stopped') return
    this.#status = 'starting'
    this.#shutdown = new AbortController()
    try {
      await this.#registrar.handle(CHUNKS_PROTOCOL, this.#onStream, { maxInboundStreams: this.#maxInboundStreams })
    } catch (err) {
      this.#status = 'stopped'
      throw err
    }
    this.#status = 'started'
  }

  async stop (): Promise<void> {
    if (this.#status !== 'started') return
    this.#status = 'stopping'
    this.#cache.clear()
    try {
      await this.#registrar.unhandle(CHUNKS_PROTOCOL)
    } finally {
      const reason = new Error('chunk server stopped')
      this.#shutdown.abort(reason)
      for (const stream of this.#streams) stream.abort(reason)
      this.#streams.clear()
      this.#status = 'stopped'
    }
  }

  stats (): ChunkServerStats {
    return {
      bytesServed: this.#bytesServed,
      chunksServed: this.#chunksServed,
      bitfieldsServed: this.#bitfieldsServed,
      byPeer: new Map(this.#byPeer),
      missing: this.#missing,
      streamsAborted: this.#streamsAborted,
      activeStreams: this.#streams.size,
      throttledMs: this.#limiter?.stats().waitedMs ?? 0
    }
  }

  async #handle (stream: Stream, connection: Connection): Promise<void> {
    if (this.#status !== 'started') {
      stream.abort(new Error('chunk server is not running'))
      return
    }
    const peer = connection.remotePeer.toString()
    this.#streams.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES, maxBufferSize: MAX_BUFFERED_REQUEST_BYTES })
    // Answers are prepared up to SERVER_READ_AHEAD deep and written in
    // request order: the next chunk is read from disk and verified while the
    // previous one is still being sent, so the link does not idle per chunk.
    let writes: Promise<void> = Promise.resolve()
    let preparing = 0
    let slotFreed: (() => void) | undefined
    let failure: unknown
    // Ends a held `have` when the stream goes.
    const ended = new AbortController()
    try {
      // Bounded by the client: each pass waits at most the idle timeout for
      // a request, and the stream ends when the client closes it.
      while (failure === undefined) {
        while (preparing >= SERVER_READ_AHEAD && failure === undefined) {
          await new Promise<void>((resolve) => { slotFreed = resolve })
        }
        if (failure !== undefined) break
        const idle = AbortSignal.timeout(this.#idleTimeoutMs)
        let frame
        try {
          frame = await lp.read({ signal: AbortSignal.any([idle, this.#shutdown.signal]) })
        } catch (err) {
          if (isEndOfStream(err, stream)) break
          if (idle.aborted && failure === undefined) {
            log('closing idle chunk stream from %s', peer)
            break
          }
          throw err
        }
        const request = decodeRequest(frame)
        const answer = this.#answer(request, ended.signal)
        answer.catch(() => {})
        preparing++
        writes = writes.then(async () => {
          if (failure !== undefined) return
          const response = await answer
          await lp.write(encodeResponse(response), { signal: AbortSignal.any([AbortSignal.timeout(this.#idleTimeoutMs), this.#shutdown.signal]) })
          if (response.t === 'chunk') this.#count(peer, response.bytes.byteLength)
          else if (response.t === 'have') this.#bitfieldsServed++
        }).catch((err: unknown) => {
          failure ??= err
          // Wakes a read waiting for the next request.
          stream.abort(err instanceof Error ? err : new Error(String(err)))
        }).finally(() => {
          preparing--
          slotFreed?.()
          slotFreed = undefined
        })
      }
      // No more requests: a held `have` answers now rather than keep the stream.
      ended.abort()
      await writes
      if (failure !== undefined) throw failure
      await stream.close({ signal: AbortSignal.timeout(this.#idleTimeoutMs) })
    } catch (err) {
      failure ??= err
      this.#streamsAborted++
      log('aborting chunk stream from %s: %s', peer, (failure as Error)?.message)
      stream.abort(failure instanceof Error ? failure : new Error(String(failure)))
    } finally {
      ended.abort()
      this.#streams.delete(stream)
    }
  }

  async #answer (request: ChunkRequest, ended: AbortSignal): Promise<ChunkResponse> {
    const source = this.#source
    const { root } = request
    const layout = source.layout(root)
    if (request.t === 'have') {
      if (layout === undefined) return { t: 'have', root, bits: new Uint8Array(0) }
      const bitsNow = (): Uint8Array => bitfieldOf(layout.chunks.length, (index) => source.holds(root, index))
      const bits = bitsNow()
      if (request.wait === undefined || source.changed === undefined || countBits(bits) !== request.wait) return { t: 'have', root, bits }
      // Nothing new for this client yet: hold the answer until there is.
      const hold = AbortSignal.any([AbortSignal.timeout(this.#haveHoldMs), this.#shutdown.signal, ended])
      await source.changed(root, request.wait, hold)
      // Then answer after a random part of HAVE_SPREAD_MS, not at once: every
      // client waiting here would otherwise learn of the new chunk at the
      // same instant and ask this node alone for it (rarest first), while
      // the chunks others gained meanwhile go unasked.
      if (!hold.aborted) await sleep(Math.random() * HAVE_SPREAD_MS, undefined, { signal: hold }).catch(() => {})
      return { t: 'have', root, bits: bitsNow() }
    }
    const { index } = request
    const missing: ChunkResponse = { t: 'missing', index }
    const digest = layout?.chunks[index]
    const store = source.store(root)
    if (layout === undefined || digest === undefined || store === undefined || !source.holds(root, index)) {
      this.#missing++
      return missing
    }
    let bytes: Uint8Array
    try {
      bytes = await this.#read(store, digest)
    } catch (err) {
      log.error('cannot serve chunk %d of %s: %e', index, root, err)
      this.#missing++
      return missing
    }
    if (bytes.byteLength !== expectedChunkLength(layout, index)) {
      this.#missing++
      return missing
    }
    await this.#limiter?.take(bytes.byteLength, this.#shutdown.signal)
    return { t: 'chunk', index, bytes }
  }

  /**
   * A chunk's verified bytes: from the cache, or read from the store (which
   * verifies on read, so a chunk corrupted on disk is never served) and
   * cached. Followers ask a new holder for the chunks it just got at about
   * the same time (rarest first), so a few chunks of cache spare most disk
   * reads and re-hashes (≈ 1 ms of CPU per MiB, measured).
   */
  async #read (store: ChunkStore, digest: Uint8Array): Promise<Uint8Array> {
    if (this.#cache.maxBytes <= 0) return store.get(digest)
    const key = digestToHex(digest)
    const cached = this.#cache.get(key)
    if (cached !== undefined) return cached
    let reading = this.#reading.get(key)
    if (reading === undefined) {
      reading = store.get(digest)
      this.#reading.set(key, reading)
      reading.then((bytes) => { this.#cache.set(key, bytes) }, () => {}).finally(() => { this.#reading.delete(key) })
    }
    return reading
  }

  #count (peer: string, bytes: number): void {
    this.#bytesServed += bytes
    this.#chunksServed++
    this.#byPeer.set(peer, (this.#byPeer.get(peer) ?? 0) + bytes)
  }
}

/** The client closed its end between requests: the normal end of a session. */
function isEndOfStream (err: unknown, stream: Stream): boolean {
  return (err as Error)?.name === 'UnexpectedEOFError' && stream.remoteWriteStatus !== 'writable'
}
