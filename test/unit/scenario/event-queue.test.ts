import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EventQueue } from '../../../src/scenario/event-queue.ts'

describe('EventQueue', () => {
  it('pops by time, first-in first-out at equal times (property)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 3000 }), times => {
      const queue = new EventQueue()
      times.forEach((t, i) => { queue.push(t, 1, i) })
      const out: Array<[number, number]> = []
      const e = { time: 0, kind: 0, a: 0, b: 0 }
      while (queue.pop(e)) out.push([e.time, e.a])
      const expected = times.map((t, i) => [t, i] as [number, number]).sort((x, y) => x[0] - y[0] || x[1] - y[1])
      expect(out).toEqual(expected)
    }))
  })

  it('reuses slots and interleaves pushes with pops', () => {
    const queue = new EventQueue()
    const e = { time: 0, kind: 0, a: 0, b: 0 }
    queue.push(5, 2, 1, 9)
    queue.push(1, 3, 2)
    expect(queue.peekTime()).toBe(1)
    expect(queue.pop(e)).toBe(true)
    expect(e).toEqual({ time: 1, kind: 3, a: 2, b: 0 })
    queue.push(3, 4, 3)
    expect(queue.pop(e) && e.a).toBe(3)
    expect(queue.pop(e) && e).toEqual({ time: 5, kind: 2, a: 1, b: 9 })
    expect(queue.pop(e)).toBe(false)
    expect(queue.size).toBe(0)
  })
})
