import { readFile } from 'node:fs/promises'
import { DEFAULT_RELEASE_LIFETIME_MS, DEFAULT_TEST_TIMEOUT_MS, PublishError, parsePlanJson, publishRelease } from '../release/index.ts'
import { readEnvSpec } from '../env/index.ts'
import type { PublishProgress, VerifiedRelease } from '../release/index.ts'
import type { VendorDir } from './vendor-dir.ts'

export interface VendorPublishInit {
  vendor: VendorDir
  app: string
  version: string
  artifactDir: string
  planPath: string
  outDir: string
  /** argv of the test, first element relative to the artifact root. */
  testCommand: string[]
  testTimeoutMs?: number
  /** Defaults to one more than the last sequence this vendor published for the app. */
  sequence?: number
  chunkSize?: number
  lifetimeMs?: number
  now?: number
  /** An env spec file (docs/FORMATS.md) to ship with the release. */
  envSpecPath?: string
  /** The only clusters the release is for (a fix); absent: every machine. */
  targets?: string[]
  signal?: AbortSignal
  onProgress?: (event: PublishProgress) => void
}

/**
 * The vendor's publish: reads the plan, picks the next sequence for the app
 * (sequences only grow, so machines can refuse rollbacks), publishes, and
 * records what it published.
 */
export async function vendorPublish (init: VendorPublishInit): Promise<VerifiedRelease> {
  const plan = parsePlanJson(await readFile(init.planPath, 'utf8').catch((err: unknown) => {
    throw new PublishError('artifact', `cannot read the plan ${init.planPath}: ${(err as Error).message}`, { cause: err })
  }))
  const envSpec = init.envSpecPath === undefined ? undefined : await readEnvSpec(init.envSpecPath)
  if (envSpec !== undefined && envSpec.app !== init.app) {
    throw new PublishError('artifact', `${init.envSpecPath} is the env spec of app "${envSpec.app}", not "${init.app}"`)
  }
  const last = (await init.vendor.published())[init.app]
  const sequence = init.sequence ?? (last?.sequence ?? 0) + 1
  if (last !== undefined && sequence <= last.sequence) {
    throw new PublishError('sequence', `sequence ${sequence} is not above ${last.sequence}, already published for ${init.app} (${last.version}); machines would refuse it as a rollback`)
  }
  const createdAt = init.now ?? Date.now()
  const release = await publishRelease({
    app: init.app,
    version: init.version,
    sequence,
    artifactDir: init.artifactDir,
    test: { command: init.testCommand, timeoutMs: init.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS },
    plan,
    ...(envSpec === undefined ? {} : { envSpec: { ...(envSpec.salt === undefined ? {} : { salt: envSpec.salt }), resources: envSpec.resources } }),
    // Always: a machine whose test fails must know where to seal its report.
    reportKey: init.vendor.reportPublicKeyText,
    ...(init.targets === undefined ? {} : { targets: init.targets }),
    key: init.vendor.key,
    outDir: init.outDir,
    chunkSize: init.chunkSize,
    createdAt,
    expiresAt: createdAt + (init.lifetimeMs ?? DEFAULT_RELEASE_LIFETIME_MS),
    signal: init.signal,
    onProgress: init.onProgress
  })
  await init.vendor.recordPublished(init.app, {
    sequence,
    version: init.version,
    releaseId: release.id,
    publishedAt: new Date(createdAt).toISOString()
  })
  return release
}
