/**
 * Downloads one artifact's chunks from many peers at once: the I/O around
 * the pure ChunkScheduler (chunk-scheduler.ts).
 *
 * A follower asks every candidate for its bitfield and asks again every few
 * hundred ms (peers that are downloading gain chunks, which is what makes
 * followers serve each other), keeps one pipelined stream per peer, takes
 * chunks rarest-first, verifies each one through the chunk store before it
 * counts, and resumes from whatever the store already holds. The vendor's
 * seed (`lastResort`) is asked only for chunks nobody else can give
 * (DESIGN.md, "The shape": nothing in the steady state needs the vendor).
 *
 * Failures are bounded: a timeout or broken stream retries the chunk
 * elsewhere and backs the peer off (dropped after MAX_PEER_STRIKES); bad
 * bytes or an invalid frame drop the peer at once; each chunk has
 * `maxAttemptsPerChunk` tries; and a download that can make no progress for
 * `stallTimeoutMs` fails naming the chunks nobody holds.
 */
import { logger } from '@libp2p/logger'
import { artifactRoot, expectedChunkLength } from '../content/index.ts'
import type { ArtifactLayout, ChunkStore } from '../content/index.ts'
import { HAVE_HOLD_MS, MAX_SMALL_RESPONSE_FRAME_BYTES, RESPONSE_OVERHEAD_BYTES, countBits, isValidBitfield } from '../overlay/chunk-protocol.ts'
import type { ChunkResponse, HaveRequest } from '../overlay/chunk-protocol.ts'
import { ChunkChannel } from './chunk-channel.ts'
import type { ChunkDialer } from './chunk-channel.ts'
import { ChunkScheduler } from './chunk-scheduler.ts'
import {
  CHUNK_RETRY_BACKOFF_MAX_MS, CHUNK_RETRY_BACKOFF_MS, CLOSE_TIMEOUT_MS, DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_HAVE_REFRESH_MS,
  DEFAULT_JOIN_GRACE_MS, DEFAULT_MAX_ATTEMPTS_PER_CHUNK, DEFAULT_MAX_IN_FLIGHT_BYTES, DEFAULT_MAX_IN_FLIGHT_LAST_RESORT, DEFAULT_MAX_IN_FLIGHT_PER_PEER, DEFAULT_MAX_PEERS,
  DEFAULT_PEER_REFRESH_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SHARE_GRACE_MS, DEFAULT_STALL_TIMEOUT_MS, DEFAULT_STREAMS_PER_PEER,
  MAX_BUFFERED_CHUNK_BYTES, MAX_CONCURRENT_DIALS, MAX_MISSING_ANSWERS_PER_PEER, MAX_HAVE_REFRESH_MS, MAX_PEER_STRIKES, MIN_HAVE_REFRESH_MS,
  MIN_PEER_REFRESH_MS, PEER_BACKOFF_MAX_MS, PEER_BACKOFF_MS, RESUME_CHECK_CONCURRENCY
} from './constants.ts'
import { ChunkAttemptsExhaustedError, ChunkChannelError, DownloadInitError, DownloadStalledError } from './errors.ts'
import type { ChunkChannelErrorReason } from './errors.ts'
import type { CID } from 'multiformats/cid'

const log = logger('mirage:fetch:download')

/** What the download tells `peers()` about its need for more holders. */
export interface PeersHint {
  /**
   * Some chunk is still needed and a known peer could take a request, yet
   * none of the known peers advertises a chunk to ask for: only new holders
   * help. False while the known peers keep the download busy, when a costly
   * search (a DHT query reaches ~20 peers) would find nothing it needs.
   */
  starved: boolean
}

export interface DownloadInit {
  /** Root CID of the artifact (from the signed manifest). */
  root: CID
  /** The artifact's layout; must hash to `root`. */
  layout: ArtifactLayout
  /** Where verified chunks go; chunks already there (verified on read) are not fetched again. */
  store: ChunkStore
  /** Opens chunks-protocol streams (`libp2pChunkDialer(libp2p)` on a node). */
  dialer: ChunkDialer
  /**
   * Candidate peer ids (the node merges DHT providers of the root and
   * connected peers). Called at the start, every `peerRefreshMs`, and sooner
   * when there is nothing to do.
   */
  peers: (hint: PeersHint) => Promise<string[]> | string[]
  /**
   * Peer ids of the vendor/seed: asked only for chunks no other candidate
   * holds, or whose other holders all failed them, so the vendor uploads
   * about one copy however many machines download.
   */
  lastResort?: string[]
  /**
   * This node's own peer id: never treated as a candidate, and used to split
   * the seed's chunks among followers starting together (see ChunkScheduler).
   */
  self?: string
  /** Requests kept in flight per regular peer (default DEFAULT_MAX_IN_FLIGHT_PER_PEER). */
  maxInFlightPerPeer?: number
  /** Chunk bytes requested and not yet received, over all peers (default DEFAULT_MAX_IN_FLIGHT_BYTES, at least one chunk). */
  maxInFlightBytes?: number
  /** Requests kept in flight per last-resort peer (default DEFAULT_MAX_IN_FLIGHT_LAST_RESORT). */
  maxInFlightLastResort?: number
  /** Streams per peer the requests are spread over (default DEFAULT_STREAMS_PER_PEER). */
  streamsPerPeer?: number
  /** How long the oldest outstanding request to a peer may go unanswered (default DEFAULT_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number
  /** Fail after this long without possible progress (default DEFAULT_STALL_TIMEOUT_MS). */
  stallTimeoutMs?: number
  /** Re-ask each peer for its bitfield this often (default DEFAULT_HAVE_REFRESH_MS). */
  haveRefreshMs?: number
  /** Call `peers()` again this often (default DEFAULT_PEER_REFRESH_MS). */
  peerRefreshMs?: number
  /** Tries per chunk before the download fails (default DEFAULT_MAX_ATTEMPTS_PER_CHUNK). */
  maxAttemptsPerChunk?: number
  /** Regular candidates talked to at once (default DEFAULT_MAX_PEERS). */
  maxPeers?: number
  signal?: AbortSignal
  onProgress?: (event: DownloadProgress) => void
}

export interface DownloadResult {
  /** Chunk bytes stored, per peer they came from. */
  bytesByPeer: Map<string, number>
  /** Chunks fetched and stored by this download. */
  chunksFetched: number
  /** Chunks already in the store at the start (verified). */
  chunksAlreadyHeld: number
  /** Peers dropped during the download (bad chunks, invalid frames, unresponsive). */
  droppedPeers: string[]
}

/** Why one attempt at a chunk failed. */
export type ChunkFailureReason = ChunkChannelErrorReason | 'bad-chunk'

/** Why a peer was dropped from the download. */
export type PeerDropReason =
  /** Sent bytes that do not match the manifest (wrong hash or length). */
  | 'bad-chunk'
  /** Sent a frame that is invalid or does not answer what was asked. */
  | 'protocol'
  /** Timed out, reset or refused the stream MAX_PEER_STRIKES times in a row. */
  | 'unresponsive'
  /** Kept answering `missing` for chunks it advertised. */
  | 'lying'

export type DownloadProgress =
  | { type: 'resumed', alreadyHeld: number, total: number }
  | { type: 'peer-added', peer: string, lastResort: boolean }
  | { type: 'chunk-stored', index: number, from: string, bytes: number }
  | { type: 'chunk-failed', index: number, peer: string, reason: ChunkFailureReason, attempts: number, message: string }
  | { type: 'peer-dropped', peer: string, reason: PeerDropReason, message: string }

/** Fetches every chunk of `init.root` not yet in `init.store`; see the module comment. */
export async function downloadArtifact (init: DownloadInit): Promise<DownloadResult> {
  const download = new Download(init)
  return download.run()
}

interface Session {
  readonly id: string
  readonly lastResort: boolean
  /**
   * The stream bitfields are asked on. Separate from the chunk streams so a
   * `have` answer never waits behind megabytes of pipelined chunks: stale
   * bitfields are what send followers to the seed for chunks a peer already has.
   */
  control: ChunkChannel | undefined
  controlOpening: boolean
  /** Streams chunks are requested on (opened once the peer has advertised something). */
  channels: ChunkChannel[]
  opening: number
  /** The peer's last bitfield had some chunk set. */
  hasChunks: boolean
  haveOutstanding: boolean
  lastHaveAt: number
  nextHaveAt: number
  /** Chunks the peer's last bitfield had set (-1: none asked yet). */
  haveCount: number
  /** The peer's last bitfield was not empty: it knows the artifact, so it can hold a `have` until it gains a chunk. */
  knowsArtifact: boolean
  /** The wait before this peer is asked again: the refresh interval, doubled while its bitfield stays the same (MAX_HAVE_REFRESH_MS). */
  haveIntervalMs: number
  /** Consecutive stream failures (reset by any good answer). */
  strikes: number
  /** No new dial or request before this time. */
  notBefore: number
  missingAnswers: number
  dropped: boolean
  /** Channel failures already counted against this peer. */
  readonly seenFailures: WeakSet<Error>
}

class Download {
  readonly #init: DownloadInit
  readonly #layout: ArtifactLayout
  readonly #store: ChunkStore
  readonly #scheduler: ChunkScheduler
  readonly #sessions = new Map<string, Session>()
  readonly #maxInFlightPerPeer: number
  readonly #streamsPerPeer: number
  readonly #requestTimeoutMs: number
  readonly #stallTimeoutMs: number
  readonly #haveRefreshMs: number
  /** Whether the last pass found nothing to ask the known peers for (see PeersHint). */
  #starved = false
  readonly #peerRefreshMs: number
  readonly #maxPeers: number
  readonly #maxResponseBytes: number
  readonly #bufferBudget: number
  readonly #maxInFlight: number
  readonly #controller = new AbortController()
  readonly #pendingStores = new Set<Promise<void>>()
  readonly #bytesByPeer = new Map<string, number>()
  readonly #dropped: string[] = []
  #chunksFetched = 0
  #chunksAlreadyHeld = 0
  #dialsInProgress = 0
  #refreshingPeers = false
  #lastPeerRefreshAt = -Infinity
  #nextPeerRefreshAt = 0
  #stalledSince: number | undefined
  #fatal: Error | undefined
  #kicked = false
  #wake: (() => void) | undefined

  constructor (init: DownloadInit) {
    this.#init = init
    this.#layout = init.layout
    this.#store = init.store
    this.#maxInFlightPerPeer = positive(init.maxInFlightPerPeer, DEFAULT_MAX_IN_FLIGHT_PER_PEER)
    this.#streamsPerPeer = Math.min(positive(init.streamsPerPeer, DEFAULT_STREAMS_PER_PEER), this.#maxInFlightPerPeer)
    this.#requestTimeoutMs = positive(init.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS)
    this.#stallTimeoutMs = positive(init.stallTimeoutMs, DEFAULT_STALL_TIMEOUT_MS)
    this.#haveRefreshMs = positive(init.haveRefreshMs, DEFAULT_HAVE_REFRESH_MS)
    this.#peerRefreshMs = positive(init.peerRefreshMs, DEFAULT_PEER_REFRESH_MS)
    this.#maxPeers = positive(init.maxPeers, DEFAULT_MAX_PEERS)
    this.#scheduler = new ChunkScheduler({
      chunkCount: init.layout.chunks.length,
      maxInFlightPerPeer: this.#maxInFlightPerPeer,
      maxInFlightLastResort: positive(init.maxInFlightLastResort, DEFAULT_MAX_IN_FLIGHT_LAST_RESORT),
      maxAttemptsPerChunk: positive(init.maxAttemptsPerChunk, DEFAULT_MAX_ATTEMPTS_PER_CHUNK),
      retryBackoffMs: CHUNK_RETRY_BACKOFF_MS,
      retryBackoffMaxMs: CHUNK_RETRY_BACKOFF_MAX_MS,
      shareGraceMs: DEFAULT_SHARE_GRACE_MS,
      joinGraceMs: DEFAULT_JOIN_GRACE_MS,
      self: init.self
    })
    this.#maxResponseBytes = init.layout.chunkSize + RESPONSE_OVERHEAD_BYTES
    this.#bufferBudget = Math.max(1, Math.floor(MAX_BUFFERED_CHUNK_BYTES / init.layout.chunkSize))
    this.#maxInFlight = Math.max(1, Math.floor(positive(init.maxInFlightBytes, DEFAULT_MAX_IN_FLIGHT_BYTES) / init.layout.chunkSize))
  }

  async run (): Promise<DownloadResult> {
    const { root, layout, signal } = this.#init
    // Also checks the layout itself (ContentError if inconsistent).
    const matches: boolean = artifactRoot(layout).equals(root)
    if (!matches) {
      throw new DownloadInitError(`the layout given does not hash to the root ${root.toString()}`)
    }
    signal?.throwIfAborted()
    const onAbort = (): void => { this.#kick() }
    signal?.addEventListener('abort', onAbort)
    try {
      await this.#resume()
      this.#emit({ type: 'resumed', alreadyHeld: this.#chunksAlreadyHeld, total: layout.chunks.length })
      for (const peer of this.#init.lastResort ?? []) this.#addSession(peer, true)
      while (!this.#scheduler.complete) {
        signal?.throwIfAborted()
        if (this.#fatal !== undefined) throw this.#fatal
        const now = performance.now()
        this.#tick(now)
        if (this.#fatal !== undefined) throw this.#fatal
        if (this.#scheduler.complete) break
        await this.#sleep(this.#nextWakeAt(now) - now)
      }
      await this.#closeAll()
      log('fetched %d chunks of %s (%d already held) from %d peers', this.#chunksFetched, root, this.#chunksAlreadyHeld, this.#bytesByPeer.size)
      return {
        bytesByPeer: new Map(this.#bytesByPeer),
        chunksFetched: this.#chunksFetched,
        chunksAlreadyHeld: this.#chunksAlreadyHeld,
        droppedPeers: [...this.#dropped]
      }
    } catch (err) {
      this.#abortAll(new ChunkChannelError('closed', '', 'download ended'))
      throw err
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.#controller.abort()
      // Let stores in progress finish, so nothing writes after we return.
      await Promise.allSettled([...this.#pendingStores])
    }
  }

  // -- the loop ---------------------------------------------------------------

  /** One pass: refresh peers and bitfields, open streams, hand out requests, watch for a stall. */
  #tick (now: number): void {
    const scheduler = this.#scheduler
    if (!this.#refreshingPeers && now >= this.#nextPeerRefreshAt) this.#refreshPeers(now)

    for (const session of this.#sessions.values()) {
      if (session.dropped) continue
      session.channels = session.channels.filter((channel) => channel.usable || channel.pending > 0)
      if (session.control !== undefined && !session.control.usable && session.control.pending === 0) session.control = undefined
      const control = session.control?.usable === true ? session.control : undefined
      const usable = session.channels.filter((channel) => channel.usable)
      if (session.notBefore <= now) {
        if (control === undefined && !session.controlOpening && this.#dialsInProgress < MAX_CONCURRENT_DIALS) this.#open(session, 'control')
        if (control !== undefined && session.hasChunks) {
          let wanted = this.#streamsPerPeer - usable.length - session.opening
          while (wanted-- > 0 && this.#dialsInProgress < MAX_CONCURRENT_DIALS) this.#open(session, 'chunks')
        }
      }
      scheduler.setReady(session.id, usable.length > 0)
      if (control !== undefined && !session.haveOutstanding && now >= session.nextHaveAt) this.#askHave(session, control, now)
    }

    const budget = Math.min(this.#bufferBudget - scheduler.inFlight - scheduler.storing, this.#maxInFlight - scheduler.inFlight)
    const { assignments, starved } = scheduler.assign(now, budget)
    for (const { peer, index } of assignments) this.#fetch(peer, index)
    // Starved with nothing in flight: the known peers have nothing for us.
    this.#starved = starved || (scheduler.inFlight === 0 && scheduler.storing === 0 && assignments.length === 0 && !scheduler.complete)

    if (starved) {
      // Nothing matched a free peer: bitfields or the peer list are stale.
      for (const session of this.#sessions.values()) {
        session.nextHaveAt = Math.min(session.nextHaveAt, session.lastHaveAt + Math.max(MIN_HAVE_REFRESH_MS, session.haveIntervalMs / 2))
      }
      this.#nextPeerRefreshAt = Math.min(this.#nextPeerRefreshAt, this.#lastPeerRefreshAt + MIN_PEER_REFRESH_MS)
    }

    if (scheduler.inFlight === 0 && scheduler.storing === 0 && assignments.length === 0) {
      this.#stalledSince ??= now
      const stalledMs = now - this.#stalledSince
      if (stalledMs >= this.#stallTimeoutMs) {
        const unavailable = scheduler.unavailable()
        const remaining = scheduler.remaining()
        this.#fatal = new DownloadStalledError(unavailable.length > 0 ? unavailable : remaining, remaining.length, stalledMs)
      }
    } else {
      this.#stalledSince = undefined
    }
  }

  /** When the loop must run again at the latest, absent events. */
  #nextWakeAt (now: number): number {
    let next = now + this.#stallTimeoutMs
    if (this.#stalledSince !== undefined) next = Math.min(next, this.#stalledSince + this.#stallTimeoutMs)
    if (!this.#refreshingPeers) next = Math.min(next, this.#nextPeerRefreshAt)
    for (const session of this.#sessions.values()) {
      if (session.dropped) continue
      if (session.notBefore > now) next = Math.min(next, session.notBefore)
      if (!session.haveOutstanding && session.control?.usable === true) next = Math.min(next, session.nextHaveAt)
    }
    next = Math.min(next, this.#scheduler.nextWakeAt(now) ?? Infinity)
    // Never spin: anything due now was acted on in this tick.
    return Math.max(next, now + 1)
  }

  #kick (): void {
    this.#kicked = true
    this.#wake?.()
  }

  async #sleep (ms: number): Promise<void> {
    if (!this.#kicked) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          this.#wake = undefined
          resolve()
        }
        const timer = setTimeout(done, ms)
        this.#wake = done
      })
    }
    this.#kicked = false
  }

  // -- peers ------------------------------------------------------------------

  #refreshPeers (now: number): void {
    this.#refreshingPeers = true
    this.#lastPeerRefreshAt = now
    this.#nextPeerRefreshAt = now + this.#peerRefreshMs
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error('peers() did not answer in time')) }, this.#peerRefreshMs + this.#requestTimeoutMs)
    })
    Promise.race([Promise.resolve().then(() => this.#init.peers({ starved: this.#starved })), timeout])
      .then((peers) => {
        for (const peer of peers) this.#addSession(peer, false)
      }, (err: unknown) => {
        log.error('listing candidate peers failed: %e', err)
      })
      .finally(() => {
        clearTimeout(timer)
        this.#refreshingPeers = false
        this.#kick()
      })
  }

  #addSession (id: string, lastResort: boolean): void {
    if (typeof id !== 'string' || id === '' || id === this.#init.self || this.#sessions.has(id)) return
    if (!lastResort) {
      let regular = 0
      for (const session of this.#sessions.values()) if (!session.lastResort && !session.dropped) regular++
      if (regular >= this.#maxPeers) return
    }
    this.#sessions.set(id, {
      id,
      lastResort,
      control: undefined,
      controlOpening: false,
      channels: [],
      opening: 0,
      hasChunks: false,
      haveOutstanding: false,
      lastHaveAt: -Infinity,
      nextHaveAt: 0,
      haveCount: -1,
      knowsArtifact: false,
      haveIntervalMs: this.#haveRefreshMs,
      strikes: 0,
      notBefore: 0,
      missingAnswers: 0,
      dropped: false,
      seenFailures: new WeakSet()
    })
    this.#scheduler.addPeer(id, { lastResort, now: performance.now() })
    this.#emit({ type: 'peer-added', peer: id, lastResort })
    this.#kick()
  }

  #open (session: Session, kind: 'control' | 'chunks'): void {
    if (kind === 'control') session.controlOpening = true
    else session.opening++
    this.#dialsInProgress++
    const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT_MS)])
    ChunkChannel.open(this.#init.dialer, kind === 'control'
      ? { peer: session.id, maxResponseBytes: MAX_SMALL_RESPONSE_FRAME_BYTES, maxOutstanding: 1, requestTimeoutMs: this.#requestTimeoutMs + HAVE_HOLD_MS }
      : {
          peer: session.id,
          maxResponseBytes: this.#maxResponseBytes,
          maxOutstanding: Math.ceil(this.#maxInFlightPerPeer / this.#streamsPerPeer),
          requestTimeoutMs: this.#requestTimeoutMs
        }, { signal })
      .then((channel) => {
        if (session.dropped || this.#controller.signal.aborted) {
          void channel.close()
          return
        }
        if (kind === 'control') session.control = channel
        else session.channels.push(channel)
      }, (err: unknown) => {
        this.#onChannelFailure(session, err)
      })
      .finally(() => {
        if (kind === 'control') session.controlOpening = false
        else session.opening--
        this.#dialsInProgress--
        this.#kick()
      })
  }

  /**
   * Counts a failed stream against its peer once: an invalid frame drops
   * the peer; a timeout, reset or failed dial backs it off, and drops it
   * after MAX_PEER_STRIKES in a row.
   */
  #onChannelFailure (session: Session, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    if (session.dropped || session.seenFailures.has(error)) return
    session.seenFailures.add(error)
    const reason = error.name === 'ChunkChannelError' ? (error as ChunkChannelError).reason : 'stream'
    if (reason === 'closed') return
    if (reason === 'protocol') {
      this.#dropPeer(session, 'protocol', error.message)
      return
    }
    // One strike per backoff period: a connection that dies takes all its
    // streams (and their requests) with it, which is one failure, not several.
    const now = performance.now()
    if (session.notBefore > now) return
    session.strikes++
    if (session.strikes >= MAX_PEER_STRIKES) {
      this.#dropPeer(session, 'unresponsive', `${session.strikes} failures in a row, last: ${error.message}`)
      return
    }
    const until = now + Math.min(PEER_BACKOFF_MAX_MS, PEER_BACKOFF_MS * 2 ** (session.strikes - 1))
    session.notBefore = until
    this.#scheduler.backOff(session.id, until)
    log('backing off %s after %s: %s', session.id, reason, error.message)
  }

  #dropPeer (session: Session, reason: PeerDropReason, message: string): void {
    if (session.dropped) return
    session.dropped = true
    this.#scheduler.dropPeer(session.id)
    this.#dropped.push(session.id)
    log('dropping %s (%s): %s', session.id, reason, message)
    this.#emit({ type: 'peer-dropped', peer: session.id, reason, message })
    // Outstanding requests fail with `closed` and go back to the pool.
    const err = new ChunkChannelError('closed', session.id, `${session.id} was dropped: ${reason}`)
    for (const channel of session.channels) channel.abort(err)
    session.control?.abort(err)
    session.channels = []
    session.control = undefined
    this.#kick()
  }

  // -- requests ---------------------------------------------------------------

  #askHave (session: Session, channel: ChunkChannel, now: number): void {
    session.haveOutstanding = true
    session.lastHaveAt = now
    session.nextHaveAt = now + session.haveIntervalMs
    // A long poll once the peer knows the artifact: it answers when it
    // gains a chunk (or after HAVE_HOLD_MS), so news comes at once and a
    // quiet peer costs nearly nothing. Not before: becoming known with no
    // chunk yet changes no count, yet is news (a new swarm member).
    const request: HaveRequest = session.knowsArtifact
      ? { t: 'have', root: this.#init.root, wait: session.haveCount }
      : { t: 'have', root: this.#init.root }
    channel.request(request).then((response) => {
      session.haveOutstanding = false
      this.#safely(() => {
        if (session.dropped || response.t !== 'have') return
        if (!isValidBitfield(response.bits, this.#layout.chunks.length)) {
          this.#dropPeer(session, 'protocol', `bitfield of ${response.bits.byteLength} bytes does not fit ${this.#layout.chunks.length} chunks`)
          return
        }
        // A peer holding every chunk has nothing new to tell: asking it
        // every few hundred ms only costs both sides (a starved scheduler
        // still asks again, see #tick).
        const count = countBits(response.bits)
        const holdsAll = count === this.#layout.chunks.length
        // A peer whose bitfield did not change and that did not hold the
        // request (it does not know the artifact, or does not hold
        // requests) is asked less and less often (up to
        // MAX_HAVE_REFRESH_MS); otherwise at the full rate, which also
        // spaces a busy peer's answers.
        const answeredAt = performance.now()
        const held = answeredAt - now >= HAVE_HOLD_MS / 2
        session.haveIntervalMs = count === session.haveCount && !held ? Math.min(MAX_HAVE_REFRESH_MS, session.haveIntervalMs * 2) : this.#haveRefreshMs
        session.knowsArtifact = response.bits.byteLength > 0
        session.haveCount = count
        session.nextHaveAt = holdsAll ? Infinity : answeredAt + session.haveIntervalMs
        // Any good answer shows the peer works (a peer with nothing for us
        // only ever answers bitfields).
        session.strikes = 0
        session.hasChunks ||= count > 0
        this.#scheduler.setHave(session.id, response.bits, performance.now())
      })
    }, (err: unknown) => {
      session.haveOutstanding = false
      this.#safely(() => { this.#onChannelFailure(session, err) })
    })
  }

  #fetch (peer: string, index: number): void {
    const session = this.#sessions.get(peer)
    let channel: ChunkChannel | undefined
    for (const candidate of session?.channels ?? []) {
      if (candidate.usable && (channel === undefined || candidate.pending < channel.pending)) channel = candidate
    }
    if (session === undefined || channel === undefined) {
      // The peer's stream went away since its bitfield arrived: retry elsewhere.
      this.#failChunk(peer, index, 'closed', `no open stream to ${peer}`)
      if (session !== undefined) this.#scheduler.backOff(peer, performance.now() + PEER_BACKOFF_MS)
      return
    }
    channel.request({ t: 'get', root: this.#init.root, index }).then((response) => {
      this.#safely(() => { this.#onChunk(session, index, response) })
    }, (err: unknown) => {
      this.#safely(() => {
        const reason = (err as Error)?.name === 'ChunkChannelError' ? (err as ChunkChannelError).reason : 'stream'
        this.#failChunk(peer, index, reason, (err as Error)?.message ?? String(err))
        this.#onChannelFailure(session, err)
      })
    })
  }

  #onChunk (session: Session, index: number, response: ChunkResponse): void {
    const scheduler = this.#scheduler
    if (response.t === 'missing') {
      scheduler.missing(session.id, index)
      session.missingAnswers++
      if (session.missingAnswers > MAX_MISSING_ANSWERS_PER_PEER) {
        this.#dropPeer(session, 'lying', `answered 'missing' ${session.missingAnswers} times for chunks it advertised`)
      }
      this.#kick()
      return
    }
    if (response.t !== 'chunk') return
    const want = expectedChunkLength(this.#layout, index)
    if (response.bytes.byteLength !== want) {
      const message = `chunk ${index} is ${response.bytes.byteLength} bytes, the layout needs ${want}`
      this.#failChunk(session.id, index, 'bad-chunk', message)
      this.#dropPeer(session, 'bad-chunk', message)
      return
    }
    session.strikes = 0
    scheduler.received(session.id, index)
    const digest = this.#layout.chunks[index] as Uint8Array
    // Not fsync'd: every reader checks a chunk against its digest (ChunkPutOptions).
    const stored = this.#store.put(digest, response.bytes, { durable: false }).then(() => {
      this.#safely(() => {
        scheduler.stored(session.id, index)
        this.#chunksFetched++
        this.#bytesByPeer.set(session.id, (this.#bytesByPeer.get(session.id) ?? 0) + want)
        this.#emit({ type: 'chunk-stored', index, from: session.id, bytes: want })
      })
    }, (err: unknown) => {
      this.#safely(() => {
        if ((err as Error)?.name === 'ChunkMismatchError') {
          const message = `chunk ${index} does not match the manifest: ${(err as Error).message}`
          this.#failChunk(session.id, index, 'bad-chunk', message)
          this.#dropPeer(session, 'bad-chunk', message)
        } else {
          // The local disk failed (full, read-only): no peer can fix that.
          throw err
        }
      })
    }).finally(() => {
      this.#pendingStores.delete(stored)
      this.#kick()
    })
    this.#pendingStores.add(stored)
    this.#kick()
  }

  #failChunk (peer: string, index: number, reason: ChunkFailureReason, message: string): void {
    if (this.#controller.signal.aborted) return
    const { exhausted, attempts } = this.#scheduler.fail(peer, index, performance.now())
    log.trace('chunk %d from %s failed (%s): %s', index, peer, reason, message)
    this.#emit({ type: 'chunk-failed', index, peer, reason, attempts, message })
    if (exhausted) this.#fatal ??= new ChunkAttemptsExhaustedError(index, attempts, message)
  }

  // -- start and end ----------------------------------------------------------

  /** Marks the chunks the store already holds (read back and verified; corrupt ones are removed). */
  async #resume (): Promise<void> {
    const { chunks } = this.#layout
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const index = next++
        const digest = chunks[index] as Uint8Array
        if (!(await this.#store.has(digest))) continue
        try {
          const bytes = await this.#store.get(digest)
          if (bytes.byteLength !== expectedChunkLength(this.#layout, index)) continue
        } catch (err) {
          if ((err as Error)?.name === 'ChunkCorruptError') await this.#store.delete(digest)
          else if ((err as Error)?.name !== 'ChunkMissingError') throw err
          continue
        }
        this.#scheduler.markHeld(index)
        this.#chunksAlreadyHeld++
      }
    }
    await Promise.all(Array.from({ length: Math.min(RESUME_CHECK_CONCURRENCY, chunks.length) }, worker))
  }

  async #closeAll (): Promise<void> {
    const closing: Array<Promise<void>> = []
    for (const session of this.#sessions.values()) {
      for (const channel of session.channels) closing.push(channel.close())
      if (session.control !== undefined) closing.push(session.control.close())
      session.channels = []
      session.control = undefined
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.allSettled(closing),
      new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_TIMEOUT_MS) })
    ])
    clearTimeout(timer)
  }

  #abortAll (err: ChunkChannelError): void {
    for (const session of this.#sessions.values()) {
      for (const channel of session.channels) channel.abort(err)
      session.control?.abort(err)
      session.channels = []
      session.control = undefined
    }
  }

  /**
   * Runs an event handler; anything it throws ends the download with that
   * error (a failed disk, or a bug) instead of an unhandled rejection.
   */
  #safely (handler: () => void): void {
    try {
      handler()
    } catch (err) {
      this.#fatal ??= err instanceof Error ? err : new Error(String(err))
    }
    this.#kick()
  }

  #emit (event: DownloadProgress): void {
    try {
      this.#init.onProgress?.(event)
    } catch (err) {
      log.error('onProgress threw: %e', err)
    }
  }
}

function positive (value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback
}
