import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_CONFIG_ITEMS, MAX_CONFIG_TEXT_BYTES, textItems } from '../../../../src/env/parsers/index.ts'
import { diffItems, expectParseError, onlyConfigParseErrors, shuffled } from './parser-test-kit.ts'

const hosts = `# /etc/hosts
127.0.0.1	localhost
127.0.1.1	shop.example.com	shop

; legacy names
10.0.0.5    db.internal   db
10.0.0.5    db.internal   db
::1     localhost ip6-localhost ip6-loopback
`

describe('textItems', () => {
  it('keys normalised lines by their text and counts repeats', () => {
    expect(Object.fromEntries(textItems(hosts, '/etc/hosts'))).toEqual({
      '127.0.0.1 localhost': '1',
      '127.0.1.1 shop.example.com shop': '1',
      '10.0.0.5 db.internal db': '2',
      '::1 localhost ip6-localhost ip6-loopback': '1'
    })
  })

  it('does not change with line order, whitespace, comments or blank lines', () => {
    const before = textItems(hosts, '/etc/hosts')
    fc.assert(fc.property(fc.integer(), seed => {
      const lines = shuffled(hosts.split('\n'), seed).map(line => `  ${line.replaceAll('\t', '   ')} `)
      expect(textItems([...lines, '# new comment', '', ';another'].join('\r\n'), '/etc/hosts')).toEqual(before)
    }), { numRuns: 30 })
  })

  it('a changed line removes its old item and adds the new one', () => {
    const before = textItems(hosts, '/etc/hosts')
    expect(diffItems(before, textItems(hosts.replace('127.0.0.1\tlocalhost', '127.0.0.1\tlocalhost.localdomain'), '/etc/hosts')))
      .toEqual({ changed: [], added: ['127.0.0.1 localhost.localdomain'], removed: ['127.0.0.1 localhost'] })
    expect(diffItems(before, textItems(hosts.replace('10.0.0.5    db.internal   db\n', ''), '/etc/hosts')))
      .toEqual({ changed: ['10.0.0.5 db.internal db'], added: [], removed: [] })
  })

  it('takes other comment prefixes', () => {
    expect(Object.fromEntries(textItems('// c\n#include <x>\n-- sql\n', 'a.txt', ['//', '--']))).toEqual({ '#include <x>': '1' })
    expect(Object.fromEntries(textItems('# kept\n', 'a.txt', []))).toEqual({ '# kept': '1' })
  })

  it('is bounded', async () => {
    await expectParseError(() => textItems('x'.repeat(MAX_CONFIG_TEXT_BYTES + 1), 'big.txt'), { path: 'big.txt', reason: 'too-large' })
    await expectParseError(() => textItems(Array.from({ length: MAX_CONFIG_ITEMS + 1 }, (_, i) => `line ${i}`).join('\n'), 'many.txt'), { path: 'many.txt', line: MAX_CONFIG_ITEMS + 1, reason: 'too-many-items' })
  })

  it('throws nothing but ConfigParseError on junk', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary' }), fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }), async (junk, prefixes) => {
      await onlyConfigParseErrors(() => textItems(junk, 'junk.txt', prefixes))
    }), { numRuns: 500 })
  })
})
