import { readFile } from 'node:fs/promises'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_CONFIG_ITEMS, parseYamlConfig } from '../../../../src/env/parsers/index.ts'
import { diffItems, expectOneChange, expectParseError, fixturePath, junkText, onlyConfigParseErrors, shuffled } from './parser-test-kit.ts'

const path = fixturePath('app.yaml')
let text: string

beforeAll(async () => { text = await readFile(path, 'utf8') })

const lineOf = (needle: string): number => text.split('\n').findIndex(line => line.includes(needle)) + 1

/**
 * Top-level keys shuffled (`defaults` stays first: its anchor must come
 * before the alias), and the children of the flat blocks shuffled too.
 */
function reordered (source: string, seed: number): string {
  const blocks: string[][] = []
  for (const line of source.split('\n')) {
    if (/^[^\s#]/.test(line) || blocks.length === 0) blocks.push([line])
    else blocks[blocks.length - 1]?.push(line)
  }
  const anchored = blocks.findIndex(([head = '']) => head.startsWith('defaults:')) + 1
  return [...blocks.slice(0, anchored), ...shuffled(blocks.slice(anchored), seed)].map(([head = '', ...body]) => {
    const flat = body.every(line => line.trim() === '' || /^ {2}[a-z_]+: [^|>&*]*$/.test(line))
    return [head, ...(flat ? shuffled(body.filter(line => line.trim() !== ''), seed + 1) : body)].join('\n')
  }).join('\n')
}

describe('parseYamlConfig on an application config', () => {
  it('has one item per leaf, with aliases and merge keys resolved', () => {
    const items = parseYamlConfig(text, path)
    expect(items.get('defaults.pool')).toBe('5')
    expect(items.get('production.adapter')).toBe('"mysql2"')
    expect(items.get('production.pool')).toBe('5')
    expect(items.get('production.port')).toBe('3306')
    expect(items.has('production["<<"]')).toBe(false)
    expect(items.get('server.listen')).toBe('"0.0.0.0:8080"')
    expect(items.get('server.tls')).toBe('false')
    expect(items.get('mail.from')).toBe('"Shop <noreply@example.com>"')
    expect(items.get('mail.smtp.starttls')).toBe('"no"')
    expect(items.get('features[1]')).toBe('"wishlist"')
    expect(items.get('i18n["fr.CA"]')).toBe('"fr-FR"')
    expect(items.get('i18n.available[2]')).toBe('"fr-FR"')
    expect(items.get('logging.targets[0].rotate.days')).toBe('14')
    expect(items.get('session.domain')).toBe('null')
    expect(items.get('session.notes')).toBe(JSON.stringify('Sessions are stored in redis when the cache driver is redis,\notherwise on disk.\n'))
  })

  it('changes exactly one item when one value changes', () => {
    const before = parseYamlConfig(text, path)
    expectOneChange(before, parseYamlConfig(text.replace('workers: 4', 'workers: 8'), path), 'server.workers')
    expectOneChange(before, parseYamlConfig(text.replace('  - wishlist', '  - wish-list'), path), 'features[1]')
    expectOneChange(before, parseYamlConfig(text.replace('rotate: { days: 14 }', 'rotate: { days: 7 }'), path), 'logging.targets[0].rotate.days')
    expectOneChange(before, parseYamlConfig(text.replace('starttls: no ', 'starttls: false '), path), 'mail.smtp.starttls')
    // A value shared through an anchor is one line but two items: the document says so.
    expect(diffItems(before, parseYamlConfig(text.replace('pool: 5', 'pool: 10'), path)))
      .toEqual({ changed: ['defaults.pool', 'production.pool'], added: [], removed: [] })
  })

  it('does not change when keys move, styles change or comments change', () => {
    const before = parseYamlConfig(text, path)
    for (const seed of [1, 2, 3, 7, 11]) {
      expect(reordered(text, seed)).not.toBe(text)
      expect(parseYamlConfig(reordered(text, seed), path)).toEqual(before)
    }
    const restyled = text
      .replace('rotate: { days: 14 }', 'rotate:\n        days: 14')
      .replace('available: [de-DE, en-GB, fr-FR]', 'available:\n    - "de-DE"\n    - en-GB\n    - \'fr-FR\'')
      .replace('driver: redis', 'driver: "redis"  # the default')
      .replace('# Webshop deployment settings (read by the shop\'s config loader).', '# Settings.\n\n# More notes.\n')
      .replace('   # behind Apache\'s reverse proxy', '')
      .replaceAll('\n\n', '\n\n# ---\n\n')
    expect(parseYamlConfig(restyled, path)).toEqual(before)
  })

  it('names leaves of a multi-document stream by document', () => {
    expect(Object.fromEntries(parseYamlConfig('a: 1\n---\nb: [2]\n---\n"x"\n', 's.yaml'))).toEqual({ '$0.a': '1', '$1.b[0]': '2', $2: '"x"' })
    expect(Object.fromEntries(parseYamlConfig('a: 1\n--- # nothing here\n', 's.yaml'))).toEqual({ a: '1' })
    expect(parseYamlConfig('', 'e.yaml').size).toBe(0)
    expect(parseYamlConfig('# only a comment\n', 'e.yaml').size).toBe(0)
    expect(Object.fromEntries(parseYamlConfig('1: one\ntrue: yes\n~: nothing\n? [a, b]\n: pair\n', 'k.yaml')))
      .toEqual({ '["1"]': '"one"', true: '"yes"', null: '"nothing"', '["?[\\"a\\",\\"b\\"]"]': '"pair"' })
    expect(Object.fromEntries(parseYamlConfig('a: .inf\nb: -.inf\nc: .nan\nd: 0x1F\n', 'n.yaml'))).toEqual({ a: 'Infinity', b: '-Infinity', c: 'NaN', d: '31' })
  })

  it('names the file and line of malformed input', async () => {
    await expectParseError(() => parseYamlConfig(text.replace('workers: 4', 'workers: 4\n  workers: 5'), path), { path, line: lineOf('workers: 4') + 1, reason: 'syntax', message: /duplicate mapping key "workers"/ })
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}: ${i}`)
    await expectParseError(() => parseYamlConfig([...keys, 'k17: again'].join('\n'), 'dup.yaml'), { path: 'dup.yaml', line: 5001, message: /"k17"/ })
    await expectParseError(() => parseYamlConfig(text.replace('  workers: 4', ' workers: 4'), path), { path, line: 'any', reason: 'syntax' })
    await expectParseError(() => parseYamlConfig(text.replace('available: [de-DE, en-GB, fr-FR]', 'available: [de-DE, en-GB'), path), { path, line: 'any', reason: 'syntax' })
    await expectParseError(() => parseYamlConfig(text.replace('<<: *defaults', '<<: *missing'), path), { path, line: lineOf('<<: *defaults'), reason: 'syntax', message: /alias \*missing has no anchor/ })
  })

  it('refuses alias bombs, deep nesting and too many leaves', async () => {
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (const [prev, next] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'g'], ['g', 'h'], ['h', 'i']]) {
      bomb.push(`${next ?? ''}: &${next ?? ''} [${Array(9).fill(`*${prev ?? ''}`).join(',')}]`)
    }
    await expectParseError(() => parseYamlConfig(bomb.join('\n'), 'bomb.yaml'), { path: 'bomb.yaml', reason: 'too-many-items' })
    await expectParseError(() => parseYamlConfig(`${'['.repeat(100)}${']'.repeat(100)}`, 'deep.yaml'), { path: 'deep.yaml', reason: 'too-deep' })
    await expectParseError(() => parseYamlConfig(Array.from({ length: MAX_CONFIG_ITEMS + 1 }, (_, i) => `k${i}: ${i}`).join('\n'), 'big.yaml'), { path: 'big.yaml', reason: 'too-many-items' })
  })

  it('throws nothing but ConfigParseError on junk', async () => {
    const junk = fc.oneof(fc.string({ unit: 'binary' }), junkText(['a:', ' b:', '- ', '&x ', '*x', '<<: ', '[', ']', '{', '}', ',', '---\n', '|\n', '!!binary ', '? ', '  ', '%YAML 1.1\n']))
    await fc.assert(fc.asyncProperty(junk, async text => {
      await onlyConfigParseErrors(() => parseYamlConfig(text, 'junk.yaml'))
    }), { numRuns: 500 })
  })
})
