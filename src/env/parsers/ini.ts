/**
 * php.ini-style files (PHP's own `zend_ini` syntax, which most INI files
 * follow): `[section]` headers, `key = value` lines, `;` comments anywhere
 * outside quotes and `#` comment lines, `"double"` and `'single'` quoted
 * values (a double-quoted value may run over several lines), `key[] = v`
 * arrays.
 *
 * Items: `section.key`, or `key` before any section; keys and sections keep
 * their case. Values are unquoted, with runs of whitespace outside quotes
 * collapsed to one space. A key that occurs more than once in a section
 * (`extension=`, `key[]=`) is one item: the sorted distinct values joined
 * with "\n" (see item-collector.ts), so reordering lines changes nothing.
 *
 * Values are kept as written (`On` and `1` differ): the fingerprint says a
 * file changed, not whether PHP would read the change as equal.
 */
import { ConfigParseError } from '../errors.ts'
import type { ConfigItems } from '../types.ts'
import { ItemCollector } from './item-collector.ts'
import { checkTextSize, splitLines } from './text-lines.ts'

/** A key: no quotes, brackets or comment char, optionally ending in one `[offset]`. */
const KEY = /^[^;"'[\]{}=]+(\[[^;"'[\]{}=]*\])?$/

const EXPECTED = 'expected "key = value" or "[section]"'

export function parseIni (text: string, path: string): ConfigItems {
  checkTextSize(text, path)
  const lines = splitLines(text)
  const items = new ItemCollector(path)
  let section: string | undefined
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1
    const line = (lines[i] ?? '').trim()
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue
    if (line.startsWith('[')) {
      section = sectionName(line, path, lineNo)
      continue
    }
    const eq = line.indexOf('=')
    if (eq < 0) throw new ConfigParseError('syntax', path, lineNo, EXPECTED)
    const key = line.slice(0, eq).trim().replace(/\s+/g, ' ')
    if (key === '') throw new ConfigParseError('syntax', path, lineNo, `${EXPECTED}: the key is empty`)
    if (!KEY.test(key)) throw new ConfigParseError('syntax', path, lineNo, `${EXPECTED}: invalid key ${JSON.stringify(key)}`)
    const value = scanValue(lines, i, eq + 1, path)
    i = value.lastLine
    items.add(section === undefined ? key : `${section}.${key}`, value.text, lineNo)
  }
  return items.finish()
}

function sectionName (line: string, path: string, lineNo: number): string {
  const close = line.indexOf(']')
  if (close < 0) throw new ConfigParseError('syntax', path, lineNo, `${EXPECTED}: "[" without "]"`)
  const rest = line.slice(close + 1).trim()
  if (rest !== '' && !rest.startsWith(';')) {
    throw new ConfigParseError('syntax', path, lineNo, `unexpected ${JSON.stringify(rest)} after "[section]"`)
  }
  const name = line.slice(1, close).trim()
  if (name === '') throw new ConfigParseError('syntax', path, lineNo, 'empty section name')
  return name
}

/**
 * Reads a value starting at `lines[first]` column `start`: stops at a `;`
 * outside quotes; an open quote continues onto the next line (the newline
 * is part of the value), and one still open at the end of the file is an
 * error at the line where it opened.
 */
function scanValue (lines: string[], first: number, start: number, path: string): { text: string, lastLine: number } {
  const parts: string[] = []
  let quote: '"' | "'" | undefined
  let pendingSpace = false
  let lineIndex = first
  let line = lines[first] ?? ''
  let pos = start
  for (;;) {
    if (pos >= line.length) {
      if (quote === undefined) break
      lineIndex++
      if (lineIndex >= lines.length) {
        throw new ConfigParseError('syntax', path, first + 1, `unterminated ${quote === '"' ? 'double' : 'single'}-quoted value`)
      }
      parts.push('\n')
      line = lines[lineIndex] ?? ''
      pos = 0
      continue
    }
    const c = line[pos] ?? ''
    pos++
    if (quote === '"') {
      if (c === '\\' && (line[pos] === '"' || line[pos] === '\\')) {
        parts.push(line[pos] ?? '')
        pos++
      } else if (c === '"') {
        quote = undefined
      } else {
        parts.push(c)
      }
    } else if (quote === "'") {
      if (c === "'") quote = undefined
      else parts.push(c)
    } else if (c === ';') {
      break
    } else if (c === ' ' || c === '\t') {
      pendingSpace = parts.length > 0
    } else {
      if (pendingSpace) parts.push(' ')
      pendingSpace = false
      if (c === '"' || c === "'") quote = c
      else parts.push(c)
    }
  }
  return { text: parts.join(''), lastLine: lineIndex }
}
