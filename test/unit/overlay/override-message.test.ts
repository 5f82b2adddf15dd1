import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  MAX_OVERRIDE_ENVELOPE_BYTES, MAX_OVERRIDE_PAYLOAD_BYTES, MAX_OVERRIDE_REASON_CHARS, OVERRIDE_REJECTION_VERDICTS,
  decodeOverride, encodeOverride, signOverride, validateOverride
} from '../../../src/overlay/override-message.ts'
import type { Override, OverrideIntakeContext, OverrideValidation } from '../../../src/overlay/override-message.ts'
import {
  SIGNATURE_DOMAINS, bytesEqual, decodeCanonical, encodeCanonical, generateSigningKey, publicKeyToText, sealEnvelope, trustedVendorKeys
} from '../../../src/trust/index.ts'
import type { TrustedVendorKeys } from '../../../src/trust/index.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { byteMutation, mutateBytes } from '../../helpers/byte-mutation.ts'

const RELEASE_ID = 'bafyreidmv45g5hj3zk2i2zfizn4rzu2764k7vx4i3bhmzuwlbxch6eklau'
const BLOG_RELEASE_ID = 'bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
const halt: Override = { v: 1, app: 'webshop', releaseId: RELEASE_ID, clusterId: 'php5-mysql', action: 'halt', sequence: 7, issuedAt: 1_790_000_000_000, reason: 'data loss after upgrade' }
const clearAll: Override = { v: 1, app: 'webshop', releaseId: RELEASE_ID, action: 'clear', sequence: 8, issuedAt: 1_790_000_100_000 }

let vendor: Ed25519PrivateKey
let blogVendor: Ed25519PrivateKey
let stranger: Ed25519PrivateKey
let trust: TrustedVendorKeys

beforeAll(async () => {
  [vendor, blogVendor, stranger] = await Promise.all([generateSigningKey(), generateSigningKey(), generateSigningKey()])
  trust = trustedVendorKeys({ webshop: [publicKeyToText(vendor.publicKey)], blog: [publicKeyToText(blogVendor.publicKey), publicKeyToText(vendor.publicKey)] })
})

/** A node of app webshop that knows RELEASE_ID (webshop) and BLOG_RELEASE_ID (blog), and accepted override 6. */
function context (overrides: Partial<OverrideIntakeContext> = {}): OverrideIntakeContext {
  const known = new Map([[RELEASE_ID, 'webshop'], [BLOG_RELEASE_ID, 'blog']])
  return { app: 'webshop', trust, releaseApp: async id => known.get(id), highestSequence: () => 6, ...overrides }
}

function refused (result: OverrideValidation): { reason: string, message: string } {
  if (result.ok) throw new Error(`accepted ${JSON.stringify(result.override)}`)
  return result
}

/** A payload signed as it is, whatever it holds: what a vendor key holder could publish. */
async function sealRaw (payload: Uint8Array, key = vendor): Promise<Uint8Array> {
  return sealEnvelope(SIGNATURE_DOMAINS.override, payload, key)
}

describe('override payload', () => {
  it('round-trips, with and without the optional cluster and reason', () => {
    expect(decodeOverride(encodeOverride(halt))).toEqual(halt)
    const decoded = decodeOverride(encodeOverride(clearAll))
    expect(decoded).toEqual(clearAll)
    expect('clusterId' in decoded || 'reason' in decoded).toBe(false)
    // an explicit undefined is an absent field, not a CBOR error
    expect(decodeOverride(encodeOverride({ ...clearAll, clusterId: undefined, reason: undefined }))).toEqual(clearAll)
  })

  it('refuses schema violations, naming the field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...halt, v: 2 }, 'v'],
      [{ ...halt, app: 'Web Shop' }, 'app'],
      [{ ...halt, releaseId: 'not-a-cid' }, 'releaseId'],
      [{ ...halt, clusterId: '../etc' }, 'clusterId'],
      [{ ...halt, clusterId: null }, 'clusterId'],
      [{ ...halt, action: 'pause' }, 'action'],
      [{ ...halt, sequence: 0 }, 'sequence'],
      [{ ...halt, sequence: -3 }, 'sequence'],
      [{ ...halt, sequence: 1.5 }, 'sequence'],
      [{ ...halt, issuedAt: -1 }, 'issuedAt'],
      [{ ...halt, reason: 'x'.repeat(MAX_OVERRIDE_REASON_CHARS + 1) }, 'reason'],
      [{ ...halt, reason: 'line one\nline two' }, 'reason'],
      [{ ...halt, reason: 'bell \u0007' }, 'reason'],
      [{ ...halt, extra: 1 }, '']
    ]
    for (const [value, path] of cases) {
      expect(() => decodeOverride(encodeCanonical(value)), path).toThrow(expect.objectContaining({ name: 'OverrideMessageError', reason: 'schema', path }))
    }
    expect(() => decodeOverride(encodeCanonical({ ...halt, extra: 1 }))).toThrow(/unknown field\(s\) "extra"/)
    const { sequence: _, ...noSequence } = halt
    expect(() => decodeOverride(encodeCanonical(noSequence))).toThrow(/override: sequence:/)
    expect(() => decodeOverride(encodeCanonical([halt]))).toThrow(expect.objectContaining({ reason: 'schema' }))
    expect(() => encodeOverride({ ...halt, sequence: 0 })).toThrow(expect.objectContaining({ name: 'OverrideMessageError' }))
    // a full-length reason of four-byte characters still fits the payload limit
    expect(decodeOverride(encodeOverride({ ...halt, reason: '🔥'.repeat(MAX_OVERRIDE_REASON_CHARS / 2) })).reason).toHaveLength(MAX_OVERRIDE_REASON_CHARS)
  })

  it('refuses oversized, malformed and non-canonical bytes before the schema', () => {
    expect(() => decodeOverride(new Uint8Array(MAX_OVERRIDE_PAYLOAD_BYTES + 1))).toThrow(expect.objectContaining({ reason: 'oversized' }))
    expect(() => decodeOverride(new Uint8Array([0xff]))).toThrow(expect.objectContaining({ reason: 'malformed' }))
    expect(() => decodeOverride(new Uint8Array(0))).toThrow(expect.objectContaining({ reason: 'malformed' }))
    expect(() => decodeOverride(nonCanonical(encodeOverride(halt)))).toThrow(expect.objectContaining({ reason: 'non-canonical' }))
  })
})

/** `v: 1` re-encoded as the float 1.0: valid CBOR of the same value, not the canonical bytes. */
function nonCanonical (canonical: Uint8Array): Uint8Array {
  const bytes = Array.from(canonical)
  const at = bytes.findIndex((b, i) => b === 0x61 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x01)
  if (at < 0) throw new Error('no v: 1 in the payload')
  bytes.splice(at + 2, 1, 0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0)
  return Uint8Array.from(bytes)
}

/** The same map with its entries in reverse order: valid CBOR, not canonical. */
function reversedMap (value: Record<string, unknown>): Uint8Array {
  const entries = Object.entries(value).reverse().map(([k, v]) => encodeCanonical({ [k]: v }).subarray(1)) // drop each one-entry map's head
  return Uint8Array.from([0xa0 + entries.length, ...entries.flatMap(e => Array.from(e))])
}

describe('override intake', () => {
  it('accepts a vendor-signed override of a known release with a new sequence', async () => {
    const bytes = await signOverride(halt, vendor)
    expect(await validateOverride(bytes, context())).toEqual({ ok: true, override: halt, releaseKnown: true })
    expect(await validateOverride(bytes, context({ highestSequence: () => undefined }))).toMatchObject({ ok: true })
    expect(await validateOverride(await signOverride(clearAll, vendor), context())).toEqual({ ok: true, override: clearAll, releaseKnown: true })
  })

  it('accepts and holds an override of a release this node does not know yet', async () => {
    const unknown = { ...halt, releaseId: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' }
    expect(await validateOverride(await signOverride(unknown, vendor), context())).toEqual({ ok: true, override: unknown, releaseKnown: false })
  })

  it('rejects a forgery: signed by a key nobody trusts, or by the vendor of another app', async () => {
    const forged = refused(await validateOverride(await signOverride(halt, stranger), context()))
    expect(forged).toMatchObject({ reason: 'untrusted-signer', message: expect.stringContaining('not a trusted vendor key for app "webshop"') })
    expect(refused(await validateOverride(await signOverride(halt, blogVendor), context())).reason).toBe('untrusted-signer')
  })

  it('rejects an override altered after signing', async () => {
    const bytes = await signOverride(halt, vendor)
    const envelope = decodeCanonical(bytes, MAX_OVERRIDE_ENVELOPE_BYTES, 'envelope') as { d: string, k: Uint8Array, p: Uint8Array, s: Uint8Array }
    const altered = encodeCanonical({ ...envelope, p: encodeOverride({ ...halt, action: 'clear' }) })
    expect(refused(await validateOverride(altered, context())).reason).toBe('bad-signature')
    const resigned = encodeCanonical({ ...envelope, s: new Uint8Array(64) })
    expect(refused(await validateOverride(resigned, context())).reason).toBe('bad-signature')
  })

  it('rejects a signature made for another purpose', async () => {
    const asRelease = await sealEnvelope(SIGNATURE_DOMAINS.release, encodeOverride(halt), vendor)
    expect(refused(await validateOverride(asRelease, context())).reason).toBe('wrong-domain')
  })

  it('refuses a replay: a sequence at or below the highest accepted, ignored rather than scored', async () => {
    for (const sequence of [1, 5, 6]) {
      const result = refused(await validateOverride(await signOverride({ ...halt, sequence }, vendor), context()))
      expect(result).toMatchObject({ reason: 'replayed', message: expect.stringContaining(`sequence ${sequence}`) })
    }
    expect(OVERRIDE_REJECTION_VERDICTS.replayed).toBe('ignore')
    expect((await validateOverride(await signOverride({ ...halt, sequence: 7 }, vendor), context())).ok).toBe(true)
  })

  it('checks the sequence per scope: an older override of another cluster arriving late is news, not a replay', async () => {
    const highest = new Map([[`${RELEASE_ID}/B`, 7]])
    const perScope = context({ highestSequence: o => highest.get(`${o.releaseId}/${o.clusterId ?? '*'}`) })
    const haltA = { ...halt, clusterId: 'A', sequence: 6 }
    const haltB = { ...halt, clusterId: 'B', sequence: 6 }
    expect(await validateOverride(await signOverride(haltA, vendor), perScope)).toMatchObject({ ok: true, override: haltA })
    expect(refused(await validateOverride(await signOverride(haltB, vendor), perScope))).toMatchObject({ reason: 'replayed', message: expect.stringContaining('cluster B') })
  })

  it('rejects an override of another app, on this app’s topic, even signed by a key trusted for both', async () => {
    const blog = { ...halt, app: 'blog', releaseId: BLOG_RELEASE_ID }
    expect(await validateOverride(await signOverride(blog, vendor), context({ app: 'blog' }))).toMatchObject({ ok: true })
    expect(refused(await validateOverride(await signOverride(blog, vendor), context())).reason).toBe('wrong-app')
  })

  it('rejects an override that names a release of another app', async () => {
    const misnamed = { ...halt, releaseId: BLOG_RELEASE_ID }
    const result = refused(await validateOverride(await signOverride(misnamed, vendor), context()))
    expect(result).toMatchObject({ reason: 'wrong-release', message: expect.stringContaining('a release of app "blog"') })
    expect(OVERRIDE_REJECTION_VERDICTS['wrong-release']).toBe('reject')
  })

  it('rejects malformed input: not CBOR, not an envelope, a payload that is not an override', async () => {
    expect(refused(await validateOverride(new Uint8Array([0xff, 0x00]), context())).reason).toBe('malformed')
    expect(refused(await validateOverride(encodeCanonical({ d: 'override' }), context())).reason).toBe('malformed')
    expect(refused(await validateOverride(await sealRaw(new Uint8Array([0xff])), context())).reason).toBe('malformed')
    const schema = refused(await validateOverride(await sealRaw(encodeCanonical({ ...halt, sequence: 0 })), context()))
    expect(schema).toMatchObject({ reason: 'schema', message: expect.stringContaining('sequence') })
  })

  it('rejects oversized input before parsing it, and an oversized payload inside a small-enough envelope', async () => {
    const huge = new Uint8Array(MAX_OVERRIDE_ENVELOPE_BYTES + 1).fill(0xff) // not CBOR either: the size is checked first
    expect(refused(await validateOverride(huge, context()))).toMatchObject({ reason: 'oversized', message: expect.stringContaining(`${MAX_OVERRIDE_ENVELOPE_BYTES}`) })
    const bigPayload = encodeCanonical({ ...halt, reason: 'x'.repeat(MAX_OVERRIDE_PAYLOAD_BYTES) })
    expect(refused(await validateOverride(await sealRaw(bigPayload), context())).reason).toBe('oversized')
  })

  it('rejects non-canonical CBOR, in the payload or in the envelope', async () => {
    const payload = refused(await validateOverride(await sealRaw(nonCanonical(encodeOverride(halt))), context()))
    expect(payload.reason).toBe('non-canonical')
    const envelope = decodeCanonical(await signOverride(halt, vendor), MAX_OVERRIDE_ENVELOPE_BYTES, 'envelope') as Record<string, unknown>
    expect(refused(await validateOverride(reversedMap(envelope), context())).reason).toBe('non-canonical')
  })

  it('thousands of mutations of a signed override: refused with a reason, or the very same override, never a throw', async () => {
    const valid = await signOverride(halt, vendor)
    const ctx = context()
    await fc.assert(fc.asyncProperty(byteMutation, async (m) => {
      const bytes = mutateBytes(valid, m)
      const result = await validateOverride(bytes, ctx)
      if (result.ok) {
        expect(result.override).toEqual(halt)
        expect(bytesEqual(bytes, valid)).toBe(true)
      } else {
        expect(Object.keys(OVERRIDE_REJECTION_VERDICTS)).toContain(result.reason)
      }
    }), { numRuns: 2000 })
  })
})
