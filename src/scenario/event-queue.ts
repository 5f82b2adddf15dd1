/**
 * The simulator's event queue: a binary min-heap on (time, insertion
 * order), so events at the same instant run first-in first-out and a run is
 * reproducible. Events are three integers (kind, a, b) kept in parallel
 * typed arrays with a free list: a million-machine rollout schedules tens of
 * millions of events, and objects would cost the garbage collector more than
 * the simulation itself.
 */
export class EventQueue {
  #time = new Float64Array(1024)
  #order = new Float64Array(1024)
  #kind = new Uint8Array(1024)
  #a = new Int32Array(1024)
  #b = new Int32Array(1024)
  /** heap[i] = slot of the i-th heap element. */
  #heap = new Int32Array(1024)
  #size = 0
  #free: number[] = []
  #slots = 0
  #counter = 0

  get size (): number { return this.#size }

  push (time: number, kind: number, a: number, b = 0): void {
    const slot = this.#free.pop() ?? this.#newSlot()
    this.#time[slot] = time
    this.#order[slot] = this.#counter++
    this.#kind[slot] = kind
    this.#a[slot] = a
    this.#b[slot] = b
    if (this.#size === this.#heap.length) this.#heap = grow(this.#heap)
    let i = this.#size++
    const heap = this.#heap
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] as number
      if (!this.#less(slot, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = slot
  }

  /** Time of the next event, or Infinity. */
  peekTime (): number {
    return this.#size === 0 ? Infinity : this.#time[this.#heap[0] as number] as number
  }

  /** Removes the next event into `out` ([time, kind, a, b]); false when empty. */
  pop (out: { time: number, kind: number, a: number, b: number }): boolean {
    if (this.#size === 0) return false
    const heap = this.#heap
    const top = heap[0] as number
    out.time = this.#time[top] as number
    out.kind = this.#kind[top] as number
    out.a = this.#a[top] as number
    out.b = this.#b[top] as number
    this.#free.push(top)
    const last = heap[--this.#size] as number
    if (this.#size > 0) {
      let i = 0
      const n = this.#size
      for (;;) {
        const left = 2 * i + 1
        if (left >= n) break
        const right = left + 1
        let child = left
        if (right < n && this.#less(heap[right] as number, heap[left] as number)) child = right
        const c = heap[child] as number
        if (!this.#less(c, last)) break
        heap[i] = c
        i = child
      }
      heap[i] = last
    }
    return true
  }

  #less (x: number, y: number): boolean {
    const tx = this.#time[x] as number
    const ty = this.#time[y] as number
    return tx < ty || (tx === ty && (this.#order[x] as number) < (this.#order[y] as number))
  }

  #newSlot (): number {
    if (this.#slots === this.#time.length) {
      this.#time = grow(this.#time)
      this.#order = grow(this.#order)
      this.#kind = grow(this.#kind)
      this.#a = grow(this.#a)
      this.#b = grow(this.#b)
    }
    return this.#slots++
  }
}

function grow<T extends Float64Array | Uint8Array | Int32Array> (array: T): T {
  const bigger = new (array.constructor as new (n: number) => T)(array.length * 2)
  bigger.set(array)
  return bigger
}
