/**
 * The vendor's report key: raw, text and PEM forms, key ids, and the key
 * file (owner-only, never overwritten).
 */
import { generateKeyPairSync } from 'node:crypto'
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  REPORT_KEY_TEXT_PREFIX, generateReportKeyPair, loadReportPrivateKey, reportKeyId, reportPrivateKeyFromPem, reportPrivateKeyToPem,
  reportPublicKeyFromBytes, reportPublicKeyFromText, reportPublicKeyOf, reportPublicKeyToText, saveReportPrivateKey
} from '../../../src/report/index.ts'

const dirs: string[] = []
afterAll(async () => { await Promise.all(dirs.map(async dir => rm(dir, { recursive: true, force: true }))) })

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mirage-report-keys-'))
  dirs.push(dir)
  return dir
}

function failure (fn: () => unknown): string {
  try { fn(); return 'none' } catch (err) { return (err as Error).name }
}

describe('report keys', () => {
  it('have a 32-byte public key, a 16-byte key id and a prefixed base64url text form that round-trips', () => {
    const { publicKey, privateKey } = generateReportKeyPair()
    expect(publicKey.byteLength).toBe(32)
    expect(reportPublicKeyOf(privateKey)).toEqual(publicKey)
    const text = reportPublicKeyToText(publicKey)
    expect(text).toMatch(/^mirage-report-key:[A-Za-z0-9_-]{43}$/)
    expect(reportPublicKeyFromText(`  ${text}\n`)).toEqual(publicKey)
    expect(reportKeyId(publicKey).byteLength).toBe(16)
    expect(reportKeyId(publicKey)).toEqual(reportKeyId(Uint8Array.from(publicKey)))
    expect(reportKeyId(generateReportKeyPair().publicKey)).not.toEqual(reportKeyId(publicKey))
  })

  it('refuse text that is not exactly one key', () => {
    const text = reportPublicKeyToText(generateReportKeyPair().publicKey)
    const body = text.slice(REPORT_KEY_TEXT_PREFIX.length)
    const last = body[42] as string
    // The 43rd character carries two padding bits; a different one with the same 6-bit prefix names the same key.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string
    for (const bad of [body, `${text}A`, text.slice(0, -1), `mirage-report-key:${body.slice(0, 42)}${sibling}`, `mirage-report-key:${body.replace(/./, '+')}`,
      '12D3KooWGzPhp9BLA8nxJDrGbf6bYVXqNrDzUWhWW3Lb4pKNLGy8', '']) {
      expect(failure(() => reportPublicKeyFromText(bad)), bad).toBe('ReportKeyFormatError')
    }
    expect(() => reportPublicKeyFromText('12D3KooWGzPhp9BLA8nxJDrGbf6bYVXqNrDzUWhWW3Lb4pKNLGy8')).toThrow(/signing key/)
    expect(failure(() => reportPublicKeyFromBytes(new Uint8Array(31)))).toBe('ReportKeyFormatError')
  })

  it('store the private key as PKCS #8 PEM and refuse other key types', () => {
    const { publicKey, privateKey } = generateReportKeyPair()
    const pem = reportPrivateKeyToPem(privateKey)
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(reportPublicKeyOf(reportPrivateKeyFromPem(pem))).toEqual(publicKey)
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
    expect(failure(() => reportPrivateKeyFromPem(ed))).toBe('ReportKeyFormatError')
    expect(failure(() => reportPrivateKeyFromPem('not pem'))).toBe('ReportKeyFormatError')
    expect(failure(() => reportPrivateKeyToPem(generateKeyPairSync('ed25519').privateKey))).toBe('ReportKeyFormatError')
  })

  it('save the key file with mode 0600, never overwrite it, and refuse a file others can read', async () => {
    const dir = await tempDir()
    const path = join(dir, 'report.key')
    const { publicKey, privateKey } = generateReportKeyPair()
    await saveReportPrivateKey(path, privateKey)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(reportPublicKeyOf(await loadReportPrivateKey(path))).toEqual(publicKey)
    await expect(saveReportPrivateKey(path, generateReportKeyPair().privateKey)).rejects.toMatchObject({ name: 'KeyFileError', reason: 'exists' })
    await chmod(path, 0o644)
    await expect(loadReportPrivateKey(path)).rejects.toMatchObject({ name: 'KeyFileError', reason: 'permissions' })
    await expect(loadReportPrivateKey(join(dir, 'none'))).rejects.toMatchObject({ name: 'KeyFileError', reason: 'missing' })
    const garbage = join(dir, 'garbage.key')
    await writeFile(garbage, 'nothing', { mode: 0o600 })
    await expect(loadReportPrivateKey(garbage)).rejects.toMatchObject({ name: 'KeyFileError', reason: 'malformed' })
    const ed = join(dir, 'ed.key')
    await writeFile(ed, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 })
    await expect(loadReportPrivateKey(ed)).rejects.toMatchObject({ name: 'KeyFileError', reason: 'wrong-type' })
  })
})
