/**
 * The one release every scenario of the overlay benchmark ships: a vendor
 * (`initVendorDir`), an application of random bytes with a self-test, and
 * the release published from it with the default 1 MiB chunks. The
 * baselines serve the release's own archive (its chunks concatenated), so
 * every contender moves exactly the same bytes.
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdir, open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openChunkStore } from '../../src/content/index.ts'
import { chunksPath, parsePlanJson, publishRelease } from '../../src/release/index.ts'
import { initVendorDir } from '../../src/vendor/index.ts'

export const APP = 'webshop'
export const CLUSTER = 'A'
/** The application file the installed tree is checked by. */
export const PAYLOAD_FILE = 'payload.bin'

/**
 * One cluster, one representative, a quorum of one: the representative
 * tests first and the 20 (or 50) others follow once it passed. The default
 * rule is the same, so a cluster id the plan does not name behaves alike.
 */
const PLAN = { clusters: [{ name: CLUSTER, k: 1, q: 1 }], default: { k: 1, q: 1 } }

/** The release's test: what a real self-test would at least check, quickly. */
const TEST_SCRIPT = `#!/bin/sh\ntest -s "$(dirname "$0")/${PAYLOAD_FILE}" && echo "self-test passed"\n`

export interface BenchRelease {
  /** The published release directory (manifest + chunks), what the seed is handed. */
  dir: string
  vendorDir: string
  vendorKeyText: string
  id: string
  /** Bytes of the artifact (the archive), the unit of the vendor's upload multiple. */
  size: number
  chunkSize: number
  chunks: number
  /** The archive as one file, for the baselines. */
  archiveFile: string
  archiveSha256: string
  /** SHA-256 of the payload file, to check installed trees. */
  payloadSha256: string
}

export async function prepareRelease (work: string, payloadBytes: number): Promise<BenchRelease> {
  const vendor = await initVendorDir(join(work, 'vendor'))
  const artifactDir = join(work, 'artifact')
  await mkdir(artifactDir, { recursive: true })
  const payload = randomBytes(payloadBytes)
  await writeFile(join(artifactDir, PAYLOAD_FILE), payload)
  await writeFile(join(artifactDir, 'mirage-test'), TEST_SCRIPT)
  await chmod(join(artifactDir, 'mirage-test'), 0o755)
  const dir = join(work, 'release')
  const release = await publishRelease({
    app: APP,
    version: '2.0.0',
    sequence: 1,
    artifactDir,
    test: { command: ['mirage-test'], timeoutMs: 60_000 },
    plan: parsePlanJson(JSON.stringify(PLAN)),
    key: vendor.key,
    outDir: dir
    // chunkSize: the default (1 MiB), as a vendor publishing 64 MB would.
  })
  const { artifact } = release.manifest

  // The archive, reassembled from the published chunks in order.
  const store = await openChunkStore(chunksPath(dir))
  const archiveFile = join(work, 'archive.bin')
  const hash = createHash('sha256')
  const file = await open(archiveFile, 'w')
  try {
    for (const digest of artifact.chunks) {
      const bytes = await store.get(digest)
      hash.update(bytes)
      await file.write(bytes)
    }
  } finally {
    await file.close()
  }
  return {
    dir,
    vendorDir: vendor.dir,
    vendorKeyText: vendor.publicKeyText,
    id: release.id,
    size: artifact.size,
    chunkSize: artifact.chunkSize,
    chunks: artifact.chunks.length,
    archiveFile,
    archiveSha256: hash.digest('hex'),
    payloadSha256: createHash('sha256').update(payload).digest('hex')
  }
}
