import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { PersistentMap } from '../../../src/rollout/persistent-map.ts'

/** Keys short enough to collide in slots (and, over many runs, in whole hashes), plus long ones. */
const key = fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom('c0', 'c3', 'u1', 'p0', 'me'), fc.string({ minLength: 20, maxLength: 60 }))

describe('persistent map', () => {
  it('behaves like a Map, whatever the keys and the order of writes', () => {
    fc.assert(fc.property(fc.array(fc.tuple(key, fc.integer()), { maxLength: 200 }), writes => {
      const model = new Map<string, number>()
      let map = PersistentMap.empty<number>()
      const versions: Array<[PersistentMap<number>, Map<string, number>]> = []
      for (const [k, v] of writes) {
        model.set(k, v)
        map = map.set(k, v)
        versions.push([map, new Map(model)])
      }
      expect(map.size).toBe(model.size)
      expect(new Map(map)).toEqual(model)
      for (const k of model.keys()) expect(map.get(k)).toBe(model.get(k))
      expect(map.get('\u0000absent')).toBeUndefined()
      expect(map.has('\u0000absent')).toBe(false)
      // every older version is untouched by later writes
      for (const [version, snapshot] of versions) expect(new Map(version)).toEqual(snapshot)
    }), { numRuns: 300 })
  })

  it('iterates in an order that depends only on the keys', () => {
    fc.assert(fc.property(fc.uniqueArray(key, { maxLength: 100 }).chain(keys => fc.tuple(fc.constant(keys), fc.shuffledSubarray(keys, { minLength: keys.length, maxLength: keys.length }))), ([keys, shuffled]) => {
      const a = PersistentMap.of(keys.map(k => [k, 1] as const))
      const b = PersistentMap.of(shuffled.map(k => [k, 1] as const))
      expect([...a.keys()]).toEqual([...b.keys()])
    }))
  })

  it('keeps keys whose hashes collide apart', () => {
    // FNV-1a collisions are rare; "costarring"/"liquid" is a known 32-bit pair
    const map = PersistentMap.of([['costarring', 1], ['liquid', 2], ['other', 3]]).set('costarring', 4)
    expect(map.size).toBe(3)
    expect(map.get('costarring')).toBe(4)
    expect(map.get('liquid')).toBe(2)
  })
})
