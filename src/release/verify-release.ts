import { readFile } from 'node:fs/promises'
import { openChunkStore, verifyArtifactChunks } from '../content/index.ts'
import { ManifestInvalidError, ReleaseRefusedError } from './errors.ts'
import { chunksPath, manifestPath } from './release-dir.ts'
import { checkReleaseFreshness, readSignedRelease } from './signed-release.ts'
import type { OpenReleaseOptions, VerifiedRelease } from './signed-release.ts'

/** One defect of a release directory, with enough to act on it. */
export type ReleaseDefect =
  | { kind: 'manifest-missing', message: string }
  | { kind: 'signature', reason: string, message: string }
  | { kind: 'manifest', reason: string, path: string, message: string }
  | { kind: 'expired', message: string }
  | { kind: 'chunk', index: number, digest: string, problem: 'missing' | 'corrupt' | 'wrong-length', message: string }

export interface ReleaseDirCheck {
  /** Present when the signature, schema and plan were valid, even if other defects were found. */
  release?: VerifiedRelease
  /** Empty when the release is good. */
  defects: ReleaseDefect[]
}

/**
 * Checks a release directory the way a machine would before installing it:
 * signature by the expected key, manifest and plan, expiry, and every chunk.
 * Collects every chunk defect rather than stopping at the first, so a vendor
 * sees the whole damage.
 */
export async function verifyReleaseDir (dir: string, options: Omit<OpenReleaseOptions, 'installedSequence'>): Promise<ReleaseDirCheck> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(manifestPath(dir))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    return { defects: [{ kind: 'manifest-missing', message: `${dir} has no ${manifestPath(dir).slice(dir.length + 1)}: not a release directory, or an unfinished publish` }] }
  }

  let release: VerifiedRelease
  try {
    release = await readSignedRelease(bytes, options.trust)
  } catch (err) {
    if (err instanceof ManifestInvalidError) {
      return { defects: [{ kind: 'manifest', reason: err.reason, path: err.path, message: err.message }] }
    }
    if ((err as Error).name === 'SignatureError') {
      return { defects: [{ kind: 'signature', reason: (err as { reason?: string }).reason ?? 'unknown', message: `signature: ${(err as Error).message}` }] }
    }
    throw err
  }

  const defects: ReleaseDefect[] = []
  try {
    checkReleaseFreshness(release.manifest, { now: options.now })
  } catch (err) {
    if (!(err instanceof ReleaseRefusedError)) throw err
    defects.push({ kind: 'expired', message: err.message })
  }

  const store = await openChunkStore(chunksPath(dir))
  const { artifact } = release.manifest
  for (const problem of await verifyArtifactChunks(store, artifact)) {
    defects.push({
      kind: 'chunk',
      ...problem,
      message: `chunk ${problem.index} (${problem.digest}) is ${problem.problem === 'wrong-length' ? 'the wrong length' : problem.problem}`
    })
  }
  return { release, defects }
}
