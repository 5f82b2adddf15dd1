/**
 * MySQL/MariaDB option files (my.cnf), following mysys
 * `search_default_file_with_ext`: `[group]` lines, `option = value` and bare
 * `option` (a flag: value ""), `#` and `;` comment lines, a `#` comment may
 * also end an option line outside quotes, a value wrapped in matching quotes
 * is unquoted, `!include FILE` and `!includedir DIR` (the `.cnf` files of
 * DIR, sorted) are followed.
 *
 * Items:
 * - `group.option`: MySQL matches group names regardless of case, so groups
 *   are lower-cased; `-` and `_` in option names mean the same to MySQL, so
 *   they are normalised to `_` (`skip-networking` is `mysqld.skip_networking`).
 *   Options from every included file merge into the same names, as in MySQL;
 *   an option set more than once (in one file or across files) is one item
 *   with its sorted distinct values (see item-collector.ts).
 * - `!include FILE` and `!includedir DIR` (as written) with value "" when
 *   they named at least one file and "missing" when they named none, so a
 *   missing include is a fact of the environment, not an error.
 *
 * Escape sequences (`\n`, `\s`, ...) are kept as written: the fingerprint
 * compares files, it does not need MySQL's reading of them.
 */
import { ConfigParseError } from '../errors.ts'
import type { ConfigItems, ReadIncludes } from '../types.ts'
import { IncludeTracker } from './include-tracker.ts'
import { ItemCollector } from './item-collector.ts'
import { checkTextSize, splitLines } from './text-lines.ts'

const EXPECTED = 'expected "[group]", "option", "option = value", "!include FILE" or "!includedir DIR"'

export async function parseMyCnf (text: string, path: string, readIncludes: ReadIncludes): Promise<ConfigItems> {
  checkTextSize(text, path)
  const items = new ItemCollector(path)
  await parseFile(text, [path], items, new IncludeTracker(readIncludes))
  return items.finish()
}

/** Parses the file at the end of `stack`; groups do not carry over into or out of included files, as in MySQL. */
async function parseFile (text: string, stack: readonly string[], items: ItemCollector, includes: IncludeTracker): Promise<void> {
  const path = stack[stack.length - 1] ?? ''
  const lines = splitLines(text)
  let group: string | undefined
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1
    const line = (lines[i] ?? '').trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    if (line.startsWith('[')) {
      // MySQL ignores whatever follows the closing bracket.
      const close = line.indexOf(']')
      if (close < 0) throw new ConfigParseError('syntax', path, lineNo, `${EXPECTED}: "[" without "]"`)
      const name = line.slice(1, close).trim().toLowerCase()
      if (name === '') throw new ConfigParseError('syntax', path, lineNo, 'empty group name')
      group = name
      continue
    }
    if (line.startsWith('!')) {
      const include = /^!(include|includedir)\s+(\S.*)$/.exec(line)
      if (include === null) throw new ConfigParseError('syntax', path, lineNo, EXPECTED)
      const kind = include[1] ?? ''
      const target = (include[2] ?? '').trim()
      const pattern = kind === 'include' ? target : `${target.replace(/\/+$/, '')}/*.cnf`
      const files = await includes.read(pattern, stack, lineNo)
      items.add(`!${kind} ${target}`, files.length === 0 ? 'missing' : '', lineNo)
      for (const file of files) await parseFile(file.text, [...stack, file.path], items, includes)
      continue
    }
    const option = removeEndComment(line).trim()
    const eq = option.indexOf('=')
    const name = (eq < 0 ? option : option.slice(0, eq)).trim()
    if (name === '' || /[\s"'[\]]/.test(name)) throw new ConfigParseError('syntax', path, lineNo, EXPECTED)
    if (group === undefined) throw new ConfigParseError('syntax', path, lineNo, `option ${JSON.stringify(name)} without a preceding "[group]"`)
    items.add(`${group}.${name.replaceAll('-', '_')}`, eq < 0 ? '' : unquote(option.slice(eq + 1).trim()), lineNo)
  }
}

/** Cuts a `#` comment that is outside quotes, as mysys `remove_end_comment` does. */
function removeEndComment (line: string): string {
  let quote = ''
  let escape = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if ((c === '"' || c === "'") && !escape) {
      if (quote === '') quote = c
      else if (quote === c) quote = ''
    } else if (quote === '' && c === '#') {
      return line.slice(0, i)
    }
    escape = quote !== '' && c === '\\' && !escape
  }
  return line
}

/** A value that starts and ends with the same quote loses the pair. */
function unquote (value: string): string {
  const first = value[0]
  if (value.length >= 2 && (first === '"' || first === "'") && value.endsWith(first)) return value.slice(1, -1)
  return value
}
