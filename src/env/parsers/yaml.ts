/**
 * YAML configuration files (YAML 1.2 core schema, read with eemeli/yaml):
 * one item per leaf, named by its path (leaf-paths.ts), so mapping key
 * order never matters and a changed value changes one item.
 *
 * - Anchors, aliases and `<<` merge keys are resolved, as the programs that
 *   read these files (docker compose, Ansible) do; an alias expansion past
 *   MAX_YAML_ALIAS_COUNT ("billion laughs") is refused, and so are more than
 *   MAX_CONFIG_ITEMS leaves or nesting past MAX_NESTING_DEPTH.
 * - A duplicate mapping key is an error, as YAML 1.2 says, and so is an
 *   alias without an anchor before it; both name their line.
 * - A stream of several documents (`---`) names each document's leaves
 *   with `$index` first (`$1.spec.replicas`), counting only documents that
 *   have content; a single document has no prefix.
 */
import { LineCounter, isScalar, parseAllDocuments, visit } from 'yaml'
import type { Document, Node } from 'yaml'
import { ConfigParseError } from '../errors.ts'
import type { ConfigItems } from '../types.ts'
import { MAX_YAML_ALIAS_COUNT } from './constants.ts'
import { ItemCollector } from './item-collector.ts'
import { addLeaves } from './leaf-paths.ts'
import { checkTextSize } from './text-lines.ts'

export function parseYamlConfig (text: string, path: string): ConfigItems {
  checkTextSize(text, path)
  const documents = parse(text, path).filter(document => !isEmpty(document.contents))
  const items = new ItemCollector(path)
  documents.forEach((document, index) => {
    let value: unknown
    try {
      value = document.toJS({ mapAsMap: true, maxAliasCount: MAX_YAML_ALIAS_COUNT })
    } catch (err) {
      throw resolveError(err, path)
    }
    addLeaves(items, value, documents.length > 1 ? `$${index}` : '')
  })
  return items.finish()
}

function parse (text: string, path: string): Document.Parsed[] {
  const lines = new LineCounter()
  try {
    // yaml's own duplicate-key check compares each key with every earlier
    // one (quadratic: seconds for 10,000 keys); `checkDocument` uses a Set.
    const documents: Document.Parsed[] = parseAllDocuments(text, { merge: true, uniqueKeys: false, lineCounter: lines })
    for (const document of documents) {
      const [error] = document.errors
      if (error !== undefined) {
        const detail = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')
        throw new ConfigParseError('syntax', path, error.linePos?.[0].line, detail, { cause: error })
      }
      checkDocument(document, path, lines)
    }
    return documents
  } catch (err) {
    if (err instanceof ConfigParseError) throw err
    // The composer and the visitor recurse per nesting level: a
    // pathological document can exhaust the stack before our depth check.
    throw new ConfigParseError(err instanceof RangeError ? 'too-deep' : 'syntax', path, undefined, `not valid YAML: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

/** Duplicate scalar keys in one mapping, and aliases with no anchor before them, with their lines. */
function checkDocument (document: Document.Parsed, path: string, lines: LineCounter): void {
  const lineOf = (node: Node | null): number | undefined => node?.range == null ? undefined : lines.linePos(node.range[0]).line
  visit(document, {
    Map (_key, map) {
      const seen = new Set<string>()
      for (const { key } of map.items) {
        // Same rule as yaml's `uniqueKeys`: scalar keys with equal values.
        if (!isScalar(key) || typeof key.value === 'object' || Number.isNaN(key.value)) continue
        const id = `${typeof key.value}:${String(key.value)}`
        if (seen.has(id)) throw new ConfigParseError('syntax', path, lineOf(key), `duplicate mapping key ${JSON.stringify(String(key.value))}`)
        seen.add(id)
      }
    },
    Alias (_key, alias) {
      if (alias.resolve(document) === undefined) {
        throw new ConfigParseError('syntax', path, lineOf(alias), `alias *${alias.source} has no anchor &${alias.source} before it`)
      }
    }
  })
}

/** A document with nothing in it (`---` alone, or only comments) parses to an empty plain null. */
function isEmpty (contents: unknown): boolean {
  return contents === null || (isScalar(contents) && contents.value === null && contents.source === '' && contents.range?.[0] === contents.range?.[1])
}

/**
 * What `toJS` threw, as a ConfigParseError: yaml throws a ReferenceError
 * for an alias bomb ("Excessive alias count ..."), and a RangeError when a
 * resolved structure is too deep for the stack.
 */
function resolveError (err: unknown, path: string): ConfigParseError {
  if (err instanceof ConfigParseError) return err
  const message = err instanceof Error ? err.message : String(err)
  const reason = err instanceof RangeError ? 'too-deep' : /excessive alias count/i.test(message) ? 'too-many-items' : 'syntax'
  return new ConfigParseError(reason, path, undefined, `cannot resolve the document: ${message}`, { cause: err })
}
