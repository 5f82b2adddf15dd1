/**
 * The vendor's report-encryption key: an X25519 key pair (RFC 7748) kept
 * beside its Ed25519 signing key. Machines seal problem reports to the
 * public key (seal.ts); only the vendor can open them.
 *
 * Forms:
 *   raw public key   32 bytes, the X25519 u-coordinate (RFC 7748 §5)
 *   text public key  `mirage-report-key:` + base64url(raw), unpadded (43 characters)
 *   key id           SHA-256(`mirage/report-key-id/v1\n` ‖ raw)[0..16]
 *   private key      PKCS #8 PEM (`-----BEGIN PRIVATE KEY-----`), file mode 0600
 *
 * Why a prefixed base64url text form and not multibase: a person pastes
 * this into a node config next to vendor signing keys, which read as peer
 * ids (`12D3KooW…`). The prefix says what the key is for, so a signing key
 * pasted where the report key belongs (or the reverse) is refused by its
 * form, not by a failure much later; a multibase string (`u…` or `z…`)
 * would not say that, and libp2p has no X25519 key type whose multicodec
 * form peers would recognise anyway. base64url is shell-, URL- and
 * YAML-safe, and strict decoding (exact length and alphabet, canonical last
 * character) gives each key exactly one text.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { open, readFile, stat } from 'node:fs/promises'
import { KeyFileError } from '../trust/index.ts'
import {
  REPORT_KEY_FILE_MODE, REPORT_KEY_FORBIDDEN_MODE_BITS, REPORT_KEY_ID_BYTES, REPORT_KEY_ID_CONTEXT, REPORT_KEY_TEXT_PREFIX, X25519_PUBLIC_KEY_BYTES
} from './constants.ts'
import { ReportKeyFormatError } from './errors.ts'
import type { KeyObject } from 'node:crypto'

export interface ReportKeyPair {
  /** Raw X25519 public key, 32 bytes. */
  publicKey: Uint8Array
  /** node:crypto private key object (type `x25519`). */
  privateKey: KeyObject
}

export function generateReportKeyPair (): ReportKeyPair {
  const { privateKey } = generateKeyPairSync('x25519')
  return { publicKey: reportPublicKeyOf(privateKey), privateKey }
}

/** The raw public key of a report private key. */
export function reportPublicKeyOf (privateKey: KeyObject): Uint8Array {
  checkPrivate(privateKey)
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
  return Uint8Array.from(Buffer.from(jwk.x as string, 'base64url'))
}

/** A copy of `bytes` if they can be a report public key (32 bytes). */
export function reportPublicKeyFromBytes (bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength !== X25519_PUBLIC_KEY_BYTES) {
    throw new ReportKeyFormatError(`a report public key is ${X25519_PUBLIC_KEY_BYTES} bytes, not ${bytes.byteLength}`)
  }
  return Uint8Array.from(bytes)
}

/** The key id sealed reports name their key by: SHA-256 of a context and the raw key, first 16 bytes. */
export function reportKeyId (publicKey: Uint8Array): Uint8Array {
  const raw = reportPublicKeyFromBytes(publicKey)
  const digest = createHash('sha256').update(`${REPORT_KEY_ID_CONTEXT}\n`).update(raw).digest()
  return Uint8Array.from(digest.subarray(0, REPORT_KEY_ID_BYTES))
}

export function reportPublicKeyToText (publicKey: Uint8Array): string {
  return `${REPORT_KEY_TEXT_PREFIX}${Buffer.from(reportPublicKeyFromBytes(publicKey)).toString('base64url')}`
}

const TEXT_PATTERN = new RegExp(`^${REPORT_KEY_TEXT_PREFIX}([A-Za-z0-9_-]{43})$`)

export function reportPublicKeyFromText (text: string): Uint8Array {
  const trimmed = text.trim()
  const match = TEXT_PATTERN.exec(trimmed)
  const shown = trimmed.length > 70 ? `${trimmed.slice(0, 67)}...` : trimmed
  if (match === null) {
    const hint = trimmed.startsWith('12D3KooW') ? ' (that is a signing key; the report key is the one the vendor printed as mirage-report-key:…)' : ''
    throw new ReportKeyFormatError(`"${shown}" is not a report public key (expected ${REPORT_KEY_TEXT_PREFIX} and 43 base64url characters)${hint}`)
  }
  const raw = Buffer.from(match[1] as string, 'base64url')
  // 43 characters carry 258 bits: the last character's two low bits must be zero, or two texts would name one key.
  if (raw.byteLength !== X25519_PUBLIC_KEY_BYTES || raw.toString('base64url') !== match[1]) {
    throw new ReportKeyFormatError(`"${shown}" is not the canonical text of a report public key`)
  }
  return Uint8Array.from(raw)
}

/** A node:crypto public key object for a raw X25519 key. */
export function x25519PublicKeyObject (publicKey: Uint8Array): KeyObject {
  const raw = reportPublicKeyFromBytes(publicKey)
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' })
  } catch (err) {
    throw new ReportKeyFormatError('not an X25519 public key', { cause: err })
  }
}

/** Storage form of the private key: PKCS #8 PEM. */
export function reportPrivateKeyToPem (privateKey: KeyObject): string {
  checkPrivate(privateKey)
  return privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
}

export function reportPrivateKeyFromPem (pem: string | Uint8Array): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey({ key: typeof pem === 'string' ? pem : Buffer.from(pem), format: 'pem' })
  } catch (err) {
    throw new ReportKeyFormatError('not a PKCS #8 PEM private key', { cause: err })
  }
  if (key.asymmetricKeyType !== 'x25519') {
    throw new ReportKeyFormatError(`a ${key.asymmetricKeyType ?? 'unknown'} private key where an X25519 report key was expected`)
  }
  return key
}

/** Writes the private key readable by its owner only; never overwrites (reports sealed to a lost key are lost). */
export async function saveReportPrivateKey (path: string, privateKey: KeyObject): Promise<void> {
  const pem = reportPrivateKeyToPem(privateKey)
  let handle
  try {
    handle = await open(path, 'wx', REPORT_KEY_FILE_MODE)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KeyFileError('exists', path, `a key already exists at ${path}; refusing to overwrite it`, { cause: err })
    }
    throw err
  }
  try {
    await handle.chmod(REPORT_KEY_FILE_MODE)
    await handle.writeFile(pem)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Reads the private key, refusing a file others could read or write. */
export async function loadReportPrivateKey (path: string): Promise<KeyObject> {
  let info
  try {
    info = await stat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new KeyFileError('missing', path, `no key file at ${path}`, { cause: err })
    throw err
  }
  if ((info.mode & REPORT_KEY_FORBIDDEN_MODE_BITS) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, '0')
    throw new KeyFileError('permissions', path,
      `key file ${path} has mode ${mode}, readable or writable by others; run \`chmod 600 ${path}\` if it was not exposed, otherwise make a new key`)
  }
  try {
    return reportPrivateKeyFromPem(await readFile(path))
  } catch (err) {
    if (!(err instanceof ReportKeyFormatError)) throw err
    const reason = err.message.includes('where an X25519') ? 'wrong-type' : 'malformed'
    throw new KeyFileError(reason, path, `${path}: ${err.message}`, { cause: err })
  }
}

function checkPrivate (key: KeyObject): void {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'x25519') {
    throw new ReportKeyFormatError(`a ${key.type} ${key.asymmetricKeyType ?? ''} key where an X25519 private key was expected`)
  }
}
