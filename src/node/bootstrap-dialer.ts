import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import type { OverlayLibp2p } from '../overlay/index.ts'

const log = logger('mirage:node:bootstrap')

/** Dial attempts per bootstrap address in one round, backing off 0.5 s doubling to 10 s. */
export const MAX_BOOTSTRAP_ATTEMPTS = 8
/**
 * How often a node with no connection at all starts a new round. Without
 * it, a node whose first rounds failed (a busy bootstrap peer refusing
 * handshakes: seen with 51 nodes starting on 2 cores in
 * bench/overlay.bench.ts) or whose peers all went away stays alone for
 * good: no release, no outcomes, nothing to sync from.
 */
export const BOOTSTRAP_RECHECK_MS = 30_000

/**
 * Keeps a node in the swarm: dials the bootstrap peers at start, and again
 * whenever the node finds itself with no connection.
 */
export class BootstrapDialer {
  readonly #libp2p: OverlayLibp2p
  readonly #addresses: string[]
  #timer?: NodeJS.Timeout
  #round?: Promise<void>
  #stopping = new AbortController()

  readonly #recheckMs: number
  readonly #maxAttempts: number

  constructor (libp2p: OverlayLibp2p, addresses: string[], options: { recheckMs?: number, maxAttempts?: number } = {}) {
    this.#libp2p = libp2p
    this.#addresses = addresses
    this.#recheckMs = options.recheckMs ?? BOOTSTRAP_RECHECK_MS
    this.#maxAttempts = options.maxAttempts ?? MAX_BOOTSTRAP_ATTEMPTS
  }

  /** Whether a round of dials is under way. */
  get dialing (): boolean {
    return this.#round !== undefined
  }

  start (): void {
    if (this.#timer !== undefined || this.#addresses.length === 0) return
    this.#stopping = new AbortController()
    this.#timer = setInterval(() => {
      if (this.#libp2p.getConnections().length === 0) this.#dialRound()
    }, this.#recheckMs)
    this.#dialRound()
  }

  /** Stops redialling; a dial in progress is abandoned, not awaited (libp2p stops next and ends it). */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#stopping.abort()
  }

  #dialRound (): void {
    if (this.#round !== undefined) return
    this.#round = Promise.all(this.#addresses.map(async address => this.#dialOne(address))).then(() => {}).finally(() => { this.#round = undefined })
  }

  async #dialOne (address: string): Promise<void> {
    const ma = multiaddr(address)
    const signal = this.#stopping.signal
    for (let attempt = 1; attempt <= this.#maxAttempts && !signal.aborted && this.#libp2p.status === 'started'; attempt++) {
      try {
        await this.#libp2p.dial(ma, { signal })
        return
      } catch (err) {
        if (signal.aborted) return
        log('bootstrap dial %s attempt %d failed: %e', address, attempt, err)
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, Math.min(10_000, 250 * 2 ** attempt))
          signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
        })
      }
    }
    log('no answer from bootstrap peer %s this round', address)
  }
}
