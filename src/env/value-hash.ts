import { createHmac } from 'node:crypto'

/**
 * Salted value hashes: what leaves the machine says whether two values are
 * equal, not what they are. HMAC-SHA256 keyed by the app's salt, cut to 128
 * bits (plenty to tell values apart; half the size in a census).
 */
export const VALUE_HASH_HEX_CHARS = 32

/** The salt of an app whose spec names none: still per app, so tables do not carry over. */
export function defaultSalt (app: string): string {
  return `mirage/env-salt/v1/${app}`
}

export function hashValue (salt: string, value: string | Uint8Array): string {
  return createHmac('sha256', salt).update(value).digest('hex').slice(0, VALUE_HASH_HEX_CHARS)
}
