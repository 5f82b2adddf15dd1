/**
 * Sealing reports to the vendor, with real keys and real crypto: only the
 * vendor's key opens a report; any altered byte, oversized or malformed
 * input is refused with a clear reason; a report cannot claim another
 * machine or move to another release; planted secrets never reach the
 * sealed bytes or the opened report. A second, independent implementation
 * of FORMAT-DRAFT.md (below) checks that the document is enough.
 */
import { createCipheriv, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  MAX_SEALED_REPORT_BYTES, buildProblemReport, createRedactor, decodeSealedReport, encodeProblemReport, generateReportKeyPair, openReport,
  reportAad, reportKeyId, sealReport
} from '../../../src/report/index.ts'
import { SIGNATURE_DOMAINS, encodeCanonical, openEnvelope, sealEnvelope } from '../../../src/trust/index.ts'
import { byteMutation, mutateBytes } from '../../helpers/byte-mutation.ts'
import { mulberry32 } from '../../helpers/seeded-random.ts'
import { makeMachine, releaseIdFor, reportInput, sampleReport } from './report-fixtures.ts'
import type { ProblemReport, SealedReport } from '../../../src/report/index.ts'

const vendor = generateReportKeyPair()
const otherVendor = generateReportKeyPair()
const machineA = await makeMachine()
const machineB = await makeMachine()
const report = sampleReport(machineA.peerId.toString())
const sealed = await sealReport(report, machineA.key, vendor.publicKey)

async function reasonOf (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'none'
  } catch (err) {
    return `${(err as Error).name}:${(err as { reason?: string }).reason ?? ''}`
  }
}

/** The sealed envelope's fields, changed, re-encoded canonically. */
function reseal (change: (fields: SealedReport) => Record<string, unknown>): Uint8Array {
  return encodeCanonical(change({ ...decodeSealedReport(sealed) }))
}

/**
 * FORMAT-DRAFT.md implemented from the text, not from seal.ts: seals any
 * plaintext (so tests can seal what sealReport refuses to).
 */
function sealPlaintext (plaintext: Uint8Array, vendorPublicKey: Uint8Array, app: string, release: string): Uint8Array {
  const ephemeral = generateKeyPairSync('x25519')
  const epk = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  const vendorKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(vendorPublicKey).toString('base64url') }, format: 'jwk' })
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: vendorKey })
  const key = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([epk, vendorPublicKey]), 'mirage/report/v1', 32))
  const keyId = reportKeyId(vendorPublicKey)
  const aad = Buffer.concat([Buffer.from('mirage/report/v1'), Buffer.from([0]), dagCbor.encode({ v: 1, app, release, keyId })])
  const nonce = randomBytes(12)
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  cipher.setAAD(aad, { plaintextLength: plaintext.byteLength })
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
  return dagCbor.encode({ v: 1, app, release, keyId, epk: Uint8Array.from(epk), nonce: Uint8Array.from(nonce), ct: Uint8Array.from(ct) })
}

async function signedReport (r: ProblemReport, key = machineA.key): Promise<Uint8Array> {
  return sealEnvelope(SIGNATURE_DOMAINS.report, encodeProblemReport(r), key)
}

describe('sealing and opening', () => {
  it('opens with the vendor key: the report, its signer and the signed envelope', async () => {
    const opened = await openReport(sealed, vendor.privateKey)
    expect(opened.report).toEqual(report)
    expect(opened.machine.equals(machineA.peerId)).toBe(true)
    expect(opened.signer.equals(machineA.key.publicKey)).toBe(true)
    expect(opened.keyId).toEqual(reportKeyId(vendor.publicKey))
    const envelope = await openEnvelope(opened.signed, SIGNATURE_DOMAINS.report)
    expect(envelope.payload).toEqual(encodeProblemReport(report))
  })

  it('carries app, release and key id in the clear, and nothing else of the report', () => {
    const fields = decodeSealedReport(sealed)
    expect(Object.keys(fields).sort()).toEqual(['app', 'ct', 'epk', 'keyId', 'nonce', 'release', 'v'])
    expect(fields).toMatchObject({ v: 1, app: 'webshop', release: report.releaseId })
    const text = Buffer.from(sealed).toString('latin1')
    for (const visible of [report.machine, report.clusterId, report.failure.name, 'Error: expected 200']) expect(text).not.toContain(visible)
  })

  it('is fresh each time (ephemeral key and nonce)', async () => {
    const again = decodeSealedReport(await sealReport(report, machineA.key, vendor.publicKey))
    const first = decodeSealedReport(sealed)
    expect(again.epk).not.toEqual(first.epk)
    expect(again.nonce).not.toEqual(first.nonce)
  })

  it('does not open with another key: wrong-key by key id, tampered if the key id is forged', async () => {
    expect(await reasonOf(openReport(sealed, otherVendor.privateKey))).toBe('ReportError:wrong-key')
    const forged = reseal(f => ({ ...f, keyId: reportKeyId(otherVendor.publicKey) }))
    expect(await reasonOf(openReport(forged, otherVendor.privateKey))).toBe('ReportError:tampered')
  })

  it('picks the key by id among several (key rotation)', async () => {
    const opened = await openReport(sealed, [otherVendor.privateKey, vendor.privateKey])
    expect(opened.report).toEqual(report)
  })

  it('refuses every flipped byte of ct, nonce and epk, and a changed key id, app or release', async () => {
    const fields = decodeSealedReport(sealed)
    const random = mulberry32(7)
    for (const name of ['ct', 'nonce', 'epk'] as const) {
      const positions = name === 'ct' ? Array.from({ length: 64 }, () => Math.floor(random() * fields.ct.byteLength)) : [...fields[name].keys()]
      for (const at of positions) {
        const bit = 1 << Math.floor(random() * 8)
        const changed = reseal(f => { const copy = Uint8Array.from(f[name]); copy[at] = (copy[at] as number) ^ bit; return { ...f, [name]: copy } })
        expect(await reasonOf(openReport(changed, vendor.privateKey)), `${name}[${at}]`).toBe('ReportError:tampered')
      }
    }
    for (let at = 0; at < fields.keyId.byteLength; at++) {
      const changed = reseal(f => { const copy = Uint8Array.from(f.keyId); copy[at] = (copy[at] as number) ^ 1; return { ...f, keyId: copy } })
      expect(await reasonOf(openReport(changed, vendor.privateKey))).toBe('ReportError:wrong-key')
    }
    expect(await reasonOf(openReport(reseal(f => ({ ...f, app: 'webshop2' })), vendor.privateKey))).toBe('ReportError:tampered')
    expect(await reasonOf(openReport(reseal(f => ({ ...f, release: releaseIdFor('webshop 2.1.1') })), vendor.privateKey))).toBe('ReportError:tampered')
  })

  it('refuses a low-order ephemeral key as tampered', async () => {
    const zero = reseal(f => ({ ...f, epk: new Uint8Array(32) }))
    const one = reseal(f => ({ ...f, epk: Uint8Array.from([1, ...new Array(31).fill(0)]) }))
    expect(await reasonOf(openReport(zero, vendor.privateKey))).toBe('ReportError:tampered')
    expect(await reasonOf(openReport(one, vendor.privateKey))).toBe('ReportError:tampered')
  })

  it('never opens a randomly mutated sealed report (fast-check, seeded)', async () => {
    const reasons = new Set<string>()
    await fc.assert(fc.asyncProperty(byteMutation, async mutation => {
      const mutated = mutateBytes(sealed, mutation)
      const reason = await reasonOf(openReport(mutated, vendor.privateKey))
      reasons.add(reason)
      expect(['ReportError:malformed', 'ReportError:tampered', 'ReportError:wrong-key']).toContain(reason)
    }), { seed: 11, numRuns: 300 })
    expect(reasons.has('ReportError:malformed')).toBe(true)
    expect(reasons.has('ReportError:tampered')).toBe(true)
  })
})

describe('refusing bad sealed input before decrypting', () => {
  it('refuses oversized input by its length', async () => {
    const big = new Uint8Array(MAX_SEALED_REPORT_BYTES + 1)
    expect(await reasonOf(openReport(big, vendor.privateKey))).toBe('ReportError:oversized')
    // Even a well-formed envelope, if over the limit.
    const padded = reseal(f => ({ ...f, ct: new Uint8Array(MAX_SEALED_REPORT_BYTES) }))
    expect(await reasonOf(openReport(padded, vendor.privateKey))).toBe('ReportError:oversized')
  })

  it('refuses truncated CBOR, wrong types and sizes, missing and extra fields, and non-canonical encodings as malformed, naming the field', async () => {
    const fields = decodeSealedReport(sealed)
    const cases: Array<[Uint8Array, string]> = [
      [sealed.subarray(0, sealed.byteLength - 1), ''],
      [sealed.subarray(0, 10), ''],
      [new Uint8Array(0), ''],
      [dagCbor.encode([1, 2, 3]), ''],
      [dagCbor.encode('text'), ''],
      [reseal(f => ({ ...f, v: 2 })), 'v'],
      [reseal(f => ({ ...f, app: 7 })), 'app'],
      [reseal(f => ({ ...f, app: 'Not An App' })), 'app'],
      [reseal(f => ({ ...f, release: 'bafy-nope' })), 'release'],
      [reseal(f => ({ ...f, nonce: 'abc' })), 'nonce'],
      [reseal(f => ({ ...f, nonce: f.nonce.subarray(0, 11) })), 'nonce'],
      [reseal(f => ({ ...f, epk: new Uint8Array(33) })), 'epk'],
      [reseal(f => ({ ...f, keyId: new Uint8Array(8) })), 'keyId'],
      [reseal(f => ({ ...f, ct: new Uint8Array(15) })), 'ct'],
      [reseal(f => ({ ...f, extra: 1 })), ''],
      [reseal(({ ct: _ct, ...rest }) => rest), 'ct']
    ]
    for (const [bytes, field] of cases) {
      const err = await openReport(bytes, vendor.privateKey).then(() => null, (e: unknown) => e)
      expect(err, `field ${field}`).toMatchObject({ name: 'ReportError', reason: 'malformed', field })
    }
    // Non-canonical: the same map with its keys in insertion order, and with a non-minimal integer head for v.
    const cborMap = (entries: Array<[string, Uint8Array]>): Uint8Array => {
      const parts: Uint8Array[] = [Uint8Array.from([0xa0 + entries.length])]
      for (const [key, value] of entries) parts.push(dagCbor.encode(key), value)
      return Uint8Array.from(Buffer.concat(parts))
    }
    const ordered: Array<[string, unknown]> = [['v', 1], ['app', fields.app], ['release', fields.release], ['keyId', fields.keyId], ['epk', fields.epk], ['nonce', fields.nonce], ['ct', fields.ct]]
    const unsorted = cborMap(ordered.map(([k, v]) => [k, dagCbor.encode(v)]))
    const wideV = cborMap(([...ordered].sort(([a], [b]) => a.length - b.length || (a < b ? -1 : 1))).map(([k, v]) => [k, k === 'v' ? Uint8Array.from([0x18, 0x01]) : dagCbor.encode(v)]))
    for (const bytes of [unsorted, wideV]) {
      expect(await reasonOf(openReport(bytes, vendor.privateKey))).toBe('ReportError:malformed')
    }
  })
})

describe('who sent it and for what', () => {
  it('refuses to seal a report that names another machine', async () => {
    const lie = sampleReport(machineB.peerId.toString())
    expect(await reasonOf(sealReport(lie, machineA.key, vendor.publicKey))).toBe('ReportError:wrong-signer')
  })

  it('refuses a report signed by one machine that claims another', async () => {
    const lie = sampleReport(machineB.peerId.toString())
    const bytes = sealPlaintext(await signedReport(lie, machineA.key), vendor.publicKey, lie.app, lie.releaseId)
    expect(await reasonOf(openReport(bytes, vendor.privateKey))).toBe('ReportError:wrong-signer')
  })

  it('refuses a bad signature, and a signed envelope of another domain', async () => {
    const signed = await signedReport(report)
    const envelope = dagCbor.decode<{ d: string, k: Uint8Array, p: Uint8Array, s: Uint8Array }>(signed)
    const s = Uint8Array.from(envelope.s)
    s[0] = (s[0] as number) ^ 1
    const badSignature = dagCbor.encode({ ...envelope, s })
    expect(await reasonOf(openReport(sealPlaintext(badSignature, vendor.publicKey, report.app, report.releaseId), vendor.privateKey))).toBe('ReportError:bad-signature')
    const outcome = await sealEnvelope(SIGNATURE_DOMAINS.outcome, encodeProblemReport(report), machineA.key)
    expect(await reasonOf(openReport(sealPlaintext(outcome, vendor.publicKey, report.app, report.releaseId), vendor.privateKey))).toBe('ReportError:invalid')
    expect(await reasonOf(openReport(sealPlaintext(Uint8Array.from([1, 2, 3]), vendor.publicKey, report.app, report.releaseId), vendor.privateKey))).toBe('ReportError:invalid')
  })

  it('refuses a signed report re-sealed under another release or app', async () => {
    const signed = await signedReport(report)
    const moved = sealPlaintext(signed, vendor.publicKey, report.app, releaseIdFor('webshop 9.9.9'))
    const err = await openReport(moved, vendor.privateKey).then(() => null, (e: unknown) => e)
    expect(err).toMatchObject({ name: 'ReportError', reason: 'invalid', field: 'releaseId' })
    const otherApp = sealPlaintext(signed, vendor.publicKey, 'blog', report.releaseId)
    expect(await openReport(otherApp, vendor.privateKey).then(() => null, (e: unknown) => e)).toMatchObject({ reason: 'invalid', field: 'app' })
  })

  it('opens what the independent implementation of the format sealed (the document is enough)', async () => {
    const bytes = sealPlaintext(await signedReport(report), vendor.publicKey, report.app, report.releaseId)
    expect((await openReport(bytes, vendor.privateKey)).report).toEqual(report)
    expect(reportAad(report.app, report.releaseId, reportKeyId(vendor.publicKey)).subarray(0, 17))
      .toEqual(Uint8Array.from(Buffer.concat([Buffer.from('mirage/report/v1'), Buffer.from([0])])))
  })

  it('asks the caller whether the machine is trusted', async () => {
    const seen: string[] = []
    const opened = await openReport(sealed, vendor.privateKey, machine => { seen.push(machine.toString()); return true })
    expect(opened.report).toEqual(report)
    expect(seen).toEqual([machineA.peerId.toString()])
    expect(await reasonOf(openReport(sealed, vendor.privateKey, async () => false))).toBe('ReportError:untrusted-machine')
  })
})

describe('secrets never leave the machine', () => {
  it('keeps planted secrets out of the plaintext, the sealed bytes and the opened report', async () => {
    const ownerSecret = 'correct-horse-battery-staple-42'
    const planted = {
      ownerSecret,
      password: 'pl4nted-db-pass',
      aws: 'AKIAIOSFODNN7EXAMPLE',
      github: `ghp_${'Zx9'.repeat(12)}`,
      jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ',
      pem: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7'
    }
    const tail = [
      'starting checkout test',
      `using api secret ${ownerSecret} (b64 ${Buffer.from(ownerSecret).toString('base64')}, url ${encodeURIComponent(ownerSecret)})`,
      `DB_PASSWORD=${planted.password}`,
      `aws ${planted.aws} github ${planted.github}`,
      `Authorization: Bearer ${planted.jwt}`,
      '-----BEGIN PRIVATE KEY-----', planted.pem, '-----END PRIVATE KEY-----',
      'Error: checkout returned 500'
    ].join('\n')
    const built = buildProblemReport(reportInput(machineA.peerId.toString(), { output: { tail, bytes: Buffer.byteLength(tail) } }), createRedactor([ownerSecret]))
    const plaintext = await signedReport(built)
    const bytes = await sealReport(built, machineA.key, vendor.publicKey)
    const opened = await openReport(bytes, vendor.privateKey)
    const openedText = JSON.stringify(opened.report)
    for (const [name, secret] of Object.entries(planted)) {
      const needle = Buffer.from(secret.slice(0, 12))
      expect(Buffer.from(plaintext).includes(needle), `${name} in the plaintext`).toBe(false)
      expect(Buffer.from(bytes).includes(needle), `${name} in the sealed bytes`).toBe(false)
      expect(openedText.includes(secret.slice(0, 12)), `${name} in the opened report`).toBe(false)
    }
    expect(Buffer.from(bytes).includes(Buffer.from(ownerSecret).toString('base64').slice(4, 20))).toBe(false)
    expect(opened.report.output.tail).toContain('Error: checkout returned 500')
    expect(opened.report.redactions).toMatchObject({ 'owner-secret': 3, 'key-value': 1, 'aws-access-key': 1, 'github-token': 1, authorization: 1, 'private-key': 1 })
  })
})
