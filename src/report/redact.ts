/**
 * Redaction: what is scrubbed from a problem report before it leaves the
 * machine (issue 5 item 3). Two sources:
 *
 * - the owner's secrets: literal strings from the node config, found as
 *   they are and in the encodings logs put them in (JSON-escaped,
 *   URL-encoded, base64 and base64url at each of the three byte alignments);
 * - common secret shapes: `password=`/`token:`-style key-value pairs,
 *   `Authorization:` headers and bearer tokens, PEM private key blocks, AWS
 *   access key ids and secret keys, GitHub and Slack tokens, JWTs, and the
 *   `user:password@` of URLs.
 *
 * Each occurrence becomes `[REDACTED:<kind>]`; the caller learns how many of
 * each kind were replaced, never what.
 *
 * Linear time, because the text is a test's output, which we do not
 * control: the owner's literals are found with one Aho-Corasick automaton
 * (one pass, whatever the number of secrets); PEM blocks by scanning their
 * marker lines; every pattern starts with a fixed keyword or at the start of
 * a token (a look-behind), and either has bounded repetition before any
 * point where it can fail, or cannot fail once its keyword matched, so no
 * position is rescanned more than a bounded number of times.
 *
 * Decision: owner secrets shorter than MIN_OWNER_SECRET_CHARS (after
 * trimming) are refused with a RedactionConfigError when the config is read
 * (see constants.ts for why), rather than silently ignored.
 */
import {
  MAX_OWNER_SECRETS, MAX_OWNER_SECRETS_TOTAL_CHARS, MAX_OWNER_SECRET_CHARS, MIN_OWNER_SECRET_CHARS
} from './constants.ts'
import { RedactionConfigError } from './errors.ts'

/** What a redaction replaced. */
export const REDACTION_KINDS = [
  'owner-secret',
  'private-key',
  'url-credentials',
  'authorization',
  'bearer-token',
  'jwt',
  'github-token',
  'slack-token',
  'aws-access-key',
  'aws-secret-key',
  'key-value'
] as const
export type RedactionKind = typeof REDACTION_KINDS[number]

/** How many occurrences of each kind were replaced; kinds with none are absent. */
export type RedactionCounts = Partial<Record<RedactionKind, number>>

export interface Redacted {
  text: string
  counts: RedactionCounts
}

/** Scrubs text; built once per node config, used for every report. */
export interface Redactor {
  redact: (text: string) => Redacted
}

/** The text that replaces a redacted occurrence. */
export function redactionMarker (kind: RedactionKind): string {
  return `[REDACTED:${kind}]`
}

const MARKER_START = '[REDACTED'

/**
 * Checks the owner's secret list and compiles it. Throws RedactionConfigError
 * naming the index (never the value) of a secret that is too short or too
 * long, or a list that is too large.
 */
export function createRedactor (secrets: readonly string[] = []): Redactor {
  checkSecrets(secrets)
  const literals = new Set<string>()
  for (const secret of secrets) {
    for (const form of secretForms(secret)) literals.add(form)
  }
  const matcher = literals.size === 0 ? null : new LiteralMatcher([...literals])
  return {
    redact (text: string): Redacted {
      const counts: RedactionCounts = {}
      let out = text
      if (matcher !== null) out = matcher.replaceAll(out, redactionMarker('owner-secret'), n => { add(counts, 'owner-secret', n) })
      out = redactPrivateKeys(out, counts)
      for (const pattern of PATTERNS) out = out.replace(pattern.regex, (...args) => pattern.replace(counts, args as MatchArgs))
      return { text: out, counts }
    }
  }
}

/** Adds `b`'s counts into `a`. */
export function mergeRedactionCounts (a: RedactionCounts, b: RedactionCounts): RedactionCounts {
  for (const kind of REDACTION_KINDS) {
    const n = b[kind]
    if (n !== undefined && n > 0) add(a, kind, n)
  }
  return a
}

function add (counts: RedactionCounts, kind: RedactionKind, n = 1): void {
  counts[kind] = (counts[kind] ?? 0) + n
}

function checkSecrets (secrets: readonly string[]): void {
  if (secrets.length > MAX_OWNER_SECRETS) {
    throw new RedactionConfigError('too-many', -1, `${secrets.length} secrets to redact, more than the limit of ${MAX_OWNER_SECRETS}`)
  }
  let total = 0
  secrets.forEach((secret, index) => {
    if (secret.trim().length < MIN_OWNER_SECRET_CHARS) {
      throw new RedactionConfigError('too-short', index,
        `secret #${index + 1} has fewer than ${MIN_OWNER_SECRET_CHARS} characters; so short a string occurs everywhere by chance and cannot be redacted usefully`)
    }
    if (secret.length > MAX_OWNER_SECRET_CHARS) {
      throw new RedactionConfigError('too-long', index, `secret #${index + 1} is ${secret.length} characters, more than the limit of ${MAX_OWNER_SECRET_CHARS}`)
    }
    total += secret.length
  })
  if (total > MAX_OWNER_SECRETS_TOTAL_CHARS) {
    throw new RedactionConfigError('too-many', -1, `the secrets to redact have ${total} characters together, more than the limit of ${MAX_OWNER_SECRETS_TOTAL_CHARS}`)
  }
}

/** Shortest base64 fragment used: a 6-character core occurs by chance once in 2^36 positions. */
const MIN_BASE64_CORE_CHARS = 6

/**
 * The forms a secret takes in logs: as is, JSON-escaped, URL-encoded (upper
 * and lower hex, `+` for space), and the base64/base64url characters that
 * depend on the secret's bytes only, at each of the three alignments the
 * secret can have inside a longer encoded string.
 */
export function secretForms (secret: string): string[] {
  const forms = new Set<string>([secret])
  forms.add(JSON.stringify(secret).slice(1, -1))
  const url = encodeURIComponent(secret)
  forms.add(url)
  forms.add(url.replace(/%[0-9A-F]{2}/g, hex => hex.toLowerCase()))
  forms.add(url.replace(/%20/g, '+'))
  const bytes = Buffer.from(secret, 'utf8')
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes])
    const encoded = padded.toString('base64')
    // Character j covers bits 6j..6j+5: clean when it starts after the padding and ends within the secret.
    const first = Math.ceil((8 * shift) / 6)
    const last = Math.floor((8 * padded.length - 6) / 6)
    const core = encoded.slice(first, last + 1)
    if (core.length >= MIN_BASE64_CORE_CHARS) {
      forms.add(core)
      forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'))
    }
  }
  return [...forms]
}

/**
 * Aho-Corasick over UTF-16 code units: finds every occurrence of every
 * literal in one pass, in time linear in the text (plus the matches).
 * Overlapping occurrences are merged, so each merged span is one redaction.
 */
class LiteralMatcher {
  /** (state * 65536 + code unit) → next state. */
  private readonly next = new Map<number, number>()
  private readonly fail: number[] = [0]
  /** Length of the longest literal ending at this state (through fail links too), 0 if none. */
  private readonly longest: number[] = [0]

  constructor (literals: string[]) {
    for (const literal of literals) {
      let state = 0
      for (let i = 0; i < literal.length; i++) {
        const key = state * 65536 + literal.charCodeAt(i)
        let to = this.next.get(key)
        if (to === undefined) {
          to = this.fail.length
          this.fail.push(0)
          this.longest.push(0)
          this.next.set(key, to)
        }
        state = to
      }
      this.longest[state] = Math.max(this.longest[state] ?? 0, literal.length)
    }
    this.link()
  }

  /** Breadth-first: each state's fail link is the longest proper suffix that is also a trie path. */
  private link (): void {
    const children = new Map<number, Array<[number, number]>>()
    for (const [key, to] of this.next) {
      const from = Math.floor(key / 65536)
      let list = children.get(from)
      if (list === undefined) children.set(from, list = [])
      list.push([key % 65536, to])
    }
    const queue: number[] = []
    for (const [, to] of children.get(0) ?? []) { this.fail[to] = 0; queue.push(to) }
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head] as number
      for (const [unit, to] of children.get(state) ?? []) {
        let f = this.fail[state] as number
        while (f !== 0 && !this.next.has(f * 65536 + unit)) f = this.fail[f] as number
        const target = this.next.get(f * 65536 + unit)
        this.fail[to] = target !== undefined && target !== to ? target : 0
        this.longest[to] = Math.max(this.longest[to] as number, this.longest[this.fail[to] as number] as number)
        queue.push(to)
      }
    }
  }

  replaceAll (text: string, marker: string, count: (n: number) => void): string {
    // Merged spans [start, end) of every occurrence, in order.
    const spans: Array<[number, number]> = []
    let state = 0
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i)
      let to = this.next.get(state * 65536 + unit)
      while (to === undefined && state !== 0) {
        state = this.fail[state] as number
        to = this.next.get(state * 65536 + unit)
      }
      state = to ?? 0
      const length = this.longest[state] as number
      if (length === 0) continue
      let start = i + 1 - length
      const end = i + 1
      // Spans arrive by end; a longer literal may reach back over earlier spans: fold them in.
      while (spans.length > 0 && (spans[spans.length - 1] as [number, number])[1] >= start) {
        start = Math.min(start, (spans.pop() as [number, number])[0])
      }
      spans.push([start, end])
    }
    if (spans.length === 0) return text
    count(spans.length)
    let out = ''
    let at = 0
    for (const [start, end] of spans) {
      out += text.slice(at, start) + marker
      at = end
    }
    return out + text.slice(at)
  }
}

/**
 * PEM private key blocks, from BEGIN to END marker inclusive. A tail can cut
 * a block: an END with no BEGIN before it is redacted from the start of the
 * text (or the previous block), a BEGIN with no END to the end of the text.
 */
function redactPrivateKeys (text: string, counts: RedactionCounts): string {
  const markers = /-----(BEGIN|END)[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g
  const spans: Array<[number, number]> = []
  let open: number | null = null
  let floor = 0
  for (const match of text.matchAll(markers)) {
    if (match[1] === 'BEGIN') {
      if (open === null) open = match.index
      continue
    }
    const end = match.index + match[0].length
    spans.push([open ?? floor, end])
    open = null
    floor = end
  }
  if (open !== null) spans.push([open, text.length])
  if (spans.length === 0) return text
  add(counts, 'private-key', spans.length)
  const marker = redactionMarker('private-key')
  let out = ''
  let at = 0
  for (const [start, end] of spans) {
    out += text.slice(at, start) + marker
    at = end
  }
  return out + text.slice(at)
}

/** `String.replace` callback arguments: the match, its groups, offset, input. */
type MatchArgs = [string, ...unknown[]]

interface Pattern {
  regex: RegExp
  replace: (counts: RedactionCounts, args: MatchArgs) => string
}

/** Replaces the whole match. `accept` may decline a candidate (then it is left as is). */
function whole (kind: RedactionKind, regex: RegExp, accept: (match: string) => boolean = () => true): Pattern {
  return {
    regex,
    replace (counts, [match]) {
      if (!accept(match)) return match
      add(counts, kind)
      return redactionMarker(kind)
    }
  }
}

/** Keeps group 1 (a key, a header name) and replaces group 2 (its value), unless the value is already redacted. */
function valueOf (kindOf: (key: string) => RedactionKind, regex: RegExp): Pattern {
  return {
    regex,
    replace (counts, [match, key, value]) {
      const k = key as string
      let v = value as string
      // A quoted value keeps its quotes around the marker (the closing one may be missing).
      let open = ''
      let close = ''
      if (v.startsWith('"') || v.startsWith('\'')) {
        open = v[0] as string
        v = v.slice(1)
        if (v.endsWith(open)) { close = open; v = v.slice(0, -1) }
      }
      if (v === '' || v.startsWith(MARKER_START)) return match
      const kind = kindOf(k)
      add(counts, kind)
      return `${k}${open}${redactionMarker(kind)}${close}`
    }
  }
}

const hasMixedBase64 = (text: string): boolean => /[A-Z]/.test(text) && /[a-z]/.test(text) && /[0-9/+]/.test(text)

/**
 * The secret shapes, in the order applied: specific shapes first, so they
 * are labelled by kind; the generic key-value rule then skips values that
 * are already a marker.
 */
const PATTERNS: Pattern[] = [
  // scheme://user:password@host — starts only at "://"; the user part cannot
  // hold ':' or '@' and neither part can cross '/', so a scan never runs
  // into the next URL. The password runs to the last '@' before the host.
  valueOf(() => 'url-credentials', /(:\/\/)([^\s/?#@:]*:[^\s/?#]*)(?=@)/g),
  // Authorization / Proxy-Authorization headers, in HTTP dumps, JSON or curl
  // arguments: the whole value (scheme and credentials) to the end of the line or quote.
  valueOf(() => 'authorization', /(?<![A-Za-z0-9_-])((?:proxy-)?authorization["']?[ \t]{0,8}[:=][ \t]{0,8}["']?)([^\r\n"']*)/gi),
  whole('bearer-token', /(?<![A-Za-z0-9_-])bearer[ \t]+[A-Za-z0-9._~+/-]{8,}=*/gi),
  // JWS compact form: base64url header and payload of JSON objects ("eyJ" is "{\"").
  whole('jwt', /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g),
  // GitHub: classic (ghp_, gho_, ghu_, ghs_, ghr_ + 36) and fine-grained (github_pat_) tokens.
  whole('github-token', /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})/g),
  whole('slack-token', /(?<![A-Za-z0-9])xox[abposre]-[A-Za-z0-9-]{10,}|hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/g),
  whole('aws-access-key', /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g),
  // key = value, key: value, "key": "value" for secret-sounding keys (also
  // as part of a longer name: DB_PASSWORD, mysqlPassword, aws_secret_access_key).
  // The key part is bounded and the value part cannot fail once begun, so
  // each start costs a bounded number of steps.
  valueOf(
    key => /secret[_.-]?access[_.-]?key/i.test(key) ? 'aws-secret-key' : 'key-value',
    /((?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]{0,32}["']?[ \t]{0,8}[:=][ \t]{0,8})("[^"\r\n]*"?|'[^'\r\n]*'?|[^\s"',;&]+)/gi
  ),
  // A bare AWS secret access key: exactly 40 base64 characters as a token of
  // its own, mixing cases and digits (so a hex SHA-1 is not one).
  whole('aws-secret-key', /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g, hasMixedBase64)
]
