import { SIGNATURE_DOMAINS, SignatureError, openEnvelope, sealEnvelope } from '../trust/index.ts'
import { ReleaseRefusedError } from './errors.ts'
import { decodeManifest, encodeManifest } from './release-manifest.ts'
import { releaseIdOf } from './release-id.ts'
import type { ReleaseManifest } from './release-manifest.ts'
import type { TrustedVendorKeys } from '../trust/index.ts'
import type { Ed25519PrivateKey, Ed25519PublicKey } from '@libp2p/interface'

/** A release whose signature, schema and freshness were checked. */
export interface VerifiedRelease {
  /** CID of the manifest payload. */
  id: string
  manifest: ReleaseManifest
  signer: Ed25519PublicKey
  /** The signed envelope exactly as received: what is stored and forwarded. */
  bytes: Uint8Array
}

export interface OpenReleaseOptions {
  /** The vendor keys this machine trusts per app, or one key (as `release verify --vendor-key` gives). */
  trust: TrustedVendorKeys | Ed25519PublicKey
  /** Clock to judge expiry by; defaults to now. */
  now?: number
  /** The sequence of the installed release of this app: anything not above it is a rollback. */
  installedSequence?: number
}

export async function signRelease (manifest: ReleaseManifest, key: Ed25519PrivateKey): Promise<VerifiedRelease> {
  const payload = encodeManifest(manifest)
  const bytes = await sealEnvelope(SIGNATURE_DOMAINS.release, payload, key)
  return { id: await releaseIdOf(payload), manifest, signer: key.publicKey, bytes }
}

/**
 * Opens a signed release and checks it may be installed now. In order: the
 * envelope and signature (SignatureError), the manifest
 * (ManifestInvalidError), the signer is trusted for that app (SignatureError
 * 'untrusted-signer'), then expiry and rollback (ReleaseRefusedError).
 */
export async function openRelease (bytes: Uint8Array, options: OpenReleaseOptions): Promise<VerifiedRelease> {
  const release = await readSignedRelease(bytes, options.trust)
  checkReleaseFreshness(release.manifest, options)
  return release
}

/** Signature, schema and trust, without the clock: what a verifier reports on even for an expired release. */
export async function readSignedRelease (bytes: Uint8Array, trust: OpenReleaseOptions['trust']): Promise<VerifiedRelease> {
  const release = await inspectSignedRelease(bytes)
  requireSigner(trust, release.manifest.app, release.signer)
  return release
}

/**
 * Reads a signed release whose signature is valid, without asking whether
 * the signer is trusted: for showing a release, never for installing one.
 */
export async function inspectSignedRelease (bytes: Uint8Array): Promise<VerifiedRelease> {
  const envelope = await openEnvelope(bytes, SIGNATURE_DOMAINS.release)
  const manifest = decodeManifest(envelope.payload)
  return { id: await releaseIdOf(envelope.payload), manifest, signer: envelope.signer, bytes }
}

/** Freeze and rollback protection: refuses an expired release, or one not above the installed sequence. */
export function checkReleaseFreshness (manifest: ReleaseManifest, options: Omit<OpenReleaseOptions, 'trust'>): void {
  const now = options.now ?? Date.now()
  if (now >= manifest.expiresAt) {
    throw new ReleaseRefusedError('expired', `release ${manifest.app} ${manifest.version} expired at ${new Date(manifest.expiresAt).toISOString()}`)
  }
  if (options.installedSequence !== undefined && manifest.sequence <= options.installedSequence) {
    throw new ReleaseRefusedError('rollback',
      `release ${manifest.app} ${manifest.version} has sequence ${manifest.sequence}, not above the installed sequence ${options.installedSequence}`)
  }
}

function requireSigner (trust: TrustedVendorKeys | Ed25519PublicKey, app: string, signer: Ed25519PublicKey): void {
  if ('requireTrusted' in trust) {
    trust.requireTrusted(app, signer)
    return
  }
  if (!trust.equals(signer)) {
    throw new SignatureError('untrusted-signer', `the signature is by ${signer.toString()}, not by the vendor key ${trust.toString()}`)
  }
}
