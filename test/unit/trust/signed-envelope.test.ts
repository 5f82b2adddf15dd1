import { describe, it, expect } from 'vitest'
import {
  SIGNATURE_DOMAINS, MAX_ENVELOPE_BYTES, encodeCanonical, decodeCanonical, generateSigningKey, openEnvelope, sealEnvelope
} from '../../../src/trust/index.ts'

const payload = new TextEncoder().encode('the exact bytes a vendor signed')

async function rejection (promise: Promise<unknown>): Promise<{ name: string, reason: string, message: string }> {
  try {
    await promise
  } catch (err) {
    return err as { name: string, reason: string, message: string }
  }
  throw new Error('expected a rejection')
}

describe('signed envelopes', () => {
  it('opens what it sealed, naming the signer', async () => {
    const key = await generateSigningKey()
    const sealed = await sealEnvelope(SIGNATURE_DOMAINS.release, payload, key)
    const opened = await openEnvelope(sealed, SIGNATURE_DOMAINS.release)
    expect(opened.payload).toEqual(payload)
    expect(opened.signer.equals(key.publicKey)).toBe(true)
    expect(opened.domain).toBe('release')
  })

  it('refuses an envelope opened for another domain', async () => {
    const key = await generateSigningKey()
    const sealed = await sealEnvelope(SIGNATURE_DOMAINS.release, payload, key)
    for (const other of [SIGNATURE_DOMAINS.outcome, SIGNATURE_DOMAINS.override, SIGNATURE_DOMAINS.clusterMap]) {
      const err = await rejection(openEnvelope(sealed, other))
      expect(err.name).toBe('SignatureError')
      expect(err.reason).toBe('wrong-domain')
    }
  })

  it('a release signature relabelled as an outcome does not verify (domain is inside the signed bytes)', async () => {
    const key = await generateSigningKey()
    const sealed = await sealEnvelope(SIGNATURE_DOMAINS.release, payload, key)
    const fields = decodeCanonical(sealed, MAX_ENVELOPE_BYTES, 'test') as Record<string, unknown>
    const relabelled = encodeCanonical({ ...fields, d: SIGNATURE_DOMAINS.outcome })
    const err = await rejection(openEnvelope(relabelled, SIGNATURE_DOMAINS.outcome))
    expect(err.reason).toBe('bad-signature')
  })

  it('refuses a changed payload, a swapped key and a truncated signature', async () => {
    const key = await generateSigningKey()
    const other = await generateSigningKey()
    const sealed = await sealEnvelope(SIGNATURE_DOMAINS.outcome, payload, key)
    const fields = decodeCanonical(sealed, MAX_ENVELOPE_BYTES, 'test') as { d: string, k: Uint8Array, p: Uint8Array, s: Uint8Array }

    const changed = Uint8Array.from(fields.p)
    changed[3] = (changed[3] ?? 0) ^ 1
    expect((await rejection(openEnvelope(encodeCanonical({ ...fields, p: changed }), 'outcome'))).reason).toBe('bad-signature')

    const swapped = await sealEnvelope(SIGNATURE_DOMAINS.outcome, payload, other)
    const otherKey = (decodeCanonical(swapped, MAX_ENVELOPE_BYTES, 'test') as { k: Uint8Array }).k
    expect((await rejection(openEnvelope(encodeCanonical({ ...fields, k: otherKey }), 'outcome'))).reason).toBe('bad-signature')

    expect((await rejection(openEnvelope(encodeCanonical({ ...fields, s: fields.s.subarray(0, 63) }), 'outcome'))).reason).toBe('malformed')
  })

  it('refuses non-canonical, malformed, extra-field and oversized envelopes before checking signatures', async () => {
    const key = await generateSigningKey()
    const sealed = await sealEnvelope(SIGNATURE_DOMAINS.release, payload, key)
    const withTrailingByte = Uint8Array.from([...sealed, 0])
    expect((await rejection(openEnvelope(withTrailingByte, 'release'))).name).toBe('SignatureError')
    expect((await rejection(openEnvelope(new Uint8Array([0xff, 0x00]), 'release'))).reason).toBe('malformed')
    expect((await rejection(openEnvelope(encodeCanonical([1, 2, 3]), 'release'))).reason).toBe('malformed')
    const fields = decodeCanonical(sealed, MAX_ENVELOPE_BYTES, 'test') as Record<string, unknown>
    expect((await rejection(openEnvelope(encodeCanonical({ ...fields, x: 1 }), 'release'))).reason).toBe('malformed')
    expect((await rejection(openEnvelope(encodeCanonical({ ...fields, k: 'text' }), 'release'))).reason).toBe('malformed')
    const huge = new Uint8Array(MAX_ENVELOPE_BYTES + 1)
    expect((await rejection(openEnvelope(huge, 'release'))).reason).toBe('oversized')
  })

  it('refuses to seal a payload too large to ever be opened', async () => {
    const key = await generateSigningKey()
    const err = await rejection(sealEnvelope('release', new Uint8Array(MAX_ENVELOPE_BYTES), key))
    expect(err.reason).toBe('oversized')
  })
})

describe('canonical CBOR', () => {
  it('refuses an encoding with map keys out of canonical order', () => {
    // {"b": 1, "a": 2} written by hand in the wrong key order.
    const unordered = new Uint8Array([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])
    expect(() => decodeCanonical(unordered, 100, 'map')).toThrow(/canonical|CBOR/)
    expect(decodeCanonical(encodeCanonical({ b: 1, a: 2 }), 100, 'map')).toEqual({ a: 2, b: 1 })
  })

  it('refuses a non-minimal integer encoding', () => {
    // 1 encoded on two bytes (0x18 0x01) instead of one (0x01).
    expect(() => decodeCanonical(new Uint8Array([0x18, 0x01]), 100, 'int')).toThrow()
  })
})

describe('signer key encoding', () => {
  it('refuses a signer key that decodes to the right key from non-canonical bytes', async () => {
    const key = await generateSigningKey()
    const sealed = await sealEnvelope(SIGNATURE_DOMAINS.release, payload, key)
    const fields = decodeCanonical(sealed, MAX_ENVELOPE_BYTES, 'test') as { d: string, k: Uint8Array, p: Uint8Array, s: Uint8Array }
    // Protobuf field 1 (key type) written with the 64-bit wire type instead of varint: a lenient decoder may take it.
    const variants = [Uint8Array.from([...fields.k, 0x18, 0x01]), Uint8Array.from([fields.k[0]! ^ 1, ...fields.k.subarray(1)])]
    for (const k of variants) {
      const err = await rejection(openEnvelope(encodeCanonical({ ...fields, k }), 'release'))
      expect(['non-canonical', 'malformed', 'bad-signature']).toContain(err.reason)
    }
    // The exact variant the fuzzer found: still the same key when decoded, so only the canonical check can refuse it.
    const lenient = Uint8Array.from([...fields.k, 0x18, 0x01])
    expect((await rejection(openEnvelope(encodeCanonical({ ...fields, k: lenient }), 'release'))).reason).toBe('non-canonical')
  })
})
