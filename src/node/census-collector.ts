/**
 * The vendor seed's side of the census (issue 4 item 5): it takes the
 * fingerprints machines send over `/mirage/census/1.0.0`, keeps the latest
 * one per machine in the store, and lists them for `mirage vendor census`.
 *
 * A census is believed only if it is signed by the very peer that opened the
 * stream (Noise authenticated that peer), so nobody can file, replace or
 * age out the census of another machine. Everything a peer can make the seed
 * do is bounded: one census per peer per interval, a few verified at once,
 * a bounded number of machines per app, bounded frames and timeouts.
 */
import { logger } from '@libp2p/logger'
import { CENSUS_PROTOCOL, CensusProtocolError, openCensus, refusalOf, serveCensusStream } from '../overlay/index.ts'
import { censusKey } from '../store/index.ts'
import type { Fingerprint } from '../env/index.ts'
import type { CensusAnswer, CensusRefusal } from '../overlay/index.ts'
import type { CensusRecord, Store } from '../store/index.ts'
import type { AbortOptions, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'

const log = logger('mirage:node:census-collector')

/**
 * Machines one app's census may hold. Each holds at most one entry (its
 * latest census), but peer ids cost nothing to make, so this is what bounds
 * the seed's disk: at most this many envelopes of ≤ 2 MiB each (typical
 * fingerprints are a few KiB: a few GB at the bound). A million is far
 * above any population the clustering is sized for (issue 4: 100,000).
 */
export const DEFAULT_MAX_CENSUS_ENTRIES_PER_APP = 1_000_000

/**
 * One census per peer per this long. An honest reporter sends once at start
 * and then every few hours (census-reporter.ts), and retries no sooner than
 * this; a peer sending faster only makes the seed verify signatures.
 */
export const DEFAULT_CENSUS_MIN_INTERVAL_PER_PEER_MS = 10_000

/**
 * Census streams handled at once, over all peers. Each holds up to one 2 MiB
 * frame and costs a signature check and a fingerprint validation; beyond
 * this a new stream is reset at once and its reporter backs off.
 */
export const DEFAULT_MAX_CONCURRENT_CENSUS = 8

/** Census streams one connection may have open: a reporter sends one at a time. */
export const DEFAULT_MAX_INBOUND_CENSUS_STREAMS = 2

/**
 * How far ahead of the seed's clock a census's `at` may be. Machines' clocks
 * drift; a census far in the future would otherwise shadow every later
 * census of that machine (an older `at` never replaces a newer one).
 */
export const DEFAULT_CENSUS_MAX_CLOCK_SKEW_MS = 10 * 60_000

/**
 * Peers whose last attempt is remembered for the rate limit. Past it the
 * oldest are forgotten (they may then send again sooner): memory stays
 * bounded however many peer ids a flood uses.
 */
export const MAX_RATE_LIMITED_PEERS = 100_000

/** The part of libp2p's registrar the collector needs (a libp2p node is one). */
export interface CensusCollectorRegistrar {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
  unhandle(protocol: string, options?: AbortOptions): Promise<void>
}

export interface CensusCollectorComponents {
  registrar: CensusCollectorRegistrar
  store: Pick<Store, 'census'>
}

export interface CensusCollectorInit {
  /** Whether this seed collects the census of `app` (the apps it serves). */
  serves(app: string): boolean
  /** Default DEFAULT_MAX_CENSUS_ENTRIES_PER_APP. */
  maxEntriesPerApp?: number
  /** Default DEFAULT_CENSUS_MIN_INTERVAL_PER_PEER_MS. */
  minIntervalPerPeerMs?: number
  /** Default DEFAULT_MAX_CONCURRENT_CENSUS. */
  maxConcurrent?: number
  /** Per connection; default DEFAULT_MAX_INBOUND_CENSUS_STREAMS. */
  maxInboundStreams?: number
  /** Per frame read or write; default CENSUS_TIMEOUT_MS of the protocol. */
  timeoutMs?: number
  /** Default DEFAULT_CENSUS_MAX_CLOCK_SKEW_MS. */
  maxClockSkewMs?: number
  /** The clock (tests). */
  now?: () => number
}

/** One machine's census as the vendor reads it (`GET /census?app=`, `vendor census`). */
export interface CensusEntry {
  peerId: string
  /** When the seed received it, ms since epoch. */
  receivedAt: number
  fingerprint: Fingerprint
}

export interface CensusCollectorStats {
  accepted: number
  /** Refusals answered, by reason. */
  refused: Partial<Record<CensusRefusal, number>>
  /** Streams reset because DEFAULT_MAX_CONCURRENT_CENSUS were in progress. */
  busy: number
  /** Streams that failed (timeouts, resets, oversized frames). */
  failed: number
}

export interface CensusCollector {
  start(): Promise<void>
  stop(): Promise<void>
  /** Judges one census frame received from `from` and stores it if accepted (the stream handler's core; tests call it directly). */
  take(envelope: Uint8Array, from: PeerId): Promise<CensusAnswer>
  /** The latest census of every machine of `app`, in peer id order; entries that no longer verify are skipped. */
  census(app: string): AsyncGenerator<CensusEntry>
  stats(): CensusCollectorStats
}

export function createCensusCollector (components: CensusCollectorComponents, init: CensusCollectorInit): CensusCollector {
  return new DefaultCensusCollector(components, init)
}

class DefaultCensusCollector implements CensusCollector {
  readonly #registrar: CensusCollectorRegistrar
  readonly #store: Pick<Store, 'census'>
  readonly #serves: (app: string) => boolean
  readonly #maxEntries: number
  readonly #minIntervalMs: number
  readonly #maxConcurrent: number
  readonly #maxInboundStreams: number
  readonly #timeoutMs: number | undefined
  readonly #maxSkewMs: number
  readonly #now: () => number
  readonly #onStream: StreamHandler
  #status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  #shutdown = new AbortController()
  #inFlight = 0
  /** Peer id → time of its last attempt, oldest first (re-inserted on every attempt). */
  readonly #lastAttempt = new Map<string, number>()
  /** Entries per app, counted from the store on first use and kept up to date. */
  readonly #counts = new Map<string, Promise<number>>()
  /** Store updates run one at a time: read, compare, write is then atomic. */
  #writes: Promise<unknown> = Promise.resolve()
  readonly #stats: CensusCollectorStats = { accepted: 0, refused: {}, busy: 0, failed: 0 }

  constructor (components: CensusCollectorComponents, init: CensusCollectorInit) {
    this.#registrar = components.registrar
    this.#store = components.store
    this.#serves = init.serves
    this.#maxEntries = init.maxEntriesPerApp ?? DEFAULT_MAX_CENSUS_ENTRIES_PER_APP
    this.#minIntervalMs = init.minIntervalPerPeerMs ?? DEFAULT_CENSUS_MIN_INTERVAL_PER_PEER_MS
    this.#maxConcurrent = init.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_CENSUS
    this.#maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_CENSUS_STREAMS
    this.#timeoutMs = init.timeoutMs
    this.#maxSkewMs = init.maxClockSkewMs ?? DEFAULT_CENSUS_MAX_CLOCK_SKEW_MS
    this.#now = init.now ?? Date.now
    this.#onStream = (stream, connection) => this.#handle(stream, connection.remotePeer)
  }

  async start (): Promise<void> {
    if (this.#status !== 'stopped') return
    this.#status = 'starting'
    this.#shutdown = new AbortController()
    try {
      await this.#registrar.handle(CENSUS_PROTOCOL, this.#onStream, { maxInboundStreams: this.#maxInboundStreams })
    } catch (err) {
      this.#status = 'stopped'
      throw err
    }
    this.#status = 'started'
  }

  async stop (): Promise<void> {
    if (this.#status !== 'started') return
    this.#status = 'stopping'
    try {
      await this.#registrar.unhandle(CENSUS_PROTOCOL)
    } finally {
      this.#shutdown.abort(new Error('census collector stopped'))
      // Let a store write in progress finish before the store is closed.
      await this.#writes.catch(() => {})
      this.#status = 'stopped'
    }
  }

  stats (): CensusCollectorStats {
    return { ...this.#stats, refused: { ...this.#stats.refused } }
  }

  async #handle (stream: Stream, from: PeerId): Promise<void> {
    if (this.#status !== 'started') {
      stream.abort(new Error('census collector is not running'))
      return
    }
    if (this.#inFlight >= this.#maxConcurrent) {
      // Reset before reading anything: a frame costs memory and a signature check.
      this.#stats.busy++
      stream.abort(new Error(`census collector busy (${this.#inFlight} in progress)`))
      return
    }
    this.#inFlight++
    try {
      const answer = await serveCensusStream(stream, from, async (envelope, peer) => this.take(envelope, peer), {
        signal: this.#shutdown.signal,
        ...(this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs })
      })
      log('census from %p: %s', from, answer.ok ? 'accepted' : answer.reason)
    } catch (err) {
      this.#stats.failed++
      log('census stream from %p failed: %e', from, err)
    } finally {
      this.#inFlight--
    }
  }

  async take (envelope: Uint8Array, from: PeerId): Promise<CensusAnswer> {
    const answer = await this.#judge(envelope, from)
    if (answer.ok) this.#stats.accepted++
    else this.#stats.refused[answer.reason] = (this.#stats.refused[answer.reason] ?? 0) + 1
    return answer
  }

  async #judge (envelope: Uint8Array, from: PeerId): Promise<CensusAnswer> {
    const peerId = from.toString()
    const now = this.#now()
    // Counted before any verification: a refused attempt costs the peer its turn too.
    if (!this.#attempt(peerId, now)) return refuse('rate-limited')
    let opened
    try {
      opened = await openCensus(envelope)
    } catch (err) {
      if (!(err instanceof CensusProtocolError)) throw err
      log('census from %p refused: %s', from, err.message)
      return refuse(refusalOf(err))
    }
    if (!opened.signerPeerId.equals(from)) {
      log('census from %p is signed by %p: refused', from, opened.signerPeerId)
      return refuse('wrong-signer')
    }
    const { app, at } = opened.report
    if (!this.#serves(app)) return refuse('unknown-app')
    if (at > now + this.#maxSkewMs) return refuse('future')
    return this.#serialized(async () => {
      const key = censusKey({ app, peerId })
      const previous = await this.#store.census.get(key)
      if (previous === undefined) {
        const count = await this.#count(app)
        if (count >= this.#maxEntries) return refuse('full')
      } else if (((await storedAt(previous)) ?? -1) >= at) {
        return refuse('stale')
      }
      const record: CensusRecord = { app, peerId, envelope: opened.bytes, receivedAt: now }
      try {
        await this.#store.census.put(key, record)
      } catch (err) {
        log.error('storing the census of %s from %p failed: %e', app, from, err)
        return refuse('error')
      }
      if (previous === undefined) this.#counts.set(app, this.#count(app).then(count => count + 1))
      return { ok: true }
    })
  }

  /** Records an attempt; false when the peer's previous one is too recent. */
  #attempt (peerId: string, now: number): boolean {
    const last = this.#lastAttempt.get(peerId)
    if (last !== undefined && now - last < this.#minIntervalMs) return false
    this.#lastAttempt.delete(peerId)
    this.#lastAttempt.set(peerId, now)
    // Oldest first: forget expired attempts, then any beyond the bound.
    for (const [peer, time] of this.#lastAttempt) {
      if (now - time < this.#minIntervalMs && this.#lastAttempt.size <= MAX_RATE_LIMITED_PEERS) break
      this.#lastAttempt.delete(peer)
    }
    return true
  }

  /**
   * Entries of `app`, counted once from the store (a scan: slow only for a
   * census near its bound, and only once per start), then kept in memory.
   */
  async #count (app: string): Promise<number> {
    let count = this.#counts.get(app)
    if (count === undefined) {
      count = (async () => {
        let n = 0
        for await (const _entry of this.#store.census.entries({ prefix: `${app}/` })) n++
        return n
      })()
      this.#counts.set(app, count)
      count.catch(() => { this.#counts.delete(app) })
    }
    return count
  }

  async #serialized<T> (step: () => Promise<T>): Promise<T> {
    const result = this.#writes.then(step, step)
    this.#writes = result.catch(() => {})
    return result
  }

  async * census (app: string): AsyncGenerator<CensusEntry> {
    for await (const [key, record] of this.#store.census.entries({ prefix: `${app}/` })) {
      try {
        const opened = await openCensus(record.envelope)
        if (opened.report.app !== app || opened.signerPeerId.toString() !== record.peerId) throw new Error('the record does not match its envelope')
        yield { peerId: record.peerId, receivedAt: record.receivedAt, fingerprint: opened.report.fingerprint }
      } catch (err) {
        // A store edited by hand or damaged: leave the record, skip it here.
        log.error('stored census %s no longer verifies, skipped: %e', key, err)
      }
    }
  }
}

function refuse (reason: CensusRefusal): CensusAnswer {
  return { ok: false, reason }
}

/** The `at` of a stored census, or undefined if it no longer opens (then any new one replaces it). */
async function storedAt (record: CensusRecord): Promise<number | undefined> {
  try {
    return (await openCensus(record.envelope)).report.at
  } catch (err) {
    log.error('stored census of %s from %s no longer verifies; replacing it: %e', record.app, record.peerId, err)
    return undefined
  }
}
