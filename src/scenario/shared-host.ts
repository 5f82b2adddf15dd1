/**
 * One host shared by every simulated machine, as in a local real run: all
 * machines are nodes on the same few cores, so a download, a test or a
 * health check takes longer the more of them run at once. Modelled as
 * processor sharing: each activity needs `work` ms of one core to itself;
 * with `n` activities running on `cores` cores each advances at
 * min(1, cores / n) ms of work per ms.
 *
 * Every running activity advances at the same speed, so one clock of work
 * ("virtual time": work done by any activity that ran the whole time)
 * serves them all: an activity that starts at virtual time v with work w
 * ends when the clock reaches v + w, whatever starts or ends meanwhile.
 * Starting or ending an activity changes only the clock's speed. Pure, no
 * I/O; the simulator asks `nextEndAt` after each change and schedules one
 * event for it.
 */
export class SharedHost {
  readonly cores: number
  /** Work done per running activity since the start, at real time `#at`. */
  #virtual = 0
  #at = 0
  /** Running activities: id → virtual time at which it ends. */
  readonly #endsAt = new Map<number, number>()
  /** Virtual time each running activity started at. */
  readonly #startedAt = new Map<number, number>()

  constructor (cores: number) {
    if (!(Number.isInteger(cores) && cores >= 1)) throw new RangeError(`a shared host has a whole number of cores ≥ 1, got ${cores}`)
    this.cores = cores
  }

  /** Activities running now. */
  get running (): number {
    return this.#endsAt.size
  }

  /** Starts activity `id` (one per id) needing `workMs` of a core, at real time `now`. */
  start (id: number, workMs: number, now: number): void {
    if (this.#endsAt.has(id)) throw new Error(`bug: activity ${id} is already running on the shared host`)
    this.#advance(now)
    this.#endsAt.set(id, this.#virtual + Math.max(0, workMs))
    this.#startedAt.set(id, this.#virtual)
  }

  /** Ends activity `id` at real time `now`, done or not; returns the work it got (0 if it was not running). */
  stop (id: number, now: number): number {
    const startedAt = this.#startedAt.get(id)
    if (startedAt === undefined) return 0
    this.#advance(now)
    this.#endsAt.delete(id)
    this.#startedAt.delete(id)
    return this.#virtual - startedAt
  }

  /** Whether `id` is running. */
  has (id: number): boolean {
    return this.#endsAt.has(id)
  }

  /** Real time at which the next running activity ends if nothing starts or stops before; Infinity when idle. */
  nextEndAt (): number {
    let soonest = Infinity
    for (const end of this.#endsAt.values()) if (end < soonest) soonest = end
    if (soonest === Infinity) return Infinity
    return this.#at + Math.max(0, soonest - this.#virtual) / this.#speed()
  }

  /**
   * The activities whose work is done at real time `now`, in start order
   * (for a reproducible run). They keep running until `stop`: the caller
   * ends each as it handles it.
   */
  due (now: number): number[] {
    this.#advance(now)
    // A hair of slack: the end time was computed from these same floats.
    const limit = this.#virtual + 1e-6 * Math.max(1, Math.abs(this.#virtual))
    const done: number[] = []
    for (const [id, end] of this.#endsAt) if (end <= limit) done.push(id)
    return done
  }

  #speed (): number {
    const n = this.#endsAt.size
    return n <= this.cores ? 1 : this.cores / n
  }

  #advance (now: number): void {
    if (now < this.#at) throw new Error(`bug: the shared host's clock went back from ${this.#at} to ${now}`)
    this.#virtual += (now - this.#at) * this.#speed()
    this.#at = now
  }
}
