import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { KeyFileError, generateSigningKey, loadPrivateKey, savePrivateKey } from '../trust/index.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'

export const PEER_KEY_FILE = 'peer.key'

/**
 * The node's persistent libp2p identity (`<dataDir>/peer.key`, mode 0600):
 * made on first start, reused after, so peers and signed outcomes keep
 * naming the same machine across restarts.
 */
export async function loadOrCreatePeerKey (dataDir: string): Promise<Ed25519PrivateKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, PEER_KEY_FILE)
  try {
    return await loadPrivateKey(path)
  } catch (err) {
    if (!(err instanceof KeyFileError) || err.reason !== 'missing') throw err
  }
  const key = await generateSigningKey()
  await savePrivateKey(path, key)
  return key
}
