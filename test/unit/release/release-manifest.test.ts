import fc from 'fast-check'
import { describe, it, expect, beforeAll } from 'vitest'
import { artifactRoot } from '../../../src/content/index.ts'
import {
  MAX_MANIFEST_BYTES, decodeManifest, encodeManifest, openRelease, parsePlanJson, signRelease
} from '../../../src/release/index.ts'
import { SIGNATURE_DOMAINS, bytesEqual, generateSigningKey, sealEnvelope, trustedVendorKeys } from '../../../src/trust/index.ts'
import { manifestRefusal, sampleManifest } from '../../helpers/release-fixtures.ts'
import type { ReleaseManifest, VerifiedRelease } from '../../../src/release/index.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'

const NOW = Date.UTC(2026, 10, 15)
const REFUSALS = new Set(['SignatureError', 'ManifestInvalidError', 'ReleaseRefusedError'])

let vendor: Ed25519PrivateKey
let signed: VerifiedRelease
beforeAll(async () => {
  vendor = await generateSigningKey()
  signed = await signRelease(sampleManifest(), vendor)
})

describe('release manifest', () => {
  it('round-trips through its canonical encoding', () => {
    const m = sampleManifest()
    const bytes = encodeManifest(m)
    const decoded = decodeManifest(bytes)
    expect(decoded).toEqual(m)
    expect(bytesEqual(encodeManifest(decoded), bytes)).toBe(true)
  })

  it('signs and opens, with an id that commits to the content', async () => {
    const opened = await openRelease(signed.bytes, { trust: vendor.publicKey, now: NOW })
    expect(opened.manifest).toEqual(signed.manifest)
    expect(opened.id).toBe(signed.id)
    expect(opened.id).toMatch(/^bafyrei/)
    const other = await signRelease({ ...signed.manifest, sequence: 8 }, vendor)
    expect(other.id).not.toBe(signed.id)
  })

  it('refuses nonsense, naming the field', () => {
    const m = sampleManifest()
    expect(manifestRefusal({ ...m, version: '1.0' }).path).toBe('version')
    expect(manifestRefusal({ ...m, version: 'v1.0.0' }).reason).toBe('version')
    expect(manifestRefusal({ ...m, sequence: 0 }).path).toBe('sequence')
    expect(manifestRefusal({ ...m, expiresAt: m.createdAt }).path).toBe('expiresAt')
    expect(manifestRefusal({ ...m, expiresAt: m.createdAt + 400 * 86_400_000 }).reason).toBe('times')
    expect(manifestRefusal({ ...m, app: 'Web Shop' }).path).toBe('app')
    expect(manifestRefusal({ ...m, format: 2 }).reason).toBe('format')
    expect(manifestRefusal({ ...m, extra: true }).message).toContain('"extra"')
    expect(manifestRefusal({ ...m, test: { ...m.test, command: ['../../bin/sh'] } }).path).toBe('test.command[0]')
    expect(manifestRefusal({ ...m, test: { ...m.test, command: ['/bin/sh'] } }).reason).toBe('test')
    expect(manifestRefusal({ ...m, test: { ...m.test, timeoutMs: 0 } }).path).toBe('test.timeoutMs')
  })

  it('refuses an artifact whose parts disagree', () => {
    const m = sampleManifest()
    const a = m.artifact
    expect(manifestRefusal({ ...m, artifact: { ...a, root: artifactRoot({ ...a, size: a.size + 1 }) } }).reason).toBe('root-mismatch')
    const fewer = { ...a, chunks: a.chunks.slice(1) }
    expect(manifestRefusal({ ...m, artifact: fewer }).reason).toBe('layout')
    const short = { ...a, chunks: [a.chunks[0]?.subarray(0, 31), ...a.chunks.slice(1)] }
    expect(manifestRefusal({ ...m, artifact: short }).reason).toBe('layout')
  })

  it('refuses a plan that makes no sense, inside the manifest', () => {
    const m = sampleManifest()
    const badPlan = { ...m.plan, clusters: [{ name: 'a', after: [], k: 1, q: 2 }] }
    const err = manifestRefusal({ ...m, plan: badPlan })
    expect(err.reason).toBe('plan')
    expect(err.path).toBe('plan.clusters[0].q')
    const cyclic = { ...m.plan, default: { after: [], k: 1, q: 1 }, clusters: [{ name: 'a', after: ['b'], k: 1, q: 1 }, { name: 'b', after: ['a'], k: 1, q: 1 }] }
    expect(manifestRefusal({ ...m, plan: cyclic }).message).toMatch(/cycle/)
  })

  it('carries a shipped env spec, signed, and refuses a malformed one naming the field', async () => {
    const envSpec = { salt: 'vendor-salt', resources: [{ name: 'php.ini', kind: 'ini' as const, path: '/etc/php/php.ini', relevant: true, weight: 0.25 }] }
    const m = { ...sampleManifest(), envSpec }
    const bytes = encodeManifest(m)
    expect(decodeManifest(bytes)).toEqual(m)
    expect(bytesEqual(encodeManifest(decodeManifest(bytes)), bytes)).toBe(true)
    const opened = await openRelease((await signRelease(m, vendor)).bytes, { trust: vendor.publicKey })
    expect(opened.manifest.envSpec).toEqual(envSpec)
    const noKind = manifestRefusal({ ...m, envSpec: { resources: [{ name: 'x', path: '/a' }] } } as unknown as ReleaseManifest)
    expect(noKind.reason).toBe('env-spec')
    expect(noKind.message).toMatch(/envSpec: .*resources\[0\]\.kind/)
    expect(manifestRefusal({ ...m, envSpec: [] } as unknown as ReleaseManifest).reason).toBe('env-spec')
    expect(manifestRefusal({ ...m, envSpec: { resources: [], surprise: 1 } } as unknown as ReleaseManifest).reason).toBe('env-spec')
  })

  it('refuses expired releases, rollbacks and untrusted signers', async () => {
    await expect(openRelease(signed.bytes, { trust: vendor.publicKey, now: signed.manifest.expiresAt })).rejects.toMatchObject({ reason: 'expired' })
    await expect(openRelease(signed.bytes, { trust: vendor.publicKey, now: NOW, installedSequence: 7 })).rejects.toMatchObject({ reason: 'rollback' })
    expect((await openRelease(signed.bytes, { trust: vendor.publicKey, now: NOW, installedSequence: 6 })).manifest.sequence).toBe(7)
    const stranger = await generateSigningKey()
    await expect(openRelease(signed.bytes, { trust: stranger.publicKey, now: NOW })).rejects.toMatchObject({ reason: 'untrusted-signer' })
    const trust = trustedVendorKeys({ blog: [vendor.publicKey.toString()] })
    await expect(openRelease(signed.bytes, { trust, now: NOW })).rejects.toThrow(/not a trusted vendor key for app "webshop"/)
  })

  it('refuses a release signature replayed in another domain', async () => {
    const payload = encodeManifest(signed.manifest)
    const asOutcome = await sealEnvelope(SIGNATURE_DOMAINS.outcome, payload, vendor)
    await expect(openRelease(asOutcome, { trust: vendor.publicKey, now: NOW })).rejects.toMatchObject({ reason: 'wrong-domain' })
  })

  it('refuses oversized payloads before parsing them', () => {
    expect(() => decodeManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1))).toThrow(/limit/)
  })
})

describe('decoders under malformed input', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 256 }) })
  )
  type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never

  function mutate (bytes: Uint8Array, m: Mutation): Uint8Array {
    const at = m.at % Math.max(1, bytes.byteLength)
    const out = Array.from(bytes)
    switch (m.kind) {
      case 'flip': out[at] = (out[at] ?? 0) ^ (1 << m.bit); break
      case 'set': out[at] = m.value; break
      case 'truncate': return bytes.subarray(0, at)
      case 'insert': out.splice(at, 0, ...m.bytes); break
      case 'delete': out.splice(at, m.length); break
      case 'duplicate': out.splice(at, 0, ...out.slice(at, at + m.length)); break
    }
    return Uint8Array.from(out)
  }

  it('thousands of mutations of a signed release: each refused with a named error or identical in meaning', async () => {
    await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const bytes = mutations.reduce((acc, m) => mutate(acc, m), signed.bytes)
      try {
        const opened = await openRelease(bytes, { trust: vendor.publicKey, now: NOW })
        // Accepted: then it must be exactly what the vendor signed.
        expect(bytesEqual(bytes, signed.bytes)).toBe(true)
        expect(opened.manifest).toEqual(signed.manifest)
      } catch (err) {
        expect(REFUSALS.has((err as Error).name), `unexpected ${(err as Error).name}: ${(err as Error).message}`).toBe(true)
      }
    }), { numRuns: 3000 })
  })

  it('thousands of mutations of a manifest payload: refused with ManifestInvalidError or decoded canonically', () => {
    const payload = encodeManifest(signed.manifest)
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
      const bytes = mutations.reduce((acc, m) => mutate(acc, m), payload)
      let decoded: ReleaseManifest
      try {
        decoded = decodeManifest(bytes)
      } catch (err) {
        expect((err as Error).name, (err as Error).message).toBe('ManifestInvalidError')
        return
      }
      // An unsigned payload may legitimately say something else, but only ever what its bytes canonically say.
      expect(bytesEqual(encodeManifest(decoded), bytes)).toBe(true)
    }), { numRuns: 3000 })
  })

  it('every truncation of a signed release is refused', async () => {
    for (let length = 0; length < signed.bytes.byteLength; length += 7) {
      await expect(openRelease(signed.bytes.subarray(0, length), { trust: vendor.publicKey, now: NOW })).rejects.toMatchObject({ name: 'SignatureError' })
    }
  })

  it('mutated plan files are refused with PlanInvalidError or yield a valid plan', () => {
    const text = JSON.stringify(sampleManifest().plan)
    fc.assert(fc.property(fc.nat(text.length - 1), fc.string({ minLength: 0, maxLength: 3 }), fc.nat(3), (at, insert, remove) => {
      const mutated = text.slice(0, at) + insert + text.slice(at + remove)
      try {
        parsePlanJson(mutated)
      } catch (err) {
        expect((err as Error).name, (err as Error).message).toBe('PlanInvalidError')
      }
    }), { numRuns: 3000 })
  })
})
