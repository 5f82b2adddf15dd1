/**
 * Plain text, the fingerprint of last resort (and the fallback when a
 * format's parser refuses a file, issue 4). Each line is trimmed and its
 * runs of whitespace collapsed to one space; blank lines and comment lines
 * (starting with one of `commentPrefixes`, `#` and `;` by default) are
 * dropped.
 *
 * Items: the normalised line itself is the item name, and the value is how
 * many times it occurs ("1", "2", ...). So reordering lines changes nothing
 * and a duplicated line is seen. Text has no keys: changing a line removes
 * the item of its old text and adds one for the new text (unless either
 * occurs elsewhere too, then a count changes).
 */
import { ConfigParseError } from '../errors.ts'
import type { ConfigItems } from '../types.ts'
import { MAX_CONFIG_ITEMS } from './constants.ts'
import { checkTextSize, splitLines } from './text-lines.ts'

export const DEFAULT_COMMENT_PREFIXES: readonly string[] = ['#', ';']

export function textItems (text: string, path: string, commentPrefixes: readonly string[] = DEFAULT_COMMENT_PREFIXES): ConfigItems {
  checkTextSize(text, path)
  const prefixes = commentPrefixes.filter(prefix => prefix !== '')
  const counts = new Map<string, number>()
  splitLines(text).forEach((raw, index) => {
    const line = raw.trim().replace(/\s+/g, ' ')
    if (line === '' || prefixes.some(prefix => line.startsWith(prefix))) return
    const count = counts.get(line)
    if (count === undefined && counts.size >= MAX_CONFIG_ITEMS) {
      throw new ConfigParseError('too-many-items', path, index + 1, `more than ${MAX_CONFIG_ITEMS} distinct lines`)
    }
    counts.set(line, (count ?? 0) + 1)
  })
  const items: ConfigItems = new Map()
  for (const line of [...counts.keys()].sort()) items.set(line, String(counts.get(line)))
  return items
}
