/**
 * Fingerprints and census envelopes for the census tests (protocol,
 * collector, reporter, vendor clustering).
 */
import { createHash } from 'node:crypto'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { sealCensus } from '../../src/overlay/index.ts'
import { generateSigningKey } from '../../src/trust/index.ts'
import type { Fingerprint } from '../../src/env/index.ts'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'

/** A value hash as fingerprints carry them (32 hex characters). */
export function valueHash (text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32)
}

/**
 * A small fingerprint of `app`: a library, two php.ini directives (weight
 * 0.5, a float that must survive CBOR) and a non-relevant env variable.
 * `variant` changes the memory limit, so variants differ by one item.
 */
export function sampleFingerprint (app = 'webshop', variant = 'a'): Fingerprint {
  return {
    format: 1,
    app,
    resources: {
      'env:LANG': { kind: 'env', relevant: false, weight: 1 },
      libmysql: { kind: 'binary', relevant: true, weight: 2 },
      'php.ini': { kind: 'ini', relevant: true, weight: 0.5 }
    },
    facts: [
      { resource: 'env:LANG', item: '', value: valueHash(`lang-${variant}`) },
      { resource: 'libmysql', item: '', value: valueHash('libmysql-5.0') },
      { resource: 'php.ini', item: 'PHP.memory_limit', value: valueHash(`memory-${variant}`) },
      { resource: 'php.ini', item: 'PHP.short_open_tag', value: valueHash('on') }
    ],
    notes: []
  }
}

export interface Machine {
  key: Ed25519PrivateKey
  peerId: PeerId
}

export async function makeMachine (): Promise<Machine> {
  const key = await generateSigningKey()
  return { key, peerId: peerIdFromPrivateKey(key) }
}

/** A census envelope of `fingerprint` signed by `key`. */
export async function censusEnvelope (key: Ed25519PrivateKey, fingerprint: Fingerprint = sampleFingerprint(), at = Date.now()): Promise<Uint8Array> {
  return sealCensus({ v: 1, app: fingerprint.app, at, fingerprint }, key)
}
