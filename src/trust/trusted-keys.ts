import { APP_NAME_PATTERN } from './constants.ts'
import { SignatureError } from './errors.ts'
import { publicKeyFromText } from './keys.ts'
import type { Ed25519PublicKey } from '@libp2p/interface'

/**
 * The vendor keys a machine trusts, per app: trust on configuration, like a
 * TUF root. A key trusted for one app means nothing for another.
 */
export interface TrustedVendorKeys {
  /** The apps that have at least one trusted key. */
  apps(): string[]
  isTrusted(app: string, key: Ed25519PublicKey): boolean
  /** Throws SignatureError('untrusted-signer') naming the app and the key. */
  requireTrusted(app: string, key: Ed25519PublicKey): void
}

/** Builds the trust set from text keys, e.g. `{ "webshop": ["12D3KooW…"] }`. */
export function trustedVendorKeys (keysByApp: Record<string, readonly string[]>): TrustedVendorKeys {
  const byApp = new Map<string, Set<string>>()
  for (const [app, keys] of Object.entries(keysByApp)) {
    if (!APP_NAME_PATTERN.test(app)) {
      throw new TypeError(`trusted keys: "${app}" is not a valid app name (lowercase letters, digits, . _ -)`)
    }
    // Parse each key now, so a typo in a config fails at start-up, not at the first release.
    byApp.set(app, new Set(keys.map(text => publicKeyFromText(text).toString())))
  }
  return {
    apps: () => [...byApp.keys()].filter(app => (byApp.get(app)?.size ?? 0) > 0),
    isTrusted: (app, key) => byApp.get(app)?.has(key.toString()) ?? false,
    requireTrusted (app, key) {
      if (!(byApp.get(app)?.has(key.toString()) ?? false)) {
        throw new SignatureError('untrusted-signer', `signed by ${key.toString()}, which is not a trusted vendor key for app "${app}"`)
      }
    }
  }
}
