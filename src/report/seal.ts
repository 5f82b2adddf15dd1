/**
 * Sealing a problem report to the vendor: signed by the machine, then
 * encrypted so that only the vendor's report key opens it (an ECIES-style
 * construction like HPKE base mode, RFC 9180, with fixed choices):
 *
 *   plaintext = signed envelope (src/trust, domain `report`) of the report's canonical DAG-CBOR
 *   esk, epk  = a fresh X25519 key pair per report
 *   shared    = X25519(esk, vendor public key)        (refused if all zero)
 *   key       = HKDF-SHA256(ikm = shared, salt = epk ‖ vendor public key, info = "mirage/report/v1", 32)
 *   aad       = "mirage/report/v1" ‖ 0x00 ‖ DAG-CBOR { v: 1, app, release, keyId }
 *   ct        = ChaCha20-Poly1305(key, nonce, aad, plaintext) ‖ tag(16)
 *   sealed    = DAG-CBOR { v: 1, app, release, keyId, epk, nonce, ct }
 *
 * The AAD binds the cleartext routing fields (app, release, key id): moving a
 * sealed report to another release or key breaks its tag. And the opened
 * report must itself name that app and release, so a machine's signed report
 * cannot be re-sealed under another release either. The nonce is random
 * although each key is used once (the ephemeral key makes it fresh): a
 * second line of defence costing 12 bytes.
 *
 * See src/report/FORMAT-DRAFT.md for the byte-level description.
 */
import { createCipheriv, createDecipheriv, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { z } from 'zod'
import {
  APP_NAME_PATTERN, CanonicalEncodingError, SIGNATURE_DOMAINS, SignatureError, bytesEqual, decodeCanonical, encodeCanonical, openEnvelope, sealEnvelope
} from '../trust/index.ts'
import {
  MAX_SEALED_REPORT_BYTES, REPORT_KEY_ID_BYTES, REPORT_NONCE_BYTES, REPORT_SEAL_CONTEXT, REPORT_TAG_BYTES, X25519_PUBLIC_KEY_BYTES
} from './constants.ts'
import { ReportError } from './errors.ts'
import { decodeProblemReport, encodeProblemReport } from './problem-report.ts'
import { reportKeyId, reportPublicKeyFromBytes, reportPublicKeyOf, x25519PublicKeyObject } from './report-keys.ts'
import type { ProblemReport } from './problem-report.ts'
import type { Ed25519PrivateKey, Ed25519PublicKey, PeerId } from '@libp2p/interface'
import type { KeyObject } from 'node:crypto'

/** The sealed envelope's fields, as decoded (nothing in it is authenticated until opened). */
export interface SealedReport {
  v: 1
  app: string
  /** Release id (CIDv1 text). */
  release: string
  keyId: Uint8Array
  /** Ephemeral X25519 public key, 32 bytes. */
  epk: Uint8Array
  nonce: Uint8Array
  /** Ciphertext followed by the 16-byte Poly1305 tag. */
  ct: Uint8Array
}

/** A report that decrypted, verified and passed its schema. */
export interface OpenedReport {
  report: ProblemReport
  /** The machine's key that signed it. */
  signer: Ed25519PublicKey
  /** Peer id of `signer`; equal to `report.machine`. */
  machine: PeerId
  /** The signed envelope as the machine made it: what a vendor keeps as proof. */
  signed: Uint8Array
  /** Id of the vendor key it was sealed to. */
  keyId: Uint8Array
}

/** Decides whether reports from this machine are wanted (e.g. it is in the vendor's census). */
export type TrustedMachineCheck = (machine: PeerId, report: ProblemReport) => boolean | Promise<boolean>

const bytesOf = (length: number, what: string): z.ZodType<Uint8Array> =>
  z.custom<Uint8Array>(v => v instanceof Uint8Array && v.byteLength === length, `${what} must be ${length} bytes`)

const sealedSchema = z.strictObject({
  v: z.literal(1),
  app: z.string().regex(APP_NAME_PATTERN, 'must be an app name'),
  release: z.string().max(128).refine(text => { try { return CID.parse(text).version === 1 } catch { return false } }, 'must be a CIDv1 string'),
  keyId: bytesOf(REPORT_KEY_ID_BYTES, 'keyId'),
  epk: bytesOf(X25519_PUBLIC_KEY_BYTES, 'epk'),
  nonce: bytesOf(REPORT_NONCE_BYTES, 'nonce'),
  ct: z.custom<Uint8Array>(v => v instanceof Uint8Array && v.byteLength >= REPORT_TAG_BYTES, `ct must be bytes, at least the ${REPORT_TAG_BYTES}-byte tag`)
})

const textEncoder = new TextEncoder()

/** The additional authenticated data: context, a zero byte, then canonical `{ v, app, release, keyId }`. */
export function reportAad (app: string, release: string, keyId: Uint8Array): Uint8Array {
  const prefix = textEncoder.encode(REPORT_SEAL_CONTEXT)
  const fields = encodeCanonical({ v: 1, app, release, keyId })
  const out = new Uint8Array(prefix.byteLength + 1 + fields.byteLength)
  out.set(prefix, 0)
  out.set(fields, prefix.byteLength + 1)
  return out
}

function deriveKey (shared: Uint8Array, epk: Uint8Array, vendorPublicKey: Uint8Array): Buffer {
  const salt = Buffer.concat([epk, vendorPublicKey])
  return Buffer.from(hkdfSync('sha256', shared, salt, REPORT_SEAL_CONTEXT, 32))
}

/**
 * Signs `report` with the machine's key and seals it to the vendor's report
 * public key. Refuses (ReportError 'wrong-signer') a report whose `machine`
 * is not this key's peer id, and an invalid or oversized report.
 */
export async function sealReport (report: ProblemReport, machineKey: Ed25519PrivateKey, vendorPublicKey: Uint8Array): Promise<Uint8Array> {
  const machine = peerIdFromPrivateKey(machineKey).toString()
  if (report.machine !== machine) {
    throw new ReportError('wrong-signer', `the report names machine ${report.machine} but would be signed by ${machine}`, 'machine')
  }
  const vendorKey = reportPublicKeyFromBytes(vendorPublicKey)
  const signed = await sealEnvelope(SIGNATURE_DOMAINS.report, encodeProblemReport(report), machineKey)
  const ephemeral = generateKeyPairSync('x25519')
  const epk = reportPublicKeyOf(ephemeral.privateKey)
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: x25519PublicKeyObject(vendorKey) })
  const keyId = reportKeyId(vendorKey)
  const nonce = Uint8Array.from(randomBytes(REPORT_NONCE_BYTES))
  const cipher = createCipheriv('chacha20-poly1305', deriveKey(shared, epk, vendorKey), nonce, { authTagLength: REPORT_TAG_BYTES })
  cipher.setAAD(reportAad(report.app, report.releaseId, keyId), { plaintextLength: signed.byteLength })
  const ct = Buffer.concat([cipher.update(signed), cipher.final(), cipher.getAuthTag()])
  const sealed: SealedReport = { v: 1, app: report.app, release: report.releaseId, keyId, epk, nonce, ct: Uint8Array.from(ct) }
  const bytes = encodeCanonical(sealed)
  if (bytes.byteLength > MAX_SEALED_REPORT_BYTES) {
    throw new ReportError('oversized', `sealed report is ${bytes.byteLength} bytes, more than the limit of ${MAX_SEALED_REPORT_BYTES}`)
  }
  return bytes
}

/**
 * Decodes a sealed report's fields without opening it (to route or store
 * it by app and release). Refuses, before any cryptography: more than
 * MAX_SEALED_REPORT_BYTES ('oversized'), and anything but the canonical
 * encoding of exactly the seven fields with their types and sizes ('malformed').
 */
export function decodeSealedReport (bytes: Uint8Array): SealedReport {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_SEALED_REPORT_BYTES, 'sealed report')
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new ReportError(err.reason === 'oversized' ? 'oversized' : 'malformed', err.message, '', { cause: err })
  }
  const parsed = sealedSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue?.path.map(String).join('.') ?? ''
    const message = issue?.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map(k => JSON.stringify(k.slice(0, 40))).join(', ')}` : (issue?.message ?? 'invalid')
    throw new ReportError('malformed', `sealed report: ${field === '' ? '' : `${field}: `}${message}`, field)
  }
  return parsed.data as SealedReport
}

/**
 * Opens a sealed report with the vendor's report private key (or one of
 * several, picked by key id, for rotation), then checks it in order: size
 * and form ('oversized', 'malformed'), key id ('wrong-key'), decryption
 * ('tampered'), the machine's signature ('bad-signature'), the report's
 * schema and its agreement with the sealed app and release ('invalid'),
 * that the signer is the machine it names ('wrong-signer'), and finally
 * the caller's check ('untrusted-machine').
 */
export async function openReport (
  bytes: Uint8Array,
  vendorKeys: KeyObject | readonly KeyObject[],
  trustedMachineCheck?: TrustedMachineCheck
): Promise<OpenedReport> {
  const sealed = decodeSealedReport(bytes)
  const keys = Array.isArray(vendorKeys) ? vendorKeys as readonly KeyObject[] : [vendorKeys as KeyObject]
  let privateKey: KeyObject | undefined
  let vendorPublicKey: Uint8Array | undefined
  for (const key of keys) {
    const publicKey = reportPublicKeyOf(key)
    if (bytesEqual(reportKeyId(publicKey), sealed.keyId)) { privateKey = key; vendorPublicKey = publicKey; break }
  }
  if (privateKey === undefined || vendorPublicKey === undefined) {
    throw new ReportError('wrong-key', `sealed report is for key ${Buffer.from(sealed.keyId).toString('hex')}, which is not among the ${keys.length} report key(s) given`, 'keyId')
  }
  let signed: Uint8Array
  try {
    const shared = diffieHellman({ privateKey, publicKey: x25519PublicKeyObject(sealed.epk) })
    const decipher = createDecipheriv('chacha20-poly1305', deriveKey(shared, sealed.epk, vendorPublicKey), sealed.nonce, { authTagLength: REPORT_TAG_BYTES })
    const body = sealed.ct.subarray(0, sealed.ct.byteLength - REPORT_TAG_BYTES)
    decipher.setAAD(reportAad(sealed.app, sealed.release, sealed.keyId), { plaintextLength: body.byteLength })
    decipher.setAuthTag(sealed.ct.subarray(sealed.ct.byteLength - REPORT_TAG_BYTES))
    signed = Uint8Array.from(Buffer.concat([decipher.update(body), decipher.final()]))
  } catch (err) {
    // A low-order epk (all-zero shared secret) or a failed tag: either way the sender's bytes were not sealed to this key as they are.
    throw new ReportError('tampered', 'sealed report does not decrypt: it was altered, or not sealed to this key', '', { cause: err })
  }
  let opened
  try {
    opened = await openEnvelope(signed, SIGNATURE_DOMAINS.report)
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err
    throw new ReportError(err.reason === 'bad-signature' ? 'bad-signature' : 'invalid', `sealed report: ${err.message}`, '', { cause: err })
  }
  const report = decodeProblemReport(opened.payload)
  if (report.app !== sealed.app) {
    throw new ReportError('invalid', `sealed report: sealed for app ${sealed.app} but the report is of ${report.app}`, 'app')
  }
  if (report.releaseId !== sealed.release) {
    throw new ReportError('invalid', `sealed report: sealed for release ${sealed.release} but the report is of ${report.releaseId}`, 'releaseId')
  }
  const machine = peerIdFromPublicKey(opened.signer)
  if (machine.toString() !== report.machine) {
    throw new ReportError('wrong-signer', `the report claims machine ${report.machine} but was signed by ${machine.toString()}`, 'machine')
  }
  if (trustedMachineCheck !== undefined && !(await trustedMachineCheck(machine, report))) {
    throw new ReportError('untrusted-machine', `reports from machine ${machine.toString()} are not accepted`, 'machine')
  }
  return { report, signer: opened.signer, machine, signed, keyId: sealed.keyId }
}
