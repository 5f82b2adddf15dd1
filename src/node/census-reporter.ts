/**
 * The machine's side of the census (issue 4 item 5): for every app whose
 * config opts in (`census: true`), send the machine's salted fingerprint to
 * each trusted vendor, so the vendor can cluster its population (Mirage
 * §4.1). The vendor's seed runs with the vendor key as its libp2p identity,
 * so the vendor's peer id follows from the trusted public key.
 *
 * When: once shortly after start, then whenever the fingerprint's digest
 * changes (checked every DEFAULT_CENSUS_CHECK_INTERVAL_MS) and at least
 * every DEFAULT_CENSUS_INTERVAL_MS. An unreachable or busy vendor is
 * retried with jittered exponential backoff, at most
 * DEFAULT_CENSUS_MAX_ATTEMPTS times in a row; then the reporter waits a full
 * interval. A refusal that a retry cannot fix (say the vendor does not
 * collect this app) is logged and not repeated until the next interval.
 *
 * What leaves the machine is the fingerprint minus its `notes`: the facts
 * are salted hashes, but notes are free text for the owner (paths, parse
 * errors) that the vendor does not need to cluster.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { fingerprintCluster, fingerprintDigest } from '../env/index.ts'
import { CensusProtocolError, sealCensus, sendCensus } from '../overlay/index.ts'
import { publicKeyFromText } from '../trust/index.ts'
import type { ClusterSpec, Fingerprint } from '../env/index.ts'
import type { CensusDialer, CensusRefusal } from '../overlay/index.ts'
import type { NodeConfig } from './config.ts'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'

const log = logger('mirage:node:census-reporter')

/** First census this long after start: bootstrap dials have had their chance, and fingerprinting does not slow the start. */
export const DEFAULT_CENSUS_INITIAL_DELAY_MS = 30_000

/**
 * A census is sent again at least this often even if nothing changed: the
 * vendor's census then tells live machines from ones long gone, at the cost
 * of four small messages a day per machine.
 */
export const DEFAULT_CENSUS_INTERVAL_MS = 6 * 60 * 60_000

/**
 * How often the fingerprint is recomputed to see whether it changed (an
 * upgraded library, an edited config). Reading and hashing an app's
 * resources is cheap next to this period, even for large binaries.
 */
export const DEFAULT_CENSUS_CHECK_INTERVAL_MS = 30 * 60_000

/**
 * First retry delay: above the collector's one-census-per-peer window
 * (DEFAULT_CENSUS_MIN_INTERVAL_PER_PEER_MS, 10 s), so a retry is never
 * refused as too soon.
 */
export const DEFAULT_CENSUS_RETRY_MIN_MS = 15_000
/** Retry delays double up to this. */
export const DEFAULT_CENSUS_RETRY_MAX_MS = 10 * 60_000
/** Failed attempts in a row before waiting a full interval (15 s … 10 min: about half an hour of trying). */
export const DEFAULT_CENSUS_MAX_ATTEMPTS = 8

/** Refusals a later attempt may not get: the collector's state, not the census, was the problem. */
const TRANSIENT_REFUSALS = new Set<CensusRefusal>(['rate-limited', 'error'])

/** An app that takes part in the census. */
export interface CensusApp {
  app: string
  /** Trusted vendor public keys (text): each one's seed gets the census. */
  vendorKeys: readonly string[]
  /** How the machine's environment for the app is read. */
  cluster: ClusterSpec
}

/** The apps of a node config that opted in to the census. */
export function censusApps (config: Pick<NodeConfig, 'apps'>): CensusApp[] {
  return Object.entries(config.apps)
    .filter(([, app]) => app.census === true)
    .map(([app, c]) => ({ app, vendorKeys: c.vendorKeys, cluster: c.cluster }))
}

/** What happened to one census, for logs, status and tests. */
export type CensusReportEvent =
  | { type: 'sent', app: string, vendor: string, digest: string }
  /** The vendor refused for good (until the next interval or change). */
  | { type: 'refused', app: string, vendor: string, digest: string, reason: CensusRefusal | 'oversized' }
  /** An attempt failed; another follows after `retryInMs`. */
  | { type: 'failed', app: string, vendor: string, error: string, attempt: number, retryInMs: number }
  | { type: 'fingerprint-failed', app: string, error: string }

export interface CensusReporterComponents {
  /** Opens streams to the vendor's seed (a libp2p node). */
  dialer: CensusDialer
  /** The machine's libp2p key: the census is signed by the stream's own peer. */
  privateKey: Ed25519PrivateKey
}

export interface CensusReporterInit {
  apps: readonly CensusApp[]
  /** Default DEFAULT_CENSUS_INITIAL_DELAY_MS. */
  initialDelayMs?: number
  /** Default DEFAULT_CENSUS_INTERVAL_MS. */
  intervalMs?: number
  /** Default DEFAULT_CENSUS_CHECK_INTERVAL_MS. */
  checkIntervalMs?: number
  /** Default DEFAULT_CENSUS_RETRY_MIN_MS. */
  retryMinMs?: number
  /** Default DEFAULT_CENSUS_RETRY_MAX_MS. */
  retryMaxMs?: number
  /** Default DEFAULT_CENSUS_MAX_ATTEMPTS. */
  maxAttempts?: number
  /** Reads the machine's fingerprint of an app; default `fingerprintCluster`. */
  fingerprint?: (app: string, cluster: ClusterSpec) => Promise<Fingerprint>
  onEvent?: (event: CensusReportEvent) => void
}

export interface CensusReporter {
  start(): void
  stop(): Promise<void>
}

export function createCensusReporter (components: CensusReporterComponents, init: CensusReporterInit): CensusReporter {
  return new DefaultCensusReporter(components, init)
}

/** One vendor's census of one app, as this machine last sent it. */
interface Target {
  vendor: PeerId
  /** Digest of the last census the vendor has (or refused for good). */
  sentDigest: string | undefined
  sentAt: number
  /** Failed attempts in a row. */
  failures: number
  /** No attempt before this time. */
  retryAt: number
}

class DefaultCensusReporter implements CensusReporter {
  readonly #dialer: CensusDialer
  readonly #key: Ed25519PrivateKey
  readonly #apps: readonly CensusApp[]
  readonly #initialDelayMs: number
  readonly #intervalMs: number
  readonly #checkIntervalMs: number
  readonly #retryMinMs: number
  readonly #retryMaxMs: number
  readonly #maxAttempts: number
  readonly #fingerprint: (app: string, cluster: ClusterSpec) => Promise<Fingerprint>
  readonly #onEvent: (event: CensusReportEvent) => void
  #running: { abort: AbortController, loops: Promise<void> } | undefined

  constructor (components: CensusReporterComponents, init: CensusReporterInit) {
    this.#dialer = components.dialer
    this.#key = components.privateKey
    this.#apps = init.apps
    this.#initialDelayMs = init.initialDelayMs ?? DEFAULT_CENSUS_INITIAL_DELAY_MS
    this.#intervalMs = init.intervalMs ?? DEFAULT_CENSUS_INTERVAL_MS
    this.#checkIntervalMs = init.checkIntervalMs ?? DEFAULT_CENSUS_CHECK_INTERVAL_MS
    this.#retryMinMs = init.retryMinMs ?? DEFAULT_CENSUS_RETRY_MIN_MS
    this.#retryMaxMs = init.retryMaxMs ?? DEFAULT_CENSUS_RETRY_MAX_MS
    this.#maxAttempts = init.maxAttempts ?? DEFAULT_CENSUS_MAX_ATTEMPTS
    this.#fingerprint = init.fingerprint ?? (async (app, cluster) => fingerprintCluster(app, cluster))
    this.#onEvent = init.onEvent ?? (() => {})
  }

  start (): void {
    if (this.#running !== undefined) return
    const abort = new AbortController()
    const loops = Promise.all(this.#apps.map(async app => this.#run(app, abort.signal).catch((err: unknown) => {
      if (!abort.signal.aborted) log.error('census of %s stopped: %e', app.app, err)
    }))).then(() => {})
    this.#running = { abort, loops }
  }

  async stop (): Promise<void> {
    const running = this.#running
    if (running === undefined) return
    this.#running = undefined
    running.abort.abort(new Error('census reporter stopped'))
    await running.loops
  }

  /** One app's schedule, until stopped. */
  async #run (app: CensusApp, signal: AbortSignal): Promise<void> {
    const targets: Target[] = app.vendorKeys.map(text => ({
      vendor: peerIdFromPublicKey(publicKeyFromText(text)),
      sentDigest: undefined,
      sentAt: Number.NEGATIVE_INFINITY,
      failures: 0,
      retryAt: 0
    }))
    if (targets.length === 0) return
    await pause(this.#initialDelayMs, signal)
    let fingerprint: Fingerprint | undefined
    let digest: string | undefined
    let checkedAt = Number.NEGATIVE_INFINITY
    // Runs until stopped: each turn sleeps until the next check, retry or interval.
    while (!signal.aborted) {
      if (Date.now() - checkedAt >= this.#checkIntervalMs) {
        checkedAt = Date.now()
        try {
          fingerprint = await this.#fingerprint(app.app, app.cluster)
          const next = fingerprintDigest(fingerprint)
          if (next !== digest) {
            // A changed environment is news: every vendor hears it now, failures forgotten.
            for (const target of targets) { target.failures = 0; target.retryAt = 0 }
            digest = next
          }
        } catch (err) {
          this.#onEvent({ type: 'fingerprint-failed', app: app.app, error: (err as Error).message })
          log.error('fingerprinting %s for the census failed: %e', app.app, err)
        }
      }
      if (fingerprint !== undefined && digest !== undefined) {
        for (const target of targets) {
          if (signal.aborted) return
          if (this.#due(target, digest, Date.now())) await this.#send(app.app, target, fingerprint, digest, signal)
        }
      }
      const wake = Math.min(checkedAt + this.#checkIntervalMs, ...targets.map(t => this.#nextAttemptAt(t, digest)))
      await pause(wake - Date.now(), signal)
    }
  }

  #due (target: Target, digest: string, now: number): boolean {
    return now >= target.retryAt && (target.sentDigest !== digest || now - target.sentAt >= this.#intervalMs)
  }

  #nextAttemptAt (target: Target, digest: string | undefined): number {
    if (digest === undefined) return Number.POSITIVE_INFINITY
    const due = target.sentDigest !== digest ? 0 : target.sentAt + this.#intervalMs
    return Math.max(due, target.retryAt)
  }

  async #send (app: string, target: Target, fingerprint: Fingerprint, digest: string, signal: AbortSignal): Promise<void> {
    const vendor = target.vendor.toString()
    const done = (): void => {
      target.sentDigest = digest
      target.sentAt = Date.now()
      target.failures = 0
      target.retryAt = 0
    }
    let envelope: Uint8Array
    try {
      envelope = await sealCensus({ v: 1, app, at: Date.now(), fingerprint: { ...fingerprint, notes: [] } }, this.#key)
    } catch (err) {
      // Too large (or otherwise unsendable): retrying the same fingerprint cannot help.
      log.error('the census of %s cannot be sent: %e', app, err)
      done()
      this.#onEvent({ type: 'refused', app, vendor, digest, reason: err instanceof CensusProtocolError && err.reason === 'oversized' ? 'oversized' : 'malformed' })
      return
    }
    let failure: string
    try {
      const answer = await sendCensus(this.#dialer, target.vendor, envelope, { signal })
      if (answer.ok || answer.reason === 'stale') {
        done()
        log('census of %s sent to %p', app, target.vendor)
        this.#onEvent({ type: 'sent', app, vendor, digest })
        return
      }
      if (!TRANSIENT_REFUSALS.has(answer.reason)) {
        done()
        log.error('vendor %p refused the census of %s: %s', target.vendor, app, answer.reason)
        this.#onEvent({ type: 'refused', app, vendor, digest, reason: answer.reason })
        return
      }
      failure = `refused: ${answer.reason}`
    } catch (err) {
      if (signal.aborted) return
      failure = (err as Error).message
    }
    target.failures++
    let retryInMs: number
    if (target.failures >= this.#maxAttempts) {
      // Bounded: after this many, the vendor gets a rest of one interval.
      retryInMs = this.#intervalMs
      target.failures = 0
    } else {
      const backoff = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** (target.failures - 1))
      // Jitter: machines that lost the vendor together do not come back together.
      retryInMs = Math.round(backoff * (0.5 + Math.random() / 2))
    }
    target.retryAt = Date.now() + retryInMs
    log('census of %s to %p failed (%s); next attempt in %d ms', app, target.vendor, failure, retryInMs)
    this.#onEvent({ type: 'failed', app, vendor, error: failure, attempt: target.failures === 0 ? this.#maxAttempts : target.failures, retryInMs })
  }
}

/** Sleeps `ms` (at least 0, at most setTimeout's limit); returns early, without throwing, when `signal` aborts. */
async function pause (ms: number, signal: AbortSignal): Promise<void> {
  const delay = Math.min(Math.max(0, ms), 2 ** 31 - 1)
  await sleep(delay, undefined, { signal }).catch(() => {})
}
