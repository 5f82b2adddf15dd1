/**
 * Apache httpd 2.4 configuration (apache2.conf, httpd.conf and what they
 * include). Lines and words as httpd reads them (apache-lines.ts); `#`
 * comment lines; `<Section args>` ... `</Section>` blocks; `Include` and
 * `IncludeOptional` followed where they stand, inside the current sections.
 * Sections are not evaluated (`<IfModule>` may depend on modules we cannot
 * know), only recorded as context.
 *
 * Item names: the context, then the directive:
 *   `<virtualhost *:80>/<directory /var/www>/options`
 * - httpd matches directive and section names case-insensitively, so item
 *   names use them lower-cased; arguments keep their case and are rendered
 *   by `renderWord` (quotes only where needed, so `"/var/www"` = `/var/www`).
 * - Most directives: one item per (context, directive), value the rendered
 *   arguments; a directive repeated in one context (`Listen 80` and
 *   `Listen 443`) is one item with the sorted distinct argument lists
 *   joined by "\n" (item-collector.ts).
 * - Directives whose first argument names what they set (KEYED_BY_FIRST,
 *   e.g. `LoadModule rewrite_module ...`, `SetEnv`, `php_value`, `AddType`)
 *   are keyed by it: `loadmodule rewrite_module` → the module file; so each
 *   module is its own item. `LogFormat format nickname` is keyed by the
 *   nickname (its last argument).
 * - `Include x` / `IncludeOptional x` → item `include x` / `includeoptional x`
 *   with value "", or "missing" for an `Include` that named no file (httpd
 *   refuses to start then; here it is a fact of the environment). The
 *   included directives follow with the includer's context.
 * - Sections with the same name and arguments in one context (two
 *   `<VirtualHost *:80>` blocks) share their context: no name depends on
 *   the order of blocks.
 *
 * Either way a change to one directive changes exactly one item, and
 * reordering lines within a section, or sections among themselves, changes
 * nothing. A relative include path is resolved against `ServerRoot` when one
 * was set before it (httpd reads ServerRoot as it goes), otherwise by the
 * reader against the including file's directory.
 */
import { ConfigParseError } from '../errors.ts'
import type { ConfigItems, ReadIncludes } from '../types.ts'
import { logicalLines, renderWord, words } from './apache-lines.ts'
import { MAX_NESTING_DEPTH } from './constants.ts'
import { IncludeTracker } from './include-tracker.ts'
import { ItemCollector } from './item-collector.ts'
import { checkTextSize, splitLines } from './text-lines.ts'

/** httpd directive names: a letter, then letters, digits, `_` or `-`. */
const DIRECTIVE = /^[A-Za-z][A-Za-z0-9_-]*$/

/** Directives (lower-case) whose first argument names the thing they set. */
const KEYED_BY_FIRST: ReadonlySet<string> = new Set([
  'loadmodule', 'setenv', 'define', 'alias', 'aliasmatch', 'scriptalias', 'scriptaliasmatch',
  'errordocument', 'addtype', 'addhandler', 'addoutputfilter', 'addinputfilter', 'addcharset',
  'addlanguage', 'addencoding', 'addoutputfilterbytype', 'customlog', 'proxypass', 'proxypassreverse',
  'php_value', 'php_flag', 'php_admin_value', 'php_admin_flag'
])

/** Directives (lower-case) whose last argument names the thing they set. */
const KEYED_BY_LAST: ReadonlySet<string> = new Set(['logformat'])

interface ParseState {
  items: ItemCollector
  includes: IncludeTracker
  serverRoot?: string
}

interface OpenSection {
  /** Lower-case name, to match the closing tag. */
  name: string
  /** The name as written, for messages. */
  written: string
  /** `<name args>` as it appears in item names. */
  segment: string
  line: number
}

export async function parseApache (text: string, path: string, readIncludes: ReadIncludes): Promise<ConfigItems> {
  checkTextSize(text, path)
  const state: ParseState = { items: new ItemCollector(path), includes: new IncludeTracker(readIncludes) }
  await parseFile(text, [path], [], state)
  return state.items.finish()
}

/**
 * Parses the file at the end of `stack` inside the sections `outer` (the
 * includer's context). A section opened in a file must close in that file,
 * as httpd requires.
 */
async function parseFile (text: string, stack: readonly string[], outer: readonly string[], state: ParseState): Promise<void> {
  const path = stack[stack.length - 1] ?? ''
  const open: OpenSection[] = []
  for (const { text: line, line: lineNo } of logicalLines(splitLines(text))) {
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('</')) {
      closeSection(line, open, path, lineNo)
      continue
    }
    if (line.startsWith('<')) {
      if (outer.length + open.length >= MAX_NESTING_DEPTH) {
        throw new ConfigParseError('too-deep', path, lineNo, `sections nested more than ${MAX_NESTING_DEPTH} deep`)
      }
      open.push(openSection(line, path, lineNo))
      continue
    }
    const [written = '', ...args] = words(line)
    if (!DIRECTIVE.test(written)) {
      throw new ConfigParseError('syntax', path, lineNo, `expected a directive, "<Section ...>" or "</Section>", found ${JSON.stringify(written)}`)
    }
    const directive = written.toLowerCase()
    const context = [...outer, ...open.map(section => section.segment)]
    const prefix = context.map(segment => `${segment}/`).join('')
    if (directive === 'include' || directive === 'includeoptional') {
      await include(directive, written, args, { stack, context, prefix, lineNo }, state)
      continue
    }
    if (directive === 'serverroot' && args[0] !== undefined) state.serverRoot = args[0]
    const [name, value] = item(directive, args)
    state.items.add(prefix + name, value, lineNo)
  }
  const unclosed = open[open.length - 1]
  if (unclosed !== undefined) {
    throw new ConfigParseError('syntax', path, unclosed.line, `"<${unclosed.written}>" is never closed`)
  }
}

function openSection (line: string, path: string, lineNo: number): OpenSection {
  if (!line.endsWith('>')) throw new ConfigParseError('syntax', path, lineNo, 'a "<Section ...>" line must end with ">"')
  const [written = '', ...args] = words(line.slice(1, -1))
  if (!DIRECTIVE.test(written)) {
    throw new ConfigParseError('syntax', path, lineNo, `expected "<Section ...>", found ${JSON.stringify(line)}`)
  }
  const name = written.toLowerCase()
  return { name, written, segment: `<${[name, ...args.map(renderWord)].join(' ')}>`, line: lineNo }
}

function closeSection (line: string, open: OpenSection[], path: string, lineNo: number): void {
  if (!line.endsWith('>')) throw new ConfigParseError('syntax', path, lineNo, 'a "</Section>" line must end with ">"')
  const written = line.slice(2, -1).trim()
  const section = open.pop()
  if (section === undefined) {
    throw new ConfigParseError('syntax', path, lineNo, `"</${written}>" without a matching "<${written}>"`)
  }
  if (section.name !== written.toLowerCase()) {
    throw new ConfigParseError('syntax', path, lineNo, `"</${written}>" closes "<${section.written}>" opened on line ${section.line}`)
  }
}

/** The item name (without context) and value of a directive other than an include. */
function item (directive: string, args: readonly string[]): [string, string] {
  const rendered = args.map(renderWord)
  if (KEYED_BY_FIRST.has(directive) && rendered.length >= 1) {
    return [`${directive} ${rendered[0] ?? ''}`, rendered.slice(1).join(' ')]
  }
  if (KEYED_BY_LAST.has(directive) && rendered.length >= 2) {
    return [`${directive} ${rendered[rendered.length - 1] ?? ''}`, rendered.slice(0, -1).join(' ')]
  }
  return [directive, rendered.join(' ')]
}

interface IncludeSite {
  stack: readonly string[]
  context: readonly string[]
  prefix: string
  lineNo: number
}

async function include (directive: string, written: string, args: readonly string[], site: IncludeSite, state: ParseState): Promise<void> {
  const path = site.stack[site.stack.length - 1] ?? ''
  const [target] = args
  if (target === undefined || args.length !== 1) {
    throw new ConfigParseError('syntax', path, site.lineNo, `${written} takes exactly one path, found ${args.length}`)
  }
  const root = state.serverRoot
  const pattern = target.startsWith('/') || root === undefined ? target : `${root.replace(/\/+$/, '')}/${target}`
  const files = await state.includes.read(pattern, site.stack, site.lineNo)
  state.items.add(`${site.prefix}${directive} ${renderWord(target)}`, directive === 'include' && files.length === 0 ? 'missing' : '', site.lineNo)
  for (const file of files) await parseFile(file.text, [...site.stack, file.path], site.context, state)
}
