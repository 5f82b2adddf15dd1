import { describe, expect, it } from 'vitest'
import { ChunkLru } from '../../../src/content/index.ts'

const bytes = (n: number): Uint8Array => new Uint8Array(n)

describe('ChunkLru', () => {
  it('drops the least recently used once the bytes exceed the bound', () => {
    const lru = new ChunkLru(300)
    const [a, b, c] = [bytes(100), bytes(100), bytes(100)]
    lru.set('a', a)
    lru.set('b', b)
    lru.set('c', c)
    expect(lru.get('a')).toBe(a)
    lru.set('d', bytes(100))
    // b was the least recently used: a was just read.
    expect(lru.has('b')).toBe(false)
    expect([lru.has('a'), lru.has('c'), lru.has('d')]).toEqual([true, true, true])
  })

  it('counts a replaced chunk once, keeps nothing larger than itself, and forgets on delete and clear', () => {
    const lru = new ChunkLru(200)
    lru.set('a', bytes(100))
    lru.set('a', bytes(100))
    lru.set('b', bytes(100))
    expect([lru.has('a'), lru.has('b')]).toEqual([true, true])
    lru.set('big', bytes(201))
    expect(lru.has('big')).toBe(false)
    expect(lru.has('a')).toBe(true)
    lru.delete('a')
    lru.set('c', bytes(100))
    expect([lru.has('b'), lru.has('c')]).toEqual([true, true])
    lru.clear()
    expect([lru.has('b'), lru.has('c'), lru.get('b')]).toEqual([false, false, undefined])
    lru.set('d', bytes(200))
    expect(lru.has('d')).toBe(true)
  })
})
