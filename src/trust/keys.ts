import { open, readFile, stat } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromMultihash, publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { base58btc } from 'multiformats/bases/base58'
import * as Digest from 'multiformats/hashes/digest'
import { PRIVATE_KEY_FILE_MODE, PRIVATE_KEY_FORBIDDEN_MODE_BITS } from './constants.ts'
import { KeyFileError, PublicKeyFormatError } from './errors.ts'
import type { Ed25519PrivateKey, Ed25519PublicKey } from '@libp2p/interface'

const log = logger('mirage:trust:keys')

/** Ed25519, the key type libp2p peers use, so vendor and node keys are alike. */
export async function generateSigningKey (): Promise<Ed25519PrivateKey> {
  return generateKeyPair('Ed25519')
}

/**
 * Writes a private key readable by its owner only. Never overwrites: losing a
 * vendor key would orphan every machine that trusts it.
 */
export async function savePrivateKey (path: string, key: Ed25519PrivateKey): Promise<void> {
  let handle
  try {
    handle = await open(path, 'wx', PRIVATE_KEY_FILE_MODE)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KeyFileError('exists', path, `a key already exists at ${path}; refusing to overwrite it`, { cause: err })
    }
    throw err
  }
  try {
    // The umask may have narrowed the mode further but never widened it; make it exact.
    await handle.chmod(PRIVATE_KEY_FILE_MODE)
    await handle.writeFile(privateKeyToProtobuf(key))
    await handle.sync()
  } finally {
    await handle.close()
  }
  log('saved private key %s', path)
}

/** Reads a private key, refusing a file that others could read or write. */
export async function loadPrivateKey (path: string): Promise<Ed25519PrivateKey> {
  let info
  try {
    info = await stat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KeyFileError('missing', path, `no key file at ${path}`, { cause: err })
    }
    throw err
  }
  if ((info.mode & PRIVATE_KEY_FORBIDDEN_MODE_BITS) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, '0')
    throw new KeyFileError('permissions', path,
      `key file ${path} has mode ${mode}, readable or writable by others; run \`chmod 600 ${path}\` if it was not exposed, otherwise make a new key`)
  }
  let key
  try {
    key = privateKeyFromProtobuf(await readFile(path))
  } catch (err) {
    throw new KeyFileError('malformed', path, `${path} does not hold a private key`, { cause: err })
  }
  if (key.type !== 'Ed25519') {
    throw new KeyFileError('wrong-type', path, `${path} holds a ${key.type} key; Mirage signs with Ed25519`)
  }
  return key
}

/**
 * The text form of a public key: the libp2p peer id of that key
 * (`12D3KooW…`), so vendor keys and node keys read the same way.
 */
export function publicKeyToText (key: Ed25519PublicKey): string {
  return key.toString()
}

export function publicKeyFromText (text: string): Ed25519PublicKey {
  const trimmed = text.trim()
  let key
  try {
    key = publicKeyFromMultihash(Digest.decode(base58btc.baseDecode(trimmed)) as Digest.Digest<0, number>)
  } catch (err) {
    throw new PublicKeyFormatError(`"${abbreviate(trimmed)}" is not an Ed25519 public key (expected the form 12D3KooW…)`, { cause: err })
  }
  if (key.type !== 'Ed25519') {
    throw new PublicKeyFormatError(`"${abbreviate(trimmed)}" is a ${key.type} key; Mirage signs with Ed25519`)
  }
  return key
}

/** Public keys travel inside envelopes in libp2p's protobuf form. */
export function publicKeyFromBytes (bytes: Uint8Array): Ed25519PublicKey {
  const key = publicKeyFromProtobuf(bytes)
  if (key.type !== 'Ed25519') {
    throw new PublicKeyFormatError(`a ${key.type} key where an Ed25519 key was expected`)
  }
  return key
}

function abbreviate (text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
