/**
 * The upload token bucket, on a fake clock: bursts, the sustained rate,
 * FIFO order of waiters, takes larger than the burst, and accounting.
 */
import { describe, expect, it } from 'vitest'
import { createUploadLimiter } from '../../../src/overlay/upload-limiter.ts'

/** A clock that only moves when a waiter sleeps (so a test sees exactly the waits asked for). */
function fakeTime (): { now: () => number, wait: (ms: number) => Promise<void>, waits: number[] } {
  let time = 0
  const waits: number[] = []
  return {
    now: () => time,
    wait: async (ms) => {
      waits.push(ms)
      time += ms
    },
    waits
  }
}

describe('upload limiter', () => {
  it('lets a burst through at once, then paces at the rate', async () => {
    const clock = fakeTime()
    const limiter = createUploadLimiter({ bytesPerSecond: 1000, burstBytes: 2000, now: clock.now, wait: clock.wait })
    await limiter.take(1000)
    await limiter.take(1000)
    expect(clock.waits).toEqual([])
    await limiter.take(500)
    expect(clock.waits).toEqual([500])
    expect(limiter.stats()).toMatchObject({ takes: 3, bytes: 2500, throttled: 1, waitedMs: 500 })
  })

  it('holds the long-run rate to bytesPerSecond', async () => {
    const clock = fakeTime()
    const limiter = createUploadLimiter({ bytesPerSecond: 4096, burstBytes: 1024, now: clock.now, wait: clock.wait })
    for (let i = 0; i < 100; i++) await limiter.take(1024)
    // 100 KiB at 4 KiB/s, less the 1 KiB burst: 24.75 s.
    expect(clock.now()).toBeCloseTo((100 * 1024 - 1024) / 4096 * 1000, 6)
  })

  it('lets a take larger than the burst through after paying all but the burst', async () => {
    const clock = fakeTime()
    const limiter = createUploadLimiter({ bytesPerSecond: 1000, burstBytes: 100, now: clock.now, wait: clock.wait })
    await limiter.take(1100)
    expect(clock.waits).toEqual([1000])
  })

  it('refills while idle, up to the burst', async () => {
    const clock = fakeTime()
    const limiter = createUploadLimiter({ bytesPerSecond: 1000, burstBytes: 1000, now: clock.now, wait: clock.wait })
    await limiter.take(3000)
    expect(clock.now()).toBe(2000)
    await clock.wait(10_000)
    clock.waits.length = 0
    await limiter.take(1000)
    expect(clock.waits).toEqual([])
    await limiter.take(1000)
    expect(clock.waits).toEqual([1000])
  })

  it('serves concurrent takes in call order, each reserving its share', async () => {
    const clock = { time: 0 }
    const waits: number[] = []
    const limiter = createUploadLimiter({
      bytesPerSecond: 1000,
      burstBytes: 0,
      now: () => clock.time,
      wait: async (ms) => { waits.push(ms) }
    })
    await Promise.all([limiter.take(100), limiter.take(200), limiter.take(300)])
    expect(waits).toEqual([100, 300, 600])
  })

  it('rejects when its signal aborts, keeping the accounting', async () => {
    const limiter = createUploadLimiter({ bytesPerSecond: 10, burstBytes: 0 })
    const controller = new AbortController()
    const pending = limiter.take(1000, controller.signal)
    controller.abort(new Error('stopped'))
    await expect(pending).rejects.toThrow()
    await expect(limiter.take(1, AbortSignal.abort())).rejects.toThrow()
    expect(limiter.stats().takes).toBe(1)
  })

  it('refuses nonsense rates', () => {
    expect(() => createUploadLimiter({ bytesPerSecond: 0 })).toThrow(RangeError)
    expect(() => createUploadLimiter({ bytesPerSecond: Number.POSITIVE_INFINITY })).toThrow(RangeError)
    expect(() => createUploadLimiter({ bytesPerSecond: 10, burstBytes: -1 })).toThrow(RangeError)
  })
})
