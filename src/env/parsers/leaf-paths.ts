/**
 * Tree-shaped configuration (JSON, YAML) as items: one item per leaf.
 *
 * Item names are paths: `a.b[2].c`. A key that is an identifier
 * (`[A-Za-z_][A-Za-z0-9_-]*`) is written `.key` (no dot at the start);
 * any other key is written as a JSON string in brackets, `["key.with.dots"]`,
 * `["80"]`, `[""]`, so no two distinct paths share a name. An array element
 * is `[index]`. A scalar document is the item `""`.
 *
 * Values are the JSON encoding of the scalar (`"text"`, `8080`, `true`,
 * `null`), so the string "8080" and the number 8080 differ; non-finite
 * numbers (YAML's `.inf`, `.nan`), which JSON cannot encode, are written
 * `Infinity`, `-Infinity`, `NaN`. An empty object or array is a leaf with
 * value `{}` or `[]`, so adding one is seen. Object key order never matters.
 */
import { ConfigParseError } from '../errors.ts'
import { MAX_NESTING_DEPTH } from './constants.ts'
import type { ItemCollector } from './item-collector.ts'

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/

/** Adds the leaves of `value` under the path `name` (`''` for the root). */
export function addLeaves (items: ItemCollector, value: unknown, name: string, depth = 0): void {
  if (depth > MAX_NESTING_DEPTH) {
    throw new ConfigParseError('too-deep', items.path, undefined, `nested more than ${MAX_NESTING_DEPTH} deep at ${name}`)
  }
  if (Array.isArray(value) || value instanceof Set) {
    const elements: unknown[] = [...value]
    if (elements.length === 0) items.add(name, '[]')
    elements.forEach((element, index) => { addLeaves(items, element, `${name}[${index}]`, depth + 1) })
    return
  }
  if (value instanceof Map) {
    if (value.size === 0) items.add(name, '{}')
    for (const [key, element] of value) addLeaves(items, element, name + keySegment(keyText(key, items.path), name), depth + 1)
    return
  }
  if (value instanceof Uint8Array) {
    items.add(name, `!!binary ${Buffer.from(value).toString('base64')}`)
    return
  }
  if (value instanceof Date) {
    items.add(name, Number.isNaN(value.getTime()) ? 'Invalid Date' : JSON.stringify(value.toISOString()))
    return
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
    if (entries.length === 0) items.add(name, '{}')
    for (const [key, element] of entries) addLeaves(items, element, name + keySegment(key, name), depth + 1)
    return
  }
  items.add(name, scalarText(value))
}

function keySegment (key: string, parent: string): string {
  if (!IDENTIFIER.test(key)) return `[${JSON.stringify(key)}]`
  return parent === '' ? key : `.${key}`
}

/**
 * A mapping key as text. YAML allows keys that are not strings: scalars are
 * written as YAML would print them (`1`, `true`, `null`); a collection used
 * as a key (rare) as `?` and its JSON form.
 */
function keyText (key: unknown, path: string): string {
  if (typeof key === 'string') return key
  if (key === null || key === undefined) return 'null'
  if (typeof key !== 'object') return String(key)
  try {
    return `?${JSON.stringify(key, (_k, v: unknown) => {
      if (v instanceof Map) return Object.fromEntries([...v].map(([k, e]) => [keyText(k, path), e]))
      if (v instanceof Set) return [...v]
      if (typeof v === 'bigint') return String(v)
      return v
    })}`
  } catch (err) {
    throw new ConfigParseError('syntax', path, undefined, 'a mapping key that cannot be written as text', { cause: err })
  }
}

function scalarText (value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : String(value)
  if (typeof value === 'bigint') return String(value)
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value)
  return JSON.stringify(String(value))
}
