/**
 * Where a JSON text is malformed. `JSON.parse` does the parsing, but V8's
 * messages give no position for many errors (`Unexpected token 'x', ... is
 * not valid JSON`), and a ConfigParseError must name the line. This
 * validator follows RFC 8259's grammar, as `JSON.parse` does, and is only
 * run on text `JSON.parse` has already refused.
 */
import { MAX_NESTING_DEPTH } from './constants.ts'

export interface JsonSyntaxFault {
  /** Offset (UTF-16 code units) of the first character that does not fit. */
  offset: number
  detail: string
}

/** RFC 8259 `number`, matched where the scan stands (sticky). */
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y

class Fault extends Error {
  readonly offset: number
  constructor (offset: number, detail: string) {
    super(detail)
    this.offset = offset
  }
}

/** The first fault in `text`, or undefined when it is valid JSON (or nested too deep to check). */
export function findJsonFault (text: string): JsonSyntaxFault | undefined {
  let pos = 0

  const fail = (detail: string): never => { throw new Fault(pos, detail) }
  const describe = (): string => pos >= text.length ? 'the end of the text' : JSON.stringify(text[pos])
  const space = (): void => {
    while (pos < text.length && (text[pos] === ' ' || text[pos] === '\t' || text[pos] === '\n' || text[pos] === '\r')) pos++
  }
  const expect = (c: string, what: string): void => {
    if (text[pos] !== c) fail(`expected ${what}, found ${describe()}`)
    pos++
  }

  const string = (): void => {
    expect('"', 'a string')
    for (;;) {
      if (pos >= text.length) fail('unterminated string')
      const c = text.charCodeAt(pos)
      if (c === 0x22) { pos++; return }
      if (c < 0x20) fail('control character in a string (write it as an escape)')
      if (c === 0x5c) {
        pos++
        const e = text[pos]
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(pos + 1, pos + 5))) fail('"\\u" must be followed by four hex digits')
          pos += 5
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          pos++
        } else {
          fail(`invalid escape "\\${e ?? ''}"`)
        }
      } else {
        pos++
      }
    }
  }

  const number = (): void => {
    NUMBER.lastIndex = pos
    const match = NUMBER.exec(text)
    if (match === null) fail(`expected a value, found ${describe()}`)
    pos += match?.[0].length ?? 0
  }

  const value = (depth: number): void => {
    if (depth > MAX_NESTING_DEPTH) throw new Fault(-1, 'too deep')
    space()
    const c = text[pos]
    if (c === '{') {
      pos++
      space()
      if (text[pos] === '}') { pos++; return }
      for (;;) {
        space()
        string()
        space()
        expect(':', '":" after an object key')
        value(depth + 1)
        space()
        if (text[pos] === '}') { pos++; return }
        expect(',', '"," or "}" in an object')
      }
    }
    if (c === '[') {
      pos++
      space()
      if (text[pos] === ']') { pos++; return }
      for (;;) {
        value(depth + 1)
        space()
        if (text[pos] === ']') { pos++; return }
        expect(',', '"," or "]" in an array')
      }
    }
    if (c === '"') { string(); return }
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, pos)) { pos += literal.length; return }
    }
    number()
  }

  try {
    value(0)
    space()
    if (pos < text.length) fail(`unexpected ${describe()} after the JSON value`)
    return undefined
  } catch (err) {
    if (!(err instanceof Fault)) throw err
    return err.offset < 0 ? undefined : { offset: err.offset, detail: err.message }
  }
}

/** The 1-based line of `offset`, counting `\r\n`, `\n` and a lone `\r` as line ends. */
export function lineAt (text: string, offset: number): number {
  let line = 1
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text[i]
    if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++
  }
  return line
}
