import { readFile } from 'node:fs/promises'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_CONFIG_ITEMS, MAX_NESTING_DEPTH, parseJsonConfig } from '../../../../src/env/parsers/index.ts'
import { findJsonFault } from '../../../../src/env/parsers/json-syntax.ts'
import { diffItems, expectOneChange, expectParseError, fixturePath, onlyConfigParseErrors, shuffled } from './parser-test-kit.ts'

const path = fixturePath('app.json')
let text: string

beforeAll(async () => { text = await readFile(path, 'utf8') })

/** The same document with every object's keys in another order. */
function reorderKeys (value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((element, i) => reorderKeys(element, seed + i))
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(shuffled(Object.entries(value), seed).map(([key, element]) => [key, reorderKeys(element, seed + 1)]))
}

const lineOf = (needle: string): number => text.split('\n').findIndex(line => line.includes(needle)) + 1

describe('parseJsonConfig on an application config', () => {
  it('has one item per leaf, named by path, valued by its JSON encoding', () => {
    const items = parseJsonConfig(text, path)
    expect(items.get('name')).toBe('"webshop"')
    expect(items.get('server.port')).toBe('8080')
    expect(items.get('server.trustProxy')).toBe('true')
    expect(items.get('server.timeouts.idleMs')).toBe('5000')
    expect(items.get('features[1]')).toBe('"wishlist"')
    expect(items.get('logging.targets[0].rotate.days')).toBe('14')
    expect(items.get('i18n.fallbacks["fr.CA"]')).toBe('"fr-FR"')
    expect(items.get('i18n.fallbacks["en[US]"]')).toBe('"en-GB"')
    expect(items.get('payments.providers.paypal.sandbox')).toBe('null')
    expect(items.get('uploads.allowedTypes')).toBe('[]')
    expect(items.get('uploads.imageQuality')).toBe('0.82')
    expect(items.get('extra')).toBe('{}')
    expect(items.has('server')).toBe(false)
  })

  it('escapes keys so that no two paths share a name', () => {
    const items = parseJsonConfig('{"a.b": {"c[0]": 1}, "a": {"b": {"c[0]": 2, "": 3, "0": 4}}, "x": ["8080", 8080]}', 'k.json')
    expect(Object.fromEntries(items)).toEqual({
      '["a.b"]["c[0]"]': '1',
      'a.b["c[0]"]': '2',
      'a.b[""]': '3',
      'a.b["0"]': '4',
      'x[0]': '"8080"',
      'x[1]': '8080'
    })
    expect(Object.fromEntries(parseJsonConfig('[1, {"k": []}]', 'a.json'))).toEqual({ '[0]': '1', '[1].k': '[]' })
    expect(Object.fromEntries(parseJsonConfig('"just text"', 's.json'))).toEqual({ '': '"just text"' })
    expect(parseJsonConfig('{"a": 1, "a": 2}', 'd.json').get('a')).toBe('2')
  })

  it('changes exactly one item when one value changes', () => {
    const before = parseJsonConfig(text, path)
    expectOneChange(before, parseJsonConfig(text.replace('"port": 8080', '"port": 8081'), path), 'server.port')
    expectOneChange(before, parseJsonConfig(text.replace('"wishlist"', '"wish-list"'), path), 'features[1]')
    expectOneChange(before, parseJsonConfig(text.replace('"sandbox": null', '"sandbox": "null"'), path), 'payments.providers.paypal.sandbox')
    expect(diffItems(before, parseJsonConfig(text.replace('"extra": {}', '"extra": {"beta": true}'), path)))
      .toEqual({ changed: [], added: ['extra.beta'], removed: ['extra'] })
  })

  it('does not depend on key order, layout or escapes', () => {
    const before = parseJsonConfig(text, path)
    const document: unknown = JSON.parse(text)
    fc.assert(fc.property(fc.integer(), fc.constantFrom(0, 1, 4, '\t'), (seed, indent) => {
      expect(parseJsonConfig(JSON.stringify(reorderKeys(document, seed), null, indent), path)).toEqual(before)
    }), { numRuns: 30 })
    expect(parseJsonConfig(`\uFEFF${text.replace('"webshop"', '"web\\u0073hop"').replaceAll('\n', '\r\n')}`, path)).toEqual(before)
  })

  it('names the file and line of malformed input', async () => {
    await expectParseError(() => parseJsonConfig(text.replace('"port": 8080', '"port": 80 80'), path), { path, line: lineOf('"port": 8080'), reason: 'syntax' })
    await expectParseError(() => parseJsonConfig(text.replace('"trustProxy": true', '"trustProxy": yes'), path), { path, line: lineOf('"trustProxy"') })
    await expectParseError(() => parseJsonConfig(text.replace('"ttlSeconds": 300', '"ttlSeconds": 300,'), path), { path, line: lineOf('"ttlSeconds"') + 1, message: /expected a string, found "}"/ })
    await expectParseError(() => parseJsonConfig(text.replace('"wishlist"', '"wish\tlist"'), path), { path, line: lineOf('"wishlist"'), message: /control character/ })
    await expectParseError(() => parseJsonConfig(`${text}\n{}`, path), { path, line: text.split('\n').length + 1, message: /after the JSON value/ })
    await expectParseError(() => parseJsonConfig('{"a": "b', path), { path, line: 1, message: /unterminated/ })
    await expectParseError(() => parseJsonConfig('', path), { path, line: 1 })
  })

  it('refuses documents nested too deep or with too many leaves', async () => {
    const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`
    expect(parseJsonConfig(nested(MAX_NESTING_DEPTH + 1), 'deep.json').size).toBe(1)
    await expectParseError(() => parseJsonConfig(nested(MAX_NESTING_DEPTH + 2), 'deep.json'), { path: 'deep.json', reason: 'too-deep' })
    await expectParseError(() => parseJsonConfig(nested(1_000_000), 'deeper.json'), { path: 'deeper.json' })
    await expectParseError(() => parseJsonConfig(JSON.stringify(Array.from({ length: MAX_CONFIG_ITEMS + 1 }, (_, i) => i)), 'big.json'), { path: 'big.json', reason: 'too-many-items' })
  })

  it('locates a fault in every text JSON.parse refuses, and none in valid JSON', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 6 }), fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }), (json, at, insert) => {
      expect(findJsonFault(json)).toBeUndefined()
      const offset = at % (json.length + 1)
      const broken = json.slice(0, offset) + insert + json.slice(offset)
      fc.pre(!broken.startsWith('\uFEFF')) // a leading byte-order mark is accepted on purpose
      let valid = true
      try { JSON.parse(broken) } catch { valid = false }
      if (valid) {
        expect(findJsonFault(broken)).toBeUndefined()
      } else {
        let line: number | undefined
        try { parseJsonConfig(broken, 'p.json') } catch (err) { line = (err as { line?: number }).line }
        expect(line).toBeTypeOf('number')
      }
    }), { numRuns: 1000 })
  })

  it('throws nothing but ConfigParseError on junk', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary' }), async junk => {
      await onlyConfigParseErrors(() => parseJsonConfig(junk, 'junk.json'))
    }), { numRuns: 500 })
  })
})
