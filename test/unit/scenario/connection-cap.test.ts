import { describe, expect, it } from 'vitest'
import { CONNECTION_FD_SHARE, inProcessConnectionCap, openFilesLimit } from '../../../src/scenario/connection-cap.ts'
import { DEFAULT_MAX_CONNECTIONS, MIN_MAX_CONNECTIONS } from '../../../src/node/index.ts'

describe('in-process connection cap', () => {
  it('keeps the swarm\'s connections within the share of the descriptors', () => {
    for (const machines of [1, 10, 50, 100, 200, 400, 1000]) {
      for (const limit of [1_024, 20_000, 65_536, 1_048_576]) {
        const cap = inProcessConnectionCap(machines, limit)
        expect(cap).toBeGreaterThanOrEqual(MIN_MAX_CONNECTIONS)
        expect(cap).toBeLessThanOrEqual(DEFAULT_MAX_CONNECTIONS)
        // One descriptor per connection end: every machine at its cap, and the seed connected to every machine; within the share unless the floor forces more.
        if (cap > MIN_MAX_CONNECTIONS) expect(machines * cap + machines).toBeLessThanOrEqual(CONNECTION_FD_SHARE * limit)
      }
    }
    // This machine's limit (20,000): a full mesh still fits 50 machines, not 200.
    expect(inProcessConnectionCap(50, 20_000)).toBeGreaterThanOrEqual(50)
    expect(inProcessConnectionCap(200, 20_000)).toBe(49)
  })

  it('refuses nonsense', () => {
    expect(() => inProcessConnectionCap(0, 20_000)).toThrow(RangeError)
    expect(() => inProcessConnectionCap(2.5, 20_000)).toThrow(RangeError)
    expect(() => inProcessConnectionCap(10, 0)).toThrow(RangeError)
  })

  it('reads this process\'s limit', async () => {
    const limit = await openFilesLimit()
    expect(limit).toBeGreaterThan(0)
  })
})
