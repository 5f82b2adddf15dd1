import { randomBytes } from 'node:crypto'
import { artifactRoot } from '../../src/content/index.ts'
import { expect } from 'vitest'
import { MANIFEST_FORMAT, decodeManifest, parsePlanJson } from '../../src/release/index.ts'
import { encodeCanonical } from '../../src/trust/index.ts'
import type { ReleaseManifest } from '../../src/release/index.ts'

export const samplePlanJson = JSON.stringify({
  style: 'staged',
  clusters: [
    { name: 'reference', k: 2, q: 2 },
    { name: 'php5-mysql', after: ['reference'], k: 3, q: 2 }
  ],
  default: { after: ['php5-mysql'], k: 1, q: 1 }
})

/** A valid manifest over made-up chunk digests: enough for encode/sign/decode tests. */
export function sampleManifest (overrides: Partial<ReleaseManifest> = {}, chunkCount = 5): ReleaseManifest {
  const chunkSize = 1024 * 1024
  const chunks = Array.from({ length: chunkCount }, () => new Uint8Array(randomBytes(32)))
  const layout = { size: (chunkCount - 1) * chunkSize + 4242, chunkSize, chunks }
  const createdAt = Date.UTC(2026, 10, 1)
  return {
    format: MANIFEST_FORMAT,
    app: 'webshop',
    version: '1.4.2',
    sequence: 7,
    createdAt,
    expiresAt: createdAt + 30 * 86_400_000,
    artifact: { ...layout, root: artifactRoot(layout) },
    test: { command: ['mirage-test', '--quick'], timeoutMs: 60_000 },
    plan: parsePlanJson(samplePlanJson),
    ...overrides
  }
}

/** The ManifestInvalidError that decoding `manifest` (any value, encoded canonically) must throw. */
export function manifestRefusal (manifest: unknown): { reason: string, path: string, message: string } {
  try {
    decodeManifest(encodeCanonical(manifest))
  } catch (err) {
    expect((err as Error).name).toBe('ManifestInvalidError')
    return err as { reason: string, path: string, message: string }
  }
  throw new Error('manifest accepted')
}
