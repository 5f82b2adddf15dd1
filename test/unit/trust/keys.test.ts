import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it, expect } from 'vitest'
import {
  generateSigningKey, loadPrivateKey, publicKeyFromText, publicKeyToText, savePrivateKey, trustedVendorKeys
} from '../../../src/trust/index.ts'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'mirage-keys-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

async function failure (promise: Promise<unknown>): Promise<{ name: string, reason: string, message: string }> {
  try { await promise } catch (err) { return err as { name: string, reason: string, message: string } }
  throw new Error('expected a rejection')
}

describe('private key files', () => {
  it('saves with mode 0600 and loads the same key', async () => {
    const key = await generateSigningKey()
    const path = join(dir, 'vendor.key')
    await savePrivateKey(path, key)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const loaded = await loadPrivateKey(path)
    expect(loaded.equals(key)).toBe(true)
  })

  it('never overwrites an existing key', async () => {
    const path = join(dir, 'vendor.key')
    const first = await generateSigningKey()
    await savePrivateKey(path, first)
    const err = await failure(savePrivateKey(path, await generateSigningKey()))
    expect(err.reason).toBe('exists')
    expect((await loadPrivateKey(path)).equals(first)).toBe(true)
  })

  it('refuses a key readable by group or others, naming the mode', async () => {
    const path = join(dir, 'vendor.key')
    await savePrivateKey(path, await generateSigningKey())
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(path, mode)
      const err = await failure(loadPrivateKey(path))
      expect(err.name).toBe('KeyFileError')
      expect(err.reason).toBe('permissions')
      expect(err.message).toContain(mode.toString(8))
    }
  })

  it('says when the file is missing or not a key', async () => {
    expect((await failure(loadPrivateKey(join(dir, 'absent.key')))).reason).toBe('missing')
    const garbage = join(dir, 'garbage.key')
    await writeFile(garbage, 'not a key', { mode: 0o600 })
    expect((await failure(loadPrivateKey(garbage))).reason).toBe('malformed')
  })
})

describe('public key text', () => {
  it('round-trips as a libp2p peer id string', async () => {
    const key = await generateSigningKey()
    const text = publicKeyToText(key.publicKey)
    expect(text).toMatch(/^12D3KooW/)
    expect(publicKeyFromText(` ${text}\n`).equals(key.publicKey)).toBe(true)
  })

  it('refuses text that is not an Ed25519 key', () => {
    for (const bad of ['', 'hello', '12D3KooWxxxxxxxx', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N']) {
      expect(() => publicKeyFromText(bad)).toThrow(/not an Ed25519 public key|Ed25519/)
    }
  })
})

describe('trusted vendor keys', () => {
  it('trusts a key for its app only', async () => {
    const vendor = await generateSigningKey()
    const stranger = await generateSigningKey()
    const trust = trustedVendorKeys({ webshop: [publicKeyToText(vendor.publicKey)], blog: [] })
    expect(trust.isTrusted('webshop', vendor.publicKey)).toBe(true)
    expect(trust.isTrusted('blog', vendor.publicKey)).toBe(false)
    expect(trust.isTrusted('webshop', stranger.publicKey)).toBe(false)
    expect(trust.apps()).toEqual(['webshop'])
    expect(() => { trust.requireTrusted('webshop', stranger.publicKey) }).toThrow(/not a trusted vendor key for app "webshop"/)
  })

  it('fails at construction on a bad key or app name', () => {
    expect(() => trustedVendorKeys({ webshop: ['typo'] })).toThrow(/Ed25519/)
    expect(() => trustedVendorKeys({ 'Web Shop': [] })).toThrow(/app name/)
  })
})
