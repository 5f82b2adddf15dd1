import { constants } from 'node:fs'
import { access, mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { DEFAULT_CHUNK_SIZE_BYTES, MAX_ARTIFACT_CHUNKS, artifactRoot, chunkStream, openChunkStore, packDirectory, writeFileAtomically } from '../content/index.ts'
import { DEFAULT_RELEASE_LIFETIME_MS, MANIFEST_FORMAT } from './constants.ts'
import { PublishError } from './errors.ts'
import { chunksPath, manifestPath } from './release-dir.ts'
import { checkTargets, checkTestCommand } from './release-manifest.ts'
import { signRelease } from './signed-release.ts'
import type { ReleaseTest } from './release-manifest.ts'
import type { RolloutPlan } from './rollout-plan.ts'
import type { ShippedEnvSpec } from './release-manifest.ts'
import type { VerifiedRelease } from './signed-release.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'

const log = logger('mirage:release:publish')

/**
 * Chunk writes in flight while the next chunks are packed and hashed: the
 * fsync of one chunk overlaps the hashing of the next. Four keeps memory at
 * a few chunks while hiding fsync latency on a slow disk.
 */
const MAX_WRITES_IN_FLIGHT = 4

export interface PublishInit {
  app: string
  version: string
  sequence: number
  /** The directory to ship; packed into a deterministic archive. */
  artifactDir: string
  test: ReleaseTest
  plan: RolloutPlan
  /** The environmental resources that matter to this release, shipped with it. */
  envSpec?: ShippedEnvSpec
  /** The vendor's report public key (text form), signed into the manifest: where machines seal problem reports. */
  reportKey?: string
  /** The only clusters the release is for (any order; sorted into the manifest); absent: every machine. */
  targets?: string[]
  key: Ed25519PrivateKey
  /** Where the release is written; must not exist or be empty. */
  outDir: string
  chunkSize?: number
  /** Defaults to now. */
  createdAt?: number
  /** Defaults to createdAt + DEFAULT_RELEASE_LIFETIME_MS. */
  expiresAt?: number
  /** Aborts between chunks; what was written stays, without a manifest. */
  signal?: AbortSignal
  onProgress?: (event: PublishProgress) => void
}

export type PublishProgress =
  | { type: 'chunk-written', index: number, bytes: number, totalBytes: number }
  | { type: 'signed', id: string }

/**
 * Packs, chunks, hashes and signs a release, writing its chunks and signed
 * manifest into `outDir`. The manifest is written last and atomically: a
 * directory without one is an unfinished publish, never a valid release.
 */
export async function publishRelease (init: PublishInit): Promise<VerifiedRelease> {
  // Before any chunk is written: a target that would wait forever is the vendor's mistake to fix first.
  const targets = init.targets === undefined ? undefined : [...init.targets].sort(compareNames)
  if (targets !== undefined) checkTargets(init.plan, targets)
  await checkArtifactDir(init.artifactDir, init.test)
  await prepareOutDir(init.outDir)
  const chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE_BYTES
  const store = await openChunkStore(chunksPath(init.outDir))

  const digests: Uint8Array[] = []
  let count = 0
  let size = 0
  const inFlight = new Set<Promise<void>>()
  for await (const chunk of chunkStream(packDirectory(init.artifactDir), chunkSize)) {
    init.signal?.throwIfAborted()
    if (count >= MAX_ARTIFACT_CHUNKS) {
      throw new PublishError('too-large', `the artifact needs more than ${MAX_ARTIFACT_CHUNKS} chunks of ${chunkSize} bytes; use a larger --chunk-size`)
    }
    const index = count++
    size += chunk.byteLength
    const totalBytes = size
    // `add` hashes once and writes; its digest is known before the first await.
    const write: Promise<void> = store.add(chunk).then((digest) => {
      digests[index] = digest
      inFlight.delete(write)
      init.onProgress?.({ type: 'chunk-written', index, bytes: chunk.byteLength, totalBytes })
    })
    // Failures surface through the race or Promise.all below; this keeps a second failure from going unhandled.
    write.catch(() => {})
    inFlight.add(write)
    if (inFlight.size >= MAX_WRITES_IN_FLIGHT) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)

  const layout = { size, chunkSize, chunks: digests }
  const createdAt = init.createdAt ?? Date.now()
  const release = await signRelease({
    format: MANIFEST_FORMAT,
    app: init.app,
    version: init.version,
    sequence: init.sequence,
    createdAt,
    expiresAt: init.expiresAt ?? createdAt + DEFAULT_RELEASE_LIFETIME_MS,
    artifact: { ...layout, root: artifactRoot(layout) },
    test: init.test,
    plan: init.plan,
    ...(init.envSpec === undefined ? {} : { envSpec: init.envSpec }),
    ...(init.reportKey === undefined ? {} : { reportKey: init.reportKey }),
    ...(targets === undefined ? {} : { targets })
  }, init.key)
  await writeFileAtomically(manifestPath(init.outDir), release.bytes)
  init.onProgress?.({ type: 'signed', id: release.id })
  log('published %s %s (%d bytes, %d chunks) as %s', init.app, init.version, size, count, release.id)
  return release
}

function compareNames (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

async function checkArtifactDir (dir: string, test: ReleaseTest): Promise<void> {
  const info = await stat(dir).catch((err: unknown) => {
    throw new PublishError('artifact', `artifact directory ${dir} cannot be read: ${(err as Error).message}`, { cause: err })
  })
  if (!info.isDirectory()) throw new PublishError('artifact', `artifact ${dir} is not a directory`)
  const program = test.command[0] ?? ''
  try {
    checkTestCommand(program)
  } catch (err) {
    throw new PublishError('test-command', (err as Error).message, { cause: err })
  }
  const programPath = join(dir, program)
  const programInfo = await stat(programPath).catch(() => undefined)
  if (programInfo?.isFile() !== true) {
    throw new PublishError('test-command', `the test program "${program}" is not a file in the artifact ${dir}`)
  }
  await access(programPath, constants.X_OK).catch((err: unknown) => {
    throw new PublishError('test-command', `the test program "${program}" is not executable (chmod +x it)`, { cause: err })
  })
}

async function prepareOutDir (dir: string): Promise<void> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  if (entries.length > 0) {
    throw new PublishError('output-exists', `output directory ${dir} is not empty; refusing to mix two releases`)
  }
  await mkdir(dir, { recursive: true })
}
