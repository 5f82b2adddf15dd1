import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { dhtPrefixLength } from '../../../src/overlay/create-libp2p.ts'
import { DHT_K_BUCKET_SIZE, DHT_ROUTING_TABLE_CONNECTION_SHARE } from '../../../src/overlay/constants.ts'

const capacity = (prefixLength: number): number => DHT_K_BUCKET_SIZE * 2 ** prefixLength

describe('dhtPrefixLength', () => {
  it('sizes the routing table for the caps Mirage uses', () => {
    // libp2p's default cap (300): 4 buckets, 80 contacts in 150 connections.
    expect(dhtPrefixLength(300)).toBe(2)
    // 200 machines in one process (cap 49) and the config's floor (8): one bucket.
    expect(dhtPrefixLength(49)).toBe(0)
    expect(dhtPrefixLength(8)).toBe(0)
    // 100 machines in one process (cap 99): 2 buckets, 40 contacts.
    expect(dhtPrefixLength(99)).toBe(1)
    // Very large caps stop at kad-dht's own depth.
    expect(dhtPrefixLength(100_000)).toBe(6)
  })

  it('gives the deepest table that fits in its share of the cap, never a negative depth', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), (cap) => {
      const depth = dhtPrefixLength(cap)
      expect(Number.isInteger(depth)).toBe(true)
      expect(depth).toBeGreaterThanOrEqual(0)
      expect(depth).toBeLessThanOrEqual(6)
      const budget = DHT_ROUTING_TABLE_CONNECTION_SHARE * cap
      // Fits, unless even one bucket does not (then one bucket is the least a DHT can have).
      if (depth > 0) expect(capacity(depth)).toBeLessThanOrEqual(budget)
      // The deepest that fits: one level deeper would not (or the depth is already kad-dht's maximum).
      if (depth < 6) expect(capacity(depth + 1)).toBeGreaterThan(budget)
    }))
  })

  it('refuses a cap that is not positive', () => {
    for (const bad of [0, -1, Number.NaN]) expect(() => dhtPrefixLength(bad)).toThrow(RangeError)
  })
})
