/**
 * The output side every parser shares. Parsers add (name, value) pairs in
 * file order; the collector makes the result independent of that order:
 *
 * - a name added once keeps its value;
 * - a name added more than once (php's `extension=`, Apache's `Listen`,
 *   an option set in two my.cnf files) becomes ONE item whose value is the
 *   sorted distinct values joined with "\n".
 *
 * So reordering lines changes nothing, and changing one line changes exactly
 * the one item its name maps to. The price: for a scalar key set twice, where
 * the program keeps the last value, the item records both values rather than
 * the winner; that is an environment that differs from one setting it once,
 * which is the conservative side for clustering.
 */
import { ConfigParseError } from '../errors.ts'
import type { ConfigItems } from '../types.ts'
import { MAX_CONFIG_ITEMS } from './constants.ts'

export class ItemCollector {
  readonly path: string
  readonly #values = new Map<string, string | Set<string>>()

  constructor (path: string) {
    this.path = path
  }

  /** Records one occurrence of `name`; `line` is only used for the item-limit error. */
  add (name: string, value: string, line?: number): void {
    const seen = this.#values.get(name)
    if (seen === undefined) {
      if (this.#values.size >= MAX_CONFIG_ITEMS) {
        throw new ConfigParseError('too-many-items', this.path, line, `more than ${MAX_CONFIG_ITEMS} items`)
      }
      this.#values.set(name, value)
    } else if (typeof seen === 'string') {
      if (seen !== value) this.#values.set(name, new Set([seen, value]))
    } else {
      seen.add(value)
    }
  }

  /** The items, sorted by name so even the Map's iteration order is independent of the file's. */
  finish (): ConfigItems {
    const items: ConfigItems = new Map()
    for (const name of [...this.#values.keys()].sort()) {
      const value = this.#values.get(name)
      if (value === undefined) continue
      items.set(name, typeof value === 'string' ? value : [...value].sort().join('\n'))
    }
    return items
  }
}
