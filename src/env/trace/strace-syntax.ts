/**
 * The lexical side of strace's output: splitting `name(arg, arg, ...) = ret`
 * into its parts, and undoing strace's quoting of strings and of the paths
 * `-y` prints after descriptors. Nothing here knows what a call means.
 *
 * strace quotes strings C-style (`\"`, `\\`, `\t`, `\n`, `\v`, `\f`, `\r`)
 * and prints other unprintable bytes as octal (`\303\251`) or, with -x, hex
 * (`\xc3`); in a `-y` path it also escapes `<` and `>` (`\74`, `\76`) but
 * not `,` or `)`, which is why the splitter treats `<...>` after a
 * descriptor as quoted.
 */

/** One call: its name, its top-level arguments as raw text, and the return part after `=`. */
export interface SyscallText {
  name: string
  args: string[]
  /** Everything after `) = `, e.g. `3</etc/app.ini>` or `-1 ENOENT (No such file or directory)`. */
  result: string
}

/** What a return value says. */
export interface SyscallResult {
  /** The value; undefined for `?` (the process died inside the call). */
  value?: number
  /** The path of a returned descriptor (`= 3</etc/app.ini>`), when absolute. */
  path?: string
  /** The error name of a failed call (`ENOENT`). */
  errno?: string
}

const NAME = /^([a-z_][a-z0-9_]*)\(/

/**
 * Splits `name(args) = result`. Undefined when the text is not a whole call
 * (a fragment, junk, or a call whose closing parenthesis is missing).
 */
export function splitSyscall (text: string): SyscallText | undefined {
  const match = NAME.exec(text)
  if (match === null) return undefined
  const name = match[1] as string
  const args: string[] = []
  let depth = 0
  let start = match[0].length
  let i = start
  for (; i < text.length; i++) {
    const ch = text[i]
    if (ch === '"') {
      i = skipQuoted(text, i + 1, '"')
    } else if (ch === '<' && i > 0 && /[A-Za-z0-9_]/.test(text[i - 1] as string)) {
      i = skipQuoted(text, i + 1, '>')
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end === -1 ? text.length : end + 1
    } else if (ch === '(' || ch === '[' || ch === '{') {
      depth++
    } else if (ch === ')' && depth === 0) {
      break
    } else if (ch === ')' || ch === ']' || ch === '}') {
      depth--
    } else if (ch === ',' && depth === 0) {
      args.push(text.slice(start, i).trim())
      start = i + 1
    }
  }
  if (i >= text.length) return undefined
  const last = text.slice(start, i).trim()
  if (last !== '' || args.length > 0) args.push(last)
  const after = /^\s*=\s*/.exec(text.slice(i + 1))
  if (after === null) return undefined
  return { name, args, result: text.slice(i + 1 + after[0].length) }
}

/** Index of the unescaped `close` that ends a quoted run starting at `from`, or text.length. */
function skipQuoted (text: string, from: number, close: string): number {
  for (let i = from; i < text.length; i++) {
    const ch = text[i]
    if (ch === '\\') i++
    else if (ch === close) return i
  }
  return text.length
}

/**
 * A quoted string argument, unescaped. Undefined when the token is not a
 * string, is cut short by strace's -s limit (`"..."...`: the value is
 * incomplete), or does not decode as UTF-8 (Node names files by string).
 */
export function unquoteString (token: string): string | undefined {
  if (!token.startsWith('"')) return undefined
  const end = skipQuoted(token, 1, '"')
  if (end >= token.length || token.slice(end + 1) !== '') return undefined
  return unescapeStrace(token.slice(1, end))
}

const SIMPLE_ESCAPES: Record<string, number> = { n: 0x0a, t: 0x09, v: 0x0b, f: 0x0c, r: 0x0d, a: 0x07, b: 0x08, e: 0x1b }
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** Undoes strace's escaping; undefined when the bytes are not UTF-8. */
export function unescapeStrace (body: string): string | undefined {
  if (!body.includes('\\')) return body
  const bytes: number[] = []
  const encoder = new TextEncoder()
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string
    if (ch !== '\\') {
      const code = ch.charCodeAt(0)
      if (code < 0x80) bytes.push(code)
      else {
        // A non-ASCII character as such (strace prints UTF-8 unescaped in some locales): keep its bytes.
        const point = body.codePointAt(i) as number
        const char = String.fromCodePoint(point)
        for (const b of encoder.encode(char)) bytes.push(b)
        i += char.length - 1
      }
      continue
    }
    const next = body[i + 1]
    if (next === undefined) return undefined
    const octal = /^[0-7]{1,3}/.exec(body.slice(i + 1, i + 4))
    const hex = /^x([0-9a-fA-F]{2})/.exec(body.slice(i + 1, i + 4))
    if (octal !== null) {
      bytes.push(parseInt(octal[0], 8) & 0xff)
      i += octal[0].length
    } else if (hex !== null) {
      bytes.push(parseInt(hex[1] as string, 16))
      i += 3
    } else {
      bytes.push(SIMPLE_ESCAPES[next] ?? next.charCodeAt(0))
      i += 1
    }
  }
  try {
    return UTF8.decode(new Uint8Array(bytes))
  } catch {
    return undefined
  }
}

/** A descriptor argument: `AT_FDCWD`, `3`, or either followed by `-y`'s `<path>`. */
export interface FdText {
  /** `AT_FDCWD` or the number, as printed. */
  fd: string
  /** The path strace printed for it, when absolute (sockets and pipes have none). */
  path?: string
}

/** Splits a descriptor argument and its `-y` path. */
export function parseFd (token: string): FdText {
  const open = token.indexOf('<')
  if (open <= 0 || !token.endsWith('>')) return { fd: token.trim() }
  const fd = token.slice(0, open).trim()
  const path = decoratedPath(token.slice(open + 1, -1))
  return path === undefined ? { fd } : { fd, path }
}

/** A `-y` path: unescaped, without the kernel's ` (deleted)` suffix; undefined unless absolute. */
function decoratedPath (body: string): string | undefined {
  const text = unescapeStrace(body)
  if (text === undefined || !text.startsWith('/')) return undefined
  return text.endsWith(' (deleted)') ? text.slice(0, -' (deleted)'.length) : text
}

const RESULT = /^(0x[0-9a-fA-F]+|-?\d+|\?)(<)?/

/** Reads `3</etc/app.ini>`, `0`, `-1 ENOENT (No such file or directory)` or `?`. */
export function parseResult (result: string): SyscallResult | undefined {
  const match = RESULT.exec(result)
  if (match === null) return undefined
  const text = match[1] as string
  const parsed: SyscallResult = {}
  if (text !== '?') parsed.value = Number(text)
  let rest = result.slice(text.length)
  if (match[2] !== undefined) {
    const end = skipQuoted(rest, 1, '>')
    if (end >= rest.length) return undefined
    const path = decoratedPath(rest.slice(1, end))
    if (path !== undefined) parsed.path = path
    rest = rest.slice(end + 1)
  }
  const errno = /^\s+(E[A-Z0-9]+)\b/.exec(rest)
  if (errno !== null) parsed.errno = errno[1] as string
  return parsed
}
