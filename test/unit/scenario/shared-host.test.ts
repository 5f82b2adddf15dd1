import { describe, expect, it } from 'vitest'
import { SharedHost } from '../../../src/scenario/shared-host.ts'
import { mulberry32 } from '../../helpers/seeded-random.ts'

/** Runs the host until idle, ending each activity as it falls due; returns id → real end time. */
function drain (host: SharedHost, from: number, ends = new Map<number, number>()): Map<number, number> {
  let now = from
  for (let guard = 0; host.running > 0; guard++) {
    if (guard > 10_000) throw new Error('drain did not finish')
    now = host.nextEndAt()
    for (const id of host.due(now)) {
      host.stop(id, now)
      ends.set(id, now)
    }
  }
  return ends
}

describe('SharedHost', () => {
  it('runs an activity alone in its own work', () => {
    const host = new SharedHost(2)
    host.start(1, 100, 10)
    expect(host.nextEndAt()).toBe(110)
    expect(host.due(109.9)).toEqual([])
    expect(host.due(110)).toEqual([1])
    // due leaves it running until the caller ends it.
    expect(host.has(1)).toBe(true)
    expect(host.stop(1, 110)).toBe(100)
    expect(host.running).toBe(0)
    expect(host.nextEndAt()).toBe(Infinity)
  })

  it('no slowdown while there are no more activities than cores', () => {
    const host = new SharedHost(4)
    host.start(1, 100, 0)
    host.start(2, 300, 0)
    host.start(3, 200, 0)
    expect([...drain(host, 0)]).toEqual([[1, 100], [3, 200], [2, 300]])
  })

  it('shares the cores equally once there are more activities than cores', () => {
    const host = new SharedHost(1)
    host.start(1, 100, 0)
    host.start(2, 100, 0)
    expect([...drain(host, 0)]).toEqual([[1, 200], [2, 200]])
    const two = new SharedHost(2)
    for (let id = 0; id < 4; id++) two.start(id, 100, 0)
    expect([...drain(two, 0).values()]).toEqual([200, 200, 200, 200])
  })

  it('a late arrival slows the one running, and speeds up when that one ends', () => {
    const host = new SharedHost(1)
    host.start(1, 100, 0)
    host.start(2, 100, 50)
    // 1: 50 alone, then its last 50 at half speed → 150. 2: 50 at half speed by then, its last 50 alone → 200.
    expect([...drain(host, 50)]).toEqual([[1, 150], [2, 200]])
  })

  it('stop returns the work an activity got, done or not', () => {
    const host = new SharedHost(1)
    host.start(1, 100, 0)
    host.start(2, 100, 0)
    expect(host.stop(1, 100)).toBe(50)
    expect(host.stop(1, 100)).toBe(0)
    expect(host.nextEndAt()).toBe(150)
  })

  it('matches a step-by-step reference on random arrivals and departures', () => {
    const random = mulberry32(20261128)
    for (let trial = 0; trial < 40; trial++) {
      const cores = 1 + Math.floor(random() * 3)
      const jobs = Array.from({ length: 2 + Math.floor(random() * 8) }, (_v, id) => ({ id, at: Math.floor(random() * 100), work: 1 + Math.floor(random() * 100) }))
      // The reference: advance in steps of 1/64 ms (exact in binary), sharing the cores among those running.
      const step = 1 / 64
      const left = new Map<number, number>()
      const expected = new Map<number, number>()
      for (let t = 0, guard = 0; expected.size < jobs.length; t += step, guard++) {
        if (guard > 10_000_000) throw new Error('reference did not finish')
        for (const job of jobs) if (job.at === t) left.set(job.id, job.work)
        const speed = left.size <= cores ? 1 : cores / left.size
        for (const [id, work] of left) {
          const rest = work - speed * step
          if (rest <= 1e-9) {
            left.delete(id)
            expected.set(id, t + step)
          } else {
            left.set(id, rest)
          }
        }
      }
      // The host, driven by events: arrivals and ends in time order.
      const host = new SharedHost(cores)
      const ends = new Map<number, number>()
      const arrivals = [...jobs].sort((a, b) => a.at - b.at || a.id - b.id)
      let now = 0
      while (ends.size < jobs.length) {
        const next = arrivals[0]
        const endAt = host.nextEndAt()
        if (next !== undefined && next.at <= endAt) {
          now = next.at
          host.start(next.id, next.work, now)
          arrivals.shift()
        } else {
          now = endAt
          for (const id of host.due(now)) {
            host.stop(id, now)
            ends.set(id, now)
          }
        }
      }
      // The reference ends a job at the end of its step and frees its core a step late: ≤ one step per departure.
      for (const job of jobs) {
        expect(Math.abs((ends.get(job.id) ?? Number.NaN) - (expected.get(job.id) ?? Number.NaN)), `trial ${trial}, job ${job.id}`).toBeLessThan(jobs.length * step)
      }
    }
  })

  it('refuses what would be a bug in its caller', () => {
    expect(() => new SharedHost(0)).toThrow(RangeError)
    expect(() => new SharedHost(1.5)).toThrow(RangeError)
    const host = new SharedHost(1)
    host.start(1, 10, 5)
    expect(() => { host.start(1, 10, 6) }).toThrow(/already running/)
    expect(() => { host.due(4) }).toThrow(/went back/)
  })
})
