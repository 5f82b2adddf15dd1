/**
 * The lexical layer of Apache httpd configuration files, after httpd's
 * `ap_cfg_getline` and `ap_getword_conf` (server/util.c): logical lines
 * (a `\` as the very last character joins the next line) and the words of
 * a line (whitespace-separated; a word may be "double" or 'single' quoted,
 * where `\"` or `\\` escapes the quote or the backslash).
 */

/** One logical line: its trimmed text and the 1-based number of its first physical line. */
export interface LogicalLine {
  text: string
  line: number
}

export function logicalLines (lines: readonly string[]): LogicalLine[] {
  const out: LogicalLine[] = []
  for (let i = 0; i < lines.length; i++) {
    const first = i
    // httpd joins before looking for comments, so a comment ending in `\`
    // swallows the next line; we do the same. Parts are joined once, so a
    // long run of continuations stays linear.
    const parts: string[] = []
    let line = lines[i] ?? ''
    while (line.endsWith('\\')) {
      parts.push(line.slice(0, -1))
      if (i + 1 >= lines.length) {
        line = ''
        break
      }
      i++
      line = lines[i] ?? ''
    }
    parts.push(line)
    out.push({ text: parts.join('').trim(), line: first + 1 })
  }
  return out
}

/**
 * The words of a line. Like httpd, an unterminated quote runs to the end of
 * the line rather than failing: httpd accepts it, so it is not malformed.
 */
export function words (text: string): string[] {
  const out: string[] = []
  let pos = 0
  while (pos < text.length) {
    const c = text[pos] ?? ''
    if (isSpace(c)) {
      pos++
      continue
    }
    if (c === '"' || c === "'") {
      let word = ''
      pos++
      while (pos < text.length && text[pos] !== c) {
        const next = text[pos + 1]
        if (text[pos] === '\\' && (next === c || next === '\\')) {
          word += next
          pos += 2
        } else {
          word += text[pos] ?? ''
          pos++
        }
      }
      pos++
      out.push(word)
      continue
    }
    const start = pos
    while (pos < text.length && !isSpace(text[pos] ?? '')) pos++
    out.push(text.slice(start, pos))
  }
  return out
}

/** C's `isspace`, which httpd uses (`apr_isspace`). */
function isSpace (c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v'
}

/**
 * A word as it appears in an item name or value: as is, unless it would be
 * ambiguous there (empty, containing whitespace or `>`, or starting with a
 * quote), then as a JSON string. `"/var/www"` and `/var/www` mean the same
 * to httpd and render the same.
 */
export function renderWord (word: string): string {
  return word === '' || /[\s>]/.test(word) || word.startsWith('"') || word.startsWith("'") ? JSON.stringify(word) : word
}
