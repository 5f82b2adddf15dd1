import { SIGNATURE_DOMAINS, SignatureError, openEnvelope, sealEnvelope } from '../trust/index.ts'
import { decodeClusterMap, encodeClusterMap } from './cluster-map.ts'
import { ClusterMapRefusedError } from './errors.ts'
import type { ClusterMap } from './cluster-map.ts'
import type { TrustedVendorKeys } from '../trust/index.ts'
import type { Ed25519PrivateKey, Ed25519PublicKey } from '@libp2p/interface'

/** A cluster map whose signature, schema and signer were checked. */
export interface VerifiedClusterMap {
  map: ClusterMap
  signer: Ed25519PublicKey
  /** The signed envelope exactly as received: what is stored and forwarded. */
  bytes: Uint8Array
}

export interface OpenClusterMapOptions {
  /** The sequence of the map in use for this app: a map not above it is a rollback (ClusterMapRefusedError). */
  installedSequence?: number
}

/**
 * Signs a cluster map with the vendor key, under its own signature domain
 * (`SIGNATURE_DOMAINS.clusterMap`), so a map signature can never pass for a
 * release or an override. Refuses a map this build would not open.
 */
export async function sealClusterMap (map: ClusterMap, vendorKey: Ed25519PrivateKey): Promise<Uint8Array> {
  return sealEnvelope(SIGNATURE_DOMAINS.clusterMap, encodeClusterMap(map), vendorKey)
}

/**
 * Opens a signed cluster map. In order: the envelope and its signature
 * (SignatureError: malformed, oversized, non-canonical, wrong-domain,
 * bad-signature), the map (ClusterMapInvalidError), the signer is trusted for
 * the map's app, or is the one given key (SignatureError 'untrusted-signer'),
 * then rollback (ClusterMapRefusedError).
 */
export async function openClusterMap (bytes: Uint8Array, trust: TrustedVendorKeys | Ed25519PublicKey, options: OpenClusterMapOptions = {}): Promise<VerifiedClusterMap> {
  const envelope = await openEnvelope(bytes, SIGNATURE_DOMAINS.clusterMap)
  if (!('requireTrusted' in trust) && !trust.equals(envelope.signer)) {
    // One expected key: refuse a stranger before parsing what it signed.
    throw new SignatureError('untrusted-signer', `the cluster map is signed by ${envelope.signer.toString()}, not by the vendor key ${trust.toString()}`)
  }
  const map = decodeClusterMap(envelope.payload)
  if ('requireTrusted' in trust) trust.requireTrusted(map.app, envelope.signer)
  if (options.installedSequence !== undefined && map.sequence <= options.installedSequence) {
    throw new ClusterMapRefusedError('rollback',
      `cluster map ${map.app} has sequence ${map.sequence}, not above the one in use (${options.installedSequence})`)
  }
  return { map, signer: envelope.signer, bytes }
}
