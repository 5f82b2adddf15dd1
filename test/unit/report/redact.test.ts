/**
 * Redaction: owner secrets in their encodings, each secret shape, what must
 * NOT be redacted, the counts, config errors, and linear time on 1 MiB of
 * adversarial input.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MIN_OWNER_SECRET_CHARS, REDACTION_KINDS, createRedactor, mergeRedactionCounts, secretForms } from '../../../src/report/index.ts'
import { mulberry32 } from '../../helpers/seeded-random.ts'
import type { RedactionKind } from '../../../src/report/index.ts'

const none = createRedactor()

function redacts (text: string, kind: RedactionKind, secret: string): void {
  const out = none.redact(text)
  expect(out.text, text).not.toContain(secret)
  expect(out.text).toContain(`[REDACTED:${kind}]`)
  expect(out.counts[kind], text).toBeGreaterThanOrEqual(1)
}

describe('owner secrets', () => {
  const secret = 'Tr0ub4dor&3 horse/staple'
  const redactor = createRedactor([secret, 'db-pass-1234'])

  it('are replaced as they are, every occurrence, and counted', () => {
    const out = redactor.redact(`connect db-pass-1234\nagain db-pass-1234; and ${secret}.`)
    expect(out.text).toBe('connect [REDACTED:owner-secret]\nagain [REDACTED:owner-secret]; and [REDACTED:owner-secret].')
    expect(out.counts).toEqual({ 'owner-secret': 3 })
  })

  it('are replaced URL-encoded, JSON-escaped, and in base64/base64url at every alignment', () => {
    const quoted = 'say "hi"\\now'
    const r = createRedactor([secret, quoted])
    const encodings = [
      encodeURIComponent(secret),
      encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, hex => hex.toLowerCase()),
      encodeURIComponent(secret).replace(/%20/g, '+'),
      JSON.stringify({ q: quoted })
    ]
    for (let pad = 0; pad < 6; pad++) {
      const bytes = Buffer.concat([Buffer.from('x'.repeat(pad)), Buffer.from(secret), Buffer.from('tail')])
      encodings.push(bytes.toString('base64'), bytes.toString('base64url'))
    }
    for (const encoded of encodings) {
      const out = r.redact(`log: ${encoded} end`)
      expect(out.counts['owner-secret'], encoded).toBe(1)
      // The characters that depend on the secret only are gone: no 6-character window of any form survives.
      for (const form of secretForms(secret).concat(secretForms(quoted))) {
        if (form.length >= 6) expect(out.text).not.toContain(form)
      }
    }
  })

  it('merges overlapping occurrences (one secret inside another) into one redaction', () => {
    const r = createRedactor(['abcdefgh', 'defghijk'])
    expect(r.redact('xxabcdefghijkyy')).toEqual({ text: 'xx[REDACTED:owner-secret]yy', counts: { 'owner-secret': 1 } })
    expect(r.redact('abcdefgh abcdefgh')).toEqual({ text: '[REDACTED:owner-secret] [REDACTED:owner-secret]', counts: { 'owner-secret': 2 } })
  })

  it('finds every planted occurrence among many secrets (generated cases)', () => {
    const random = mulberry32(5)
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+/:.@ '
    const word = (length: number): string => Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
    for (let round = 0; round < 30; round++) {
      const secrets = Array.from({ length: 1 + Math.floor(random() * 20) }, () => word(MIN_OWNER_SECRET_CHARS + 4 + Math.floor(random() * 30)))
      const r = createRedactor(secrets)
      let text = ''
      for (let i = 0; i < 40; i++) text += random() < 0.3 ? secrets[Math.floor(random() * secrets.length)] : word(Math.floor(random() * 40))
      const out = r.redact(text)
      for (const secret of secrets) expect(out.text).not.toContain(secret)
    }
  })

  it('refuses secrets that are too short (after trimming), too long, or too many, naming the index and never the value', () => {
    const error = (secrets: string[]): unknown => { try { createRedactor(secrets); return null } catch (err) { return err } }
    expect(error(['long enough', 'abc'])).toMatchObject({ name: 'RedactionConfigError', reason: 'too-short', index: 1 })
    expect(error(['  ab  '])).toMatchObject({ reason: 'too-short', index: 0 })
    expect((error(['long enough', 'abc']) as Error).message).not.toContain('abc')
    expect(error(['x'.repeat(9000)])).toMatchObject({ reason: 'too-long', index: 0 })
    expect(error(Array.from({ length: 300 }, (_, i) => `secret-${i}`))).toMatchObject({ reason: 'too-many', index: -1 })
    expect(error(Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(8000, 'z')))).toMatchObject({ reason: 'too-many' })
    expect(error(['abcd'])).toBeNull()
  })
})

describe('secret shapes', () => {
  it('redacts key-value secrets in env, ini, YAML, JSON and URL-query form, keeping the key', () => {
    const cases: Array<[string, string]> = [
      ['DB_PASSWORD=hunter2abc', 'hunter2abc'],
      ['passwd: s3cr3t!', 's3cr3t!'],
      ['mysqlPassword = "with spaces inside"', 'with spaces inside'],
      ['{"password":"j50n-value","user":"x"}', 'j50n-value'],
      ["secret: 'single-quoted'", 'single-quoted'],
      ['https://x.test/cb?token=abcdef123&next=1', 'abcdef123'],
      ['API_KEY=k-123456', 'k-123456'],
      ['api-key: k-987654', 'k-987654'],
      ['client_secret=cs-42424242', 'cs-42424242'],
      ['PRIVATE_KEY=pk-0000111', 'pk-0000111'],
      ['Passphrase: open sesame', 'open']
    ]
    for (const [text, secret] of cases) {
      redacts(text, 'key-value', secret)
    }
    expect(none.redact('DB_PASSWORD=hunter2abc other').text).toBe('DB_PASSWORD=[REDACTED:key-value] other')
    expect(none.redact('{"password":"j50n-value"}').text).toBe('{"password":"[REDACTED:key-value]"}')
  })

  it('redacts Authorization headers and bearer tokens', () => {
    redacts('Authorization: Bearer abc.def-ghi_jkl', 'authorization', 'abc.def-ghi_jkl')
    redacts("curl -H 'Authorization: Basic dXNlcjpwYXNz' https://x", 'authorization', 'dXNlcjpwYXNz')
    redacts('{"authorization":"Token t0k3n-value"}', 'authorization', 't0k3n-value')
    redacts('proxy-authorization = Negotiate YIIabc123', 'authorization', 'YIIabc123')
    redacts('sent bearer AbCdEfGh12345678== to api', 'bearer-token', 'AbCdEfGh12345678')
  })

  it('redacts PEM private key blocks, also cut by the tail at either end', () => {
    const block = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nq3k=\n-----END RSA PRIVATE KEY-----'
    expect(none.redact(`before\n${block}\nafter`)).toEqual({ text: 'before\n[REDACTED:private-key]\nafter', counts: { 'private-key': 1 } })
    expect(none.redact('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n').text).toBe('[REDACTED:private-key]')
    expect(none.redact('b3BlbnNzaC1rZXk\n-----END PRIVATE KEY-----\nafter').text).toBe('[REDACTED:private-key]\nafter')
    expect(none.redact('-----BEGIN ENCRYPTED PRIVATE KEY-----x-----END ENCRYPTED PRIVATE KEY-----').counts).toEqual({ 'private-key': 1 })
    expect(none.redact('-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQ\n-----END PGP PRIVATE KEY BLOCK-----').text).toBe('[REDACTED:private-key]')
    // A public key or certificate is not a secret.
    const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'
    expect(none.redact(cert).text).toBe(cert)
  })

  it('redacts cloud and service tokens', () => {
    redacts('key AKIAIOSFODNN7EXAMPLE used', 'aws-access-key', 'AKIAIOSFODNN7EXAMPLE')
    redacts('ASIAABCDEFGHIJKLMNOP', 'aws-access-key', 'ASIAABCDEFGHIJKLMNOP')
    redacts('aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws-secret-key', 'wJalrXUtnFEMI')
    redacts('secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY alone', 'aws-secret-key', 'wJalrXUtnFEMI')
    redacts(`token ghp_${'a1B2'.repeat(9)} ok`, 'github-token', 'a1B2a1B2')
    redacts(`github_pat_${'x'.repeat(22)}_${'Y'.repeat(59)}`, 'github-token', 'xxxxxxxxxx')
    redacts('xoxb-123456789012-abcdefABCDEF', 'slack-token', '123456789012')
    redacts('post https://hooks.slack.com/services/T000/B000/XXXXsecret', 'slack-token', 'XXXXsecret')
    redacts('jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c!', 'jwt', 'SflKxwRJ')
  })

  it('redacts the credentials of URLs, keeping scheme and host', () => {
    expect(none.redact('mysql://root:pa55@db.local:3306/shop').text).toBe('mysql://[REDACTED:url-credentials]@db.local:3306/shop')
    expect(none.redact('redis://:only-pass@cache').text).toBe('redis://[REDACTED:url-credentials]@cache')
    redacts('https://u:p@ss@host/x', 'url-credentials', 'p@ss')
    expect(none.redact('https://host:8443/path?q=1 and ssh://git@github.com/x').text).toBe('https://host:8443/path?q=1 and ssh://git@github.com/x')
  })

  it('leaves ordinary output alone', () => {
    const ordinary = [
      'commit 0123456789abcdef0123456789abcdef01234567 (HEAD)',
      'sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'Error: expected 200, got 500 at /srv/app/checkout.php:41',
      'PASS test/token-parser.test.js',
      'the bearer of bad news',
      'http://localhost:8080/health'
    ]
    for (const text of ordinary) expect(none.redact(text)).toEqual({ text, counts: {} })
  })

  it('does not redact its own markers again, and counts each kind', () => {
    const r = createRedactor(['sup3r-s3cret'])
    const out = r.redact('password=sup3r-s3cret token: [REDACTED:jwt]')
    expect(out.text).toBe('password=[REDACTED:owner-secret] token: [REDACTED:jwt]')
    expect(out.counts).toEqual({ 'owner-secret': 1 })
    expect(r.redact(out.text)).toEqual({ text: out.text, counts: {} })
  })

  it('adds counts', () => {
    expect(mergeRedactionCounts({ jwt: 1 }, { jwt: 2, 'key-value': 1 })).toEqual({ jwt: 3, 'key-value': 1 })
  })
})

describe('linear time', () => {
  const MiB = 1024 * 1024
  const fill = (unit: string): string => unit.repeat(Math.ceil(MiB / unit.length)).slice(0, MiB)
  /** Inputs built to make a backtracking matcher rescan: every pattern's prefix, repeated, never completed. */
  const adversarial: Record<string, string> = {
    letters: fill('a'),
    'jwt prefix': fill('eyJ'),
    'jwt segments': fill('eyJa.'),
    'key prefix': fill('password'),
    'key prefix with separator': fill('password_'),
    'open quotes': fill('password="'),
    'single quotes': fill("token:'"),
    'url scheme': fill('://a:'),
    'url long user': `://${fill('a')}`,
    'pem begin': fill('-----BEGIN PRIVATE KEY-----'),
    'pem dashes': fill('-'),
    bearer: fill('bearer '),
    'bearer short': fill('bearer aaaaaaa '),
    authorization: fill('authorization:'),
    slack: fill('xoxb-'),
    github: fill('ghp_'),
    base64: fill('aB1/'),
    aws: fill('AKIA'),
    'secret prefix': fill('aaaaaaaaaaaaaaaaaaaa')
  }

  it.each(Object.keys(adversarial))('redacts 1 MiB of %s quickly', name => {
    const r = createRedactor([`${'a'.repeat(100)}b`, 'aaaaaaaab', 'eyJeyJx'])
    const text = adversarial[name] as string
    const started = performance.now()
    const out = r.redact(text)
    const elapsed = performance.now() - started
    // Linear passes take ~100 ms here; a quadratic one would take minutes.
    expect(elapsed).toBeLessThan(3_000)
    expect(typeof out.text).toBe('string')
  })

  it('keeps its properties on random text (fast-check, seeded)', () => {
    const kinds = new Set<string>(REDACTION_KINDS)
    fc.assert(fc.property(fc.string({ maxLength: 400 }), fc.constantFrom('password=', 'ghp_', 'eyJ', '://', 'AKIA', ' '), (noise, seed) => {
      const out = createRedactor(['plant3d-secret']).redact(`${noise}${seed}plant3d-secret${noise}`)
      expect(out.text).not.toContain('plant3d-secret')
      for (const kind of Object.keys(out.counts)) expect(kinds.has(kind)).toBe(true)
    }), { seed: 42, numRuns: 300 })
  })
})
