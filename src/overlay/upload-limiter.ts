/**
 * The node's upload limit: one token bucket (bytes per second, with a burst)
 * shared by every chunk stream the node serves, so a machine owner's
 * bandwidth limit holds however many peers pull from it (DESIGN.md, "What
 * users do": bandwidth limits in the node config).
 *
 * Implemented as GCRA (the "virtual scheduling" form of a token bucket):
 * each `take` reserves its bytes at the bucket's theoretical arrival time,
 * so waiters are served in call order with one timer each and no polling.
 * A take larger than the burst is allowed (it waits until all but `burst`
 * of it is paid for), so a chunk bigger than the burst still goes out whole
 * and the long-run rate stays exact.
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** Burst when none is given: one default-sized (1 MiB) chunk may go out at once. */
export const DEFAULT_UPLOAD_BURST_BYTES = 1024 * 1024

export interface UploadLimiterInit {
  /** Sustained rate in bytes per second; must be positive and finite. */
  bytesPerSecond: number
  /** Bytes that may go out at once after an idle period (default DEFAULT_UPLOAD_BURST_BYTES). */
  burstBytes?: number
  /** Clock in milliseconds (tests inject one); default `performance.now`. */
  now?: () => number
  /** How to wait (tests inject one); default a timer that honours the signal. */
  wait?: (ms: number, signal?: AbortSignal) => Promise<void>
}

export interface UploadLimiterStats {
  /** Calls to `take`. */
  takes: number
  /** Bytes granted (including those of takes still waiting). */
  bytes: number
  /** Takes that had to wait. */
  throttled: number
  /** Total time spent waiting, summed over takes, in ms. */
  waitedMs: number
}

export interface UploadLimiter {
  /** Resolves when `bytes` may be sent; rejects if `signal` aborts first (the reservation is kept). */
  take: (bytes: number, signal?: AbortSignal) => Promise<void>
  stats: () => UploadLimiterStats
}

export function createUploadLimiter (init: UploadLimiterInit): UploadLimiter {
  return new TokenBucket(init)
}

class TokenBucket implements UploadLimiter {
  readonly #msPerByte: number
  readonly #burstMs: number
  readonly #now: () => number
  readonly #wait: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Theoretical arrival time: when the bucket would be full again, in ms. */
  #tat = -Infinity
  readonly #stats: UploadLimiterStats = { takes: 0, bytes: 0, throttled: 0, waitedMs: 0 }

  constructor (init: UploadLimiterInit) {
    if (!(init.bytesPerSecond > 0) || !Number.isFinite(init.bytesPerSecond)) {
      throw new RangeError(`upload limit must be a positive number of bytes per second, got ${init.bytesPerSecond}`)
    }
    const burst = init.burstBytes ?? DEFAULT_UPLOAD_BURST_BYTES
    if (!(burst >= 0) || !Number.isFinite(burst)) throw new RangeError(`upload burst must be a non-negative number of bytes, got ${burst}`)
    this.#msPerByte = 1000 / init.bytesPerSecond
    this.#burstMs = burst * this.#msPerByte
    this.#now = init.now ?? (() => performance.now())
    this.#wait = init.wait ?? (async (ms, signal) => { await sleep(ms, undefined, { signal }) })
  }

  async take (bytes: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    const now = this.#now()
    // The bucket's debt after this take, as time; it may go once at most
    // `burstMs` of debt remains (a bucket of `burst` bytes, allowed to go
    // negative for a take larger than the burst).
    this.#tat = Math.max(this.#tat, now) + bytes * this.#msPerByte
    const allowedAt = this.#tat - this.#burstMs
    this.#stats.takes++
    this.#stats.bytes += bytes
    const waitMs = allowedAt - now
    if (waitMs <= 0) return
    this.#stats.throttled++
    this.#stats.waitedMs += waitMs
    await this.#wait(waitMs, signal)
  }

  stats (): UploadLimiterStats {
    return { ...this.#stats }
  }
}
