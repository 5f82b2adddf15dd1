/**
 * Following includes safely, for the formats that have them (my.cnf's
 * `!include`, Apache's `Include`): the depth of the include chain, cycles
 * (a file that includes itself through others), each file's size and the
 * total number and size of included files are bounded, and I/O failures
 * of the reader become ConfigParseErrors, so a parser's caller has one
 * error to handle.
 */
import { ConfigParseError } from '../errors.ts'
import type { IncludedFile, ReadIncludes } from '../types.ts'
import { MAX_INCLUDED_FILES, MAX_INCLUDED_TEXT_BYTES, MAX_INCLUDE_DEPTH } from './constants.ts'
import { checkTextSize } from './text-lines.ts'

export class IncludeTracker {
  readonly #readIncludes: ReadIncludes
  #filesRead = 0
  #bytesRead = 0

  constructor (readIncludes: ReadIncludes) {
    this.#readIncludes = readIncludes
  }

  /**
   * The files `pattern` names, read from the file at the end of `stack` (the
   * chain of files from the one being parsed to the includer) at `line`.
   */
  async read (pattern: string, stack: readonly string[], line: number): Promise<IncludedFile[]> {
    const from = stack[stack.length - 1] ?? ''
    if (stack.length > MAX_INCLUDE_DEPTH) {
      throw new ConfigParseError('include-depth', from, line, `includes nested more than ${MAX_INCLUDE_DEPTH} deep: ${stack.join(' → ')}`)
    }
    let files: IncludedFile[]
    try {
      files = await this.#readIncludes(pattern, from)
    } catch (err) {
      // A system error (EACCES, ELOOP, ...) is a fact about this machine's
      // files; anything else is a bug in the reader and must stay visible.
      if (err instanceof Error && err.name !== 'ConfigParseError' && typeof (err as NodeJS.ErrnoException).code === 'string') {
        throw new ConfigParseError('include-unreadable', from, line, `cannot read include ${JSON.stringify(pattern)}: ${err.message}`, { cause: err })
      }
      throw err
    }
    for (const file of files) {
      if (stack.includes(file.path)) {
        throw new ConfigParseError('include-cycle', from, line, `include cycle: ${[...stack, file.path].join(' → ')}`)
      }
      checkTextSize(file.text, file.path)
      this.#bytesRead += Buffer.byteLength(file.text, 'utf8')
    }
    this.#filesRead += files.length
    if (this.#filesRead > MAX_INCLUDED_FILES) {
      throw new ConfigParseError('too-many-items', from, line, `more than ${MAX_INCLUDED_FILES} included files`)
    }
    if (this.#bytesRead > MAX_INCLUDED_TEXT_BYTES) {
      throw new ConfigParseError('too-large', from, line, `includes add up to more than ${MAX_INCLUDED_TEXT_BYTES} bytes`)
    }
    return files
  }
}
