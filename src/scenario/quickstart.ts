import { createHash } from 'node:crypto'
import { cp, mkdir, mkdtemp, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openChunkStore } from '../content/index.ts'
import { chunksPath, verifyReleaseDir } from '../release/index.ts'
import { initVendorDir, vendorPublish } from '../vendor/index.ts'
import type { ReleaseDirCheck, VerifiedRelease } from '../release/index.ts'

/** Shipped with the project: a tiny app with a test, and a three-cluster staged plan. */
const SAMPLE_APP_DIR = new URL('../../scenarios/sample-app/', import.meta.url).pathname
const SAMPLE_PLAN = new URL('../../scenarios/sample-plan.json', import.meta.url).pathname

/** Generated into the sample so that it spans several chunks, as real artifacts do. */
const SAMPLE_ASSET_BYTES = 3 * 1024 * 1024 + 12_345

export type QuickstartStep =
  | { type: 'vendor-created', dir: string, publicKey: string }
  | { type: 'published', release: VerifiedRelease, dir: string }
  | { type: 'verified', check: ReleaseDirCheck }
  | { type: 'tamper-detected', check: ReleaseDirCheck, dir: string }

export interface QuickstartInit {
  /** Defaults to a fresh directory under the system temp dir. */
  workDir?: string
  signal?: AbortSignal
  onStep?: (step: QuickstartStep) => void
}

export interface QuickstartResult {
  workDir: string
  release: VerifiedRelease
  verified: ReleaseDirCheck
  tampered: ReleaseDirCheck
}

/**
 * The main job on embedded defaults: create a vendor, publish the sample
 * release with its staged plan, verify it as a machine would, then flip one
 * byte of a copy and show that verification names the damaged chunk.
 */
export async function runQuickstart (init: QuickstartInit = {}): Promise<QuickstartResult> {
  const workDir = init.workDir ?? await mkdtemp(join(tmpdir(), 'mirage-quickstart-'))
  await mkdir(workDir, { recursive: true })

  const vendor = await initVendorDir(join(workDir, 'vendor'))
  init.onStep?.({ type: 'vendor-created', dir: vendor.dir, publicKey: vendor.publicKeyText })

  const appDir = join(workDir, 'webshop-1.0.0')
  await cp(SAMPLE_APP_DIR, appDir, { recursive: true })
  await writeDeterministicAsset(join(appDir, 'share', 'assets.bin'), SAMPLE_ASSET_BYTES)

  const releaseDir = join(workDir, 'releases', 'webshop-1.0.0')
  const release = await vendorPublish({
    vendor,
    app: 'webshop',
    version: '1.0.0',
    artifactDir: appDir,
    planPath: SAMPLE_PLAN,
    outDir: releaseDir,
    testCommand: ['mirage-test'],
    testTimeoutMs: 60_000,
    signal: init.signal
  })
  init.onStep?.({ type: 'published', release, dir: releaseDir })

  const verified = await verifyReleaseDir(releaseDir, { trust: vendor.key.publicKey })
  init.onStep?.({ type: 'verified', check: verified })

  const tamperedDir = join(workDir, 'releases', 'webshop-1.0.0-tampered')
  await cp(releaseDir, tamperedDir, { recursive: true })
  const victim = release.manifest.artifact.chunks[1] ?? release.manifest.artifact.chunks[0]
  if (victim === undefined) throw new Error('the sample release has no chunks')
  await flipByte((await openChunkStore(chunksPath(tamperedDir))).path(victim), 1000)
  const tampered = await verifyReleaseDir(tamperedDir, { trust: vendor.key.publicKey })
  init.onStep?.({ type: 'tamper-detected', check: tampered, dir: tamperedDir })

  return { workDir, release, verified, tampered }
}

async function flipByte (path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, offset)
    byte[0] = (byte[0] ?? 0) ^ 0xff
    await handle.write(byte, 0, 1, offset)
  } finally {
    await handle.close()
  }
}

/** Pseudo-random but reproducible bytes (SHA-256 in counter mode), so every run publishes the same artifact. */
async function writeDeterministicAsset (path: string, size: number): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true })
  const handle = await open(path, 'w')
  try {
    const block = 32
    const out = Buffer.alloc(size)
    for (let offset = 0, counter = 0; offset < size; offset += block, counter++) {
      createHash('sha256').update(`mirage-sample-${counter}`).digest().copy(out, offset)
    }
    await handle.writeFile(out)
  } finally {
    await handle.close()
  }
}
