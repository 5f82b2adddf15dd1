import { readFile } from 'node:fs/promises'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_CONFIG_TEXT_BYTES, parseIni } from '../../../../src/env/parsers/index.ts'
import { diffItems, expectOneChange, expectParseError, fixturePath, junkText, onlyConfigParseErrors, recommented, shuffled } from './parser-test-kit.ts'

const path = fixturePath('php.ini')
let text: string

beforeAll(async () => { text = await readFile(path, 'utf8') })

/** The fixture with lines shuffled within each section and the sections shuffled among themselves. */
function reordered (source: string, seed: number): string {
  const sections: string[][] = []
  for (const line of source.split('\n')) {
    if (line.startsWith('[') || sections.length === 0) sections.push([line])
    else sections[sections.length - 1]?.push(line)
  }
  return shuffled(sections, seed).map(([header = '', ...body]) => [header, ...shuffled(body, seed + 1)].join('\n')).join('\n')
}

describe('parseIni on a php.ini', () => {
  it('names items section.key, unquotes values and keeps key case', () => {
    const items = parseIni(text, path)
    expect(items.get('PHP.memory_limit')).toBe('256M')
    expect(items.get('PHP.error_reporting')).toBe('E_ALL & ~E_DEPRECATED & ~E_STRICT')
    expect(items.get('PHP.error_log')).toBe('/var/log/php/error.log')
    expect(items.get('PHP.unserialize_callback_func')).toBe('')
    expect(items.get('Date.date.timezone')).toBe('Europe/Berlin')
    expect(items.get('mail function.SMTP')).toBe('localhost')
    expect(items.get('mail function.sendmail_path')).toBe('/usr/sbin/sendmail -t -i')
    expect(items.get('Session.session.cookie_path')).toBe('/')
    expect(items.has('PHP.extension=pgsql')).toBe(false)
    expect([...items.keys()]).toEqual([...items.keys()].sort())
  })

  it('makes repeated keys one item: the sorted distinct values', () => {
    const items = parseIni(text, path)
    expect(items.get('PHP.extension')).toBe(['curl', 'gd', 'intl', 'mbstring', 'mysqli', 'openssl', 'pdo_mysql'].join('\n'))
    expect(items.get('PHP.zend_extension')).toBe('opcache')
  })

  it('changes exactly one item when one directive changes', () => {
    const before = parseIni(text, path)
    expectOneChange(before, parseIni(text.replace('memory_limit = 256M', 'memory_limit = 512M'), path), 'PHP.memory_limit')
    expectOneChange(before, parseIni(text.replace('extension=gd\n', 'extension=imagick\n'), path), 'PHP.extension')
    expectOneChange(before, parseIni(text.replace(';extension=pgsql', 'extension=pgsql'), path), 'PHP.extension')
    expectOneChange(before, parseIni(text.replace('session.cookie_samesite = "Lax"', 'session.cookie_samesite = "Strict"'), path), 'Session.session.cookie_samesite')
    expect(diffItems(before, parseIni(text.replace('expose_php = Off', 'expose_php = Off\nassert.active = 0'), path)))
      .toEqual({ changed: [], added: ['PHP.assert.active'], removed: [] })
  })

  it('does not change when lines move within sections or sections move', () => {
    const before = parseIni(text, path)
    fc.assert(fc.property(fc.integer(), seed => {
      expect(reordered(text, seed)).not.toBe(text)
      expect(parseIni(reordered(text, seed), path)).toEqual(before)
    }), { numRuns: 30 })
  })

  it('does not change when comments, blank lines or quoting change', () => {
    const before = parseIni(text, path)
    expect(parseIni(recommented(text, line => line.startsWith(';'), ';'), path)).toEqual(before)
    expect(parseIni(recommented(text, line => line.startsWith(';'), '#'), path)).toEqual(before)
    const requoted = text
      .replace('memory_limit = 256M   ; raised for the image resizer', 'memory_limit="256M";other note')
      .replace('session.name = PHPSESSID', "session.name = 'PHPSESSID'")
      .replace('error_reporting = E_ALL & ~E_DEPRECATED & ~E_STRICT', 'error_reporting =   E_ALL  &\t~E_DEPRECATED & ~E_STRICT  ')
    expect(parseIni(requoted, path)).toEqual(before)
    expect(parseIni(text.replaceAll('\n', '\r\n'), path)).toEqual(before)
  })

  it('reads quoted values with ";", escapes and newlines', () => {
    const items = parseIni('a = "x;y" ; comment\nb = "say \\"hi\\""\nc = \'raw \\n\'\nd = "two\nlines"\ne = f[]\n[s]\nk[] = 1\nk[] = 2\n', 'x.ini')
    expect(Object.fromEntries(items)).toEqual({ a: 'x;y', b: 'say "hi"', c: 'raw \\n', d: 'two\nlines', e: 'f[]', 's.k[]': '1\n2' })
  })

  it('names the file and line of malformed input', async () => {
    const lines = text.split('\n')
    const at = lines.indexOf('max_input_time = 60')
    expect(at).toBeGreaterThan(0)
    const broken = (replacement: string): string => lines.map((line, i) => i === at ? replacement : line).join('\n')
    await expectParseError(() => parseIni(broken('max_input_time 60'), path), { path, line: at + 1, reason: 'syntax', message: /expected "key = value" or "\[section\]"/ })
    await expectParseError(() => parseIni(broken('[Resource Limits'), path), { path, line: at + 1, reason: 'syntax' })
    await expectParseError(() => parseIni(broken('= 60'), path), { path, line: at + 1 })
    await expectParseError(() => parseIni(broken('[] ; empty'), path), { path, line: at + 1 })
    await expectParseError(() => parseIni(broken('max_input_time = "60'), path), { path, line: at + 1, message: /unterminated/ })
    await expectParseError(() => parseIni(broken('[Limits] trailing'), path), { path, line: at + 1 })
  })

  it('stays linear on a long multi-line quoted value', () => {
    const started = performance.now()
    expect(parseIni(`a = "${'x\n'.repeat(1_000_000)}"\n`, 'long.ini').get('a')?.length).toBe(2_000_000)
    expect(performance.now() - started).toBeLessThan(20_000)
  })

  it('refuses text over the size limit', async () => {
    await expectParseError(() => parseIni(`a = ${'x'.repeat(MAX_CONFIG_TEXT_BYTES)}`, path), { path, reason: 'too-large' })
  })

  it('throws nothing but ConfigParseError on junk', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary' }), junkText(['[', ']', 'key', '=', 'extension', '[PHP]', 'a[]', '[x] ;'])), async junk => {
      await onlyConfigParseErrors(() => parseIni(junk, 'junk.ini'))
    }), { numRuns: 500 })
  })
})
