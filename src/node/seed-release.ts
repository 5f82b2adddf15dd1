import { readFile } from 'node:fs/promises'
import { openChunkStore, readArtifact } from '../content/index.ts'
import { chunksPath, manifestPath, openRelease } from '../release/index.ts'
import type { ChunkStore } from '../content/index.ts'
import type { VerifiedRelease } from '../release/index.ts'
import type { Ed25519PublicKey } from '@libp2p/interface'

/**
 * Takes a release directory (as `vendor publish` wrote it) into a seed's
 * chunk store: the manifest must be signed by the seed's own vendor key and
 * every chunk is verified on the way in, so a seed never serves what its
 * vendor did not sign.
 */
export async function importReleaseDir (dir: string, vendorKey: Ed25519PublicKey, into: ChunkStore): Promise<VerifiedRelease> {
  const release = await openRelease(await readFile(manifestPath(dir)), { trust: vendorKey })
  const source = await openChunkStore(chunksPath(dir))
  const { chunks } = release.manifest.artifact
  let index = 0
  // readArtifact verifies each chunk against the manifest's digest and length.
  for await (const chunk of readArtifact(source, release.manifest.artifact)) {
    const digest = chunks[index++]
    if (digest !== undefined) await into.put(digest, chunk)
  }
  return release
}
