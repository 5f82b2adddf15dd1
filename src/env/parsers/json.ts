/**
 * JSON configuration files: one item per leaf, named by its path
 * (leaf-paths.ts), so key order never matters and a changed value changes
 * one item. A duplicate key keeps its last value, as `JSON.parse` and most
 * programs reading JSON do. A leading byte-order mark is ignored.
 */
import { ConfigParseError } from '../errors.ts'
import type { ConfigItems } from '../types.ts'
import { ItemCollector } from './item-collector.ts'
import { findJsonFault, lineAt } from './json-syntax.ts'
import { addLeaves } from './leaf-paths.ts'
import { checkTextSize } from './text-lines.ts'

export function parseJsonConfig (text: string, path: string): ConfigItems {
  checkTextSize(text, path)
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch (err) {
    const fault = findJsonFault(body)
    if (fault !== undefined) {
      throw new ConfigParseError('syntax', path, lineAt(body, fault.offset), fault.detail, { cause: err })
    }
    // Only nesting beyond what the validator walks gets here.
    throw new ConfigParseError('syntax', path, undefined, `not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  const items = new ItemCollector(path)
  addLeaves(items, value, '')
  return items.finish()
}
