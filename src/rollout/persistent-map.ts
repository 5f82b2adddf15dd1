/**
 * An immutable string-keyed map with cheap updates: a hash array mapped trie
 * (Bagwell's HAMT, 32-way, bitmap-compressed). `set` copies one path of at
 * most seven nodes instead of the whole map, so folding n events into a
 * rollout state costs O(n log n), not O(n²): the large-scale simulator keeps
 * one state per simulated machine, and clusters there have thousands of
 * members. Old versions stay valid and share everything unchanged.
 *
 * Iteration follows the hash order, which depends on the keys and not on the
 * order they were inserted in (except among keys whose 32-bit hashes
 * collide): callers that show lists sort them anyway.
 */
export class PersistentMap<V> implements Iterable<[string, V]> {
  readonly size: number
  readonly #root: Trie<V> | undefined

  private constructor (root: Trie<V> | undefined, size: number) {
    this.#root = root
    this.size = size
  }

  static empty<V> (): PersistentMap<V> {
    return new PersistentMap<V>(undefined, 0)
  }

  static of<V> (entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    let map = PersistentMap.empty<V>()
    for (const [key, value] of entries) map = map.set(key, value)
    return map
  }

  get (key: string): V | undefined {
    const hash = hashOf(key)
    let node = this.#root
    for (let shift = 0; node !== undefined; shift += BITS) {
      if (node.kind === 'leaf') return node.hash === hash ? node.entries.find(([k]) => k === key)?.[1] : undefined
      const bit = bitOf(hash, shift)
      if ((node.bitmap & bit) === 0) return undefined
      node = node.children[indexOf(node.bitmap, bit)]
    }
    return undefined
  }

  has (key: string): boolean {
    return this.get(key) !== undefined
  }

  /** A map with `key` set to `value` (values are never undefined). */
  set (key: string, value: V): PersistentMap<V> {
    const hash = hashOf(key)
    const added = { yes: false }
    const root = this.#root === undefined ? leaf(hash, [[key, value]], added) : insert(this.#root, hash, key, value, 0, added)
    return new PersistentMap(root, this.size + (added.yes ? 1 : 0))
  }

  * entries (): IterableIterator<[string, V]> {
    if (this.#root === undefined) return
    const stack: Array<Trie<V>> = [this.#root]
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      if (node.kind === 'leaf') {
        for (const [key, value] of node.entries) yield [key, value]
      } else {
        for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i] as Trie<V>)
      }
    }
  }

  * keys (): IterableIterator<string> {
    for (const [key] of this.entries()) yield key
  }

  [Symbol.iterator] (): IterableIterator<[string, V]> {
    return this.entries()
  }
}

/** 5 bits of hash per level: 32 children, 7 levels for a 32-bit hash. */
const BITS = 5
const MASK = (1 << BITS) - 1

interface Leaf<V> { readonly kind: 'leaf', readonly hash: number, readonly entries: ReadonlyArray<readonly [string, V]> }
interface Branch<V> { readonly kind: 'branch', readonly bitmap: number, readonly children: ReadonlyArray<Trie<V>> }
type Trie<V> = Leaf<V> | Branch<V>

function leaf<V> (hash: number, entries: ReadonlyArray<readonly [string, V]>, added: { yes: boolean }): Leaf<V> {
  added.yes = true
  return { kind: 'leaf', hash, entries }
}

function insert<V> (node: Trie<V>, hash: number, key: string, value: V, shift: number, added: { yes: boolean }): Trie<V> {
  if (node.kind === 'leaf') {
    if (node.hash === hash) {
      const at = node.entries.findIndex(([k]) => k === key)
      if (at < 0) return leaf(hash, [...node.entries, [key, value]], added)
      const entries = [...node.entries]
      entries[at] = [key, value]
      return { kind: 'leaf', hash, entries }
    }
    return merge(node, leaf(hash, [[key, value]], added), shift)
  }
  const bit = bitOf(hash, shift)
  const index = indexOf(node.bitmap, bit)
  const children = [...node.children]
  if ((node.bitmap & bit) === 0) {
    children.splice(index, 0, leaf(hash, [[key, value]], added))
    return { kind: 'branch', bitmap: node.bitmap | bit, children }
  }
  children[index] = insert(node.children[index] as Trie<V>, hash, key, value, shift + BITS, added)
  return { kind: 'branch', bitmap: node.bitmap, children }
}

/** Two leaves with different hashes, under one branch per level where their hash bits agree. */
function merge<V> (a: Leaf<V>, b: Leaf<V>, shift: number): Branch<V> {
  const slotA = (a.hash >>> shift) & MASK
  const slotB = (b.hash >>> shift) & MASK
  if (slotA === slotB) return { kind: 'branch', bitmap: 1 << slotA, children: [merge(a, b, shift + BITS)] }
  // compare slots, not bits: 1 << 31 is negative in JavaScript
  return { kind: 'branch', bitmap: (1 << slotA) | (1 << slotB), children: slotA < slotB ? [a, b] : [b, a] }
}

function bitOf (hash: number, shift: number): number {
  return 1 << ((hash >>> shift) & MASK)
}

function indexOf (bitmap: number, bit: number): number {
  return popcount(bitmap & (bit - 1))
}

function popcount (x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

/** FNV-1a over UTF-16 code units: fast, and well spread for peer ids. */
function hashOf (key: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
