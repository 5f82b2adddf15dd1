/**
 * Machine-wide CPU use over time, from /proc/stat: the benchmark's first
 * profile. On a 2-core machine a transfer that keeps both cores busy is
 * CPU-bound (encryption, framing, hashing); one that leaves them idle waits
 * on something else (timers, lookups, round trips, the upload limit).
 */
import { readFileSync } from 'node:fs'
import { CLOCK_TICKS_PER_SECOND } from './processes.ts'

/** Sampling period: fine enough for windows of a few seconds, cheap (one small read). */
const SAMPLE_INTERVAL_MS = 200
/** Samples kept: a few minutes of benchmark at the interval above. */
const MAX_SAMPLES = 10_000

interface Sample { at: number, busy: number, total: number }

export class CpuSampler {
  readonly #samples: Sample[] = []
  #timer?: NodeJS.Timeout
  readonly cores: number

  constructor () {
    this.cores = Math.max(1, readFileSync('/proc/stat', 'utf8').split('\n').filter(line => /^cpu\d+ /.test(line)).length)
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#sample()
    this.#timer = setInterval(() => { this.#sample() }, SAMPLE_INTERVAL_MS)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Average busy cores between two Date.now() times (nearest samples outside the window), or NaN if unknown. */
  busyCores (from: number, to: number): number {
    this.#sample()
    const before = [...this.#samples].reverse().find(s => s.at <= from) ?? this.#samples[0]
    const after = this.#samples.find(s => s.at >= to) ?? this.#samples.at(-1)
    if (before === undefined || after === undefined || after.total <= before.total) return Number.NaN
    return this.cores * (after.busy - before.busy) / (after.total - before.total)
  }

  /**
   * Waits (bounded) until work outside this benchmark has kept at most
   * `maxOtherBusyCores` busy for `windowMs`: this machine is shared, and
   * another run would slow whichever contender it overlaps. `ownTicks`
   * counts the benchmark's own CPU time (its idle swarm is not "other").
   * Returns the last window's load, quiet or not.
   */
  async waitQuiet (maxOtherBusyCores: number, windowMs: number, timeoutMs: number, ownTicks: () => number): Promise<{ busyCores: number, ownBusyCores: number, otherBusyCores: number, waitedMs: number }> {
    const began = Date.now()
    for (;;) {
      const from = Date.now()
      const ownBefore = ownTicks()
      await new Promise(resolve => setTimeout(resolve, windowMs))
      const to = Date.now()
      const busyCores = this.busyCores(from, to)
      const ownBusyCores = (ownTicks() - ownBefore) / CLOCK_TICKS_PER_SECOND / ((to - from) / 1000)
      const otherBusyCores = Math.max(0, busyCores - ownBusyCores)
      const waitedMs = to - began
      if (otherBusyCores <= maxOtherBusyCores || waitedMs >= timeoutMs) return { busyCores, ownBusyCores, otherBusyCores, waitedMs }
    }
  }

  #sample (): void {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
    this.#samples.push({ at: Date.now(), busy: total - idle, total })
    if (this.#samples.length > MAX_SAMPLES) this.#samples.splice(0, this.#samples.length - MAX_SAMPLES)
  }
}
