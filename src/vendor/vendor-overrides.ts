/**
 * `mirage vendor halt` and `mirage vendor clear`: the vendor's signed word
 * on a release in flight (DESIGN.md: a failure's report reaches the vendor,
 * which can halt, clear, or publish a fix; Mirage §3). An override is
 * signed with the vendor key and the next override sequence of its app;
 * nodes keep only overrides above the highest sequence they accepted, so
 * the sequence lives in `D/overrides.json` (like the cluster maps' log) and
 * is never reset. The signed envelope is written to
 * `D/overrides/<app>-<sequence>-<action>.cbor`, for the seed to gossip.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { writeFileAtomically } from '../content/index.ts'
import { encodeOverride, signOverride } from '../overlay/index.ts'
import { inspectSignedRelease, manifestPath } from '../release/index.ts'
import { APP_NAME_PATTERN } from '../trust/index.ts'
import { VendorDirError, VendorOverrideError } from './errors.ts'
import type { Override, OverrideAction } from '../overlay/index.ts'
import type { VendorDir } from './vendor-dir.ts'

const log = logger('mirage:vendor:overrides')

/** `D/overrides.json`: per app, the last override signed (its sequence keeps overrides growing). */
export const OVERRIDE_LOG_FILE = 'overrides.json'
/** `D/overrides/`: the signed overrides, `<app>-<sequence>-<action>.cbor`. */
export const OVERRIDES_DIR = 'overrides'

/**
 * How long a command waits for another one holding the override log. Signing
 * and writing one override takes milliseconds; five seconds only matters
 * when two people halt at the same moment.
 */
const OVERRIDE_LOG_LOCK_WAIT_MS = 5_000
/** Between two tries for the lock. */
const OVERRIDE_LOG_LOCK_POLL_MS = 50

/** The last override signed for an app. */
export interface OverrideLogEntry {
  sequence: number
  /** ISO time it was signed. */
  issuedAt: string
  action: OverrideAction
  releaseId: string
  clusterId?: string
  /** Where the signed envelope was written. */
  file: string
}

export interface IssueOverrideInit {
  app: string
  /** The release it concerns (CIDv1 text). */
  releaseId: string
  /** One cluster; absent: every cluster of the release. */
  clusterId?: string
  action: OverrideAction
  /** One line for owners reading their status, at most 500 characters. */
  reason?: string
  /** The clock (tests). */
  now?: () => number
}

export interface IssuedOverride {
  /** The signed envelope's file. */
  file: string
  override: Override
  /** The signed envelope, as written. */
  bytes: Uint8Array
}

const logSchema = z.record(
  z.string().regex(APP_NAME_PATTERN),
  z.strictObject({
    sequence: z.int().min(1),
    issuedAt: z.string(),
    action: z.enum(['halt', 'clear']),
    releaseId: z.string(),
    clusterId: z.string().optional(),
    file: z.string()
  })
)

/** The log, `{}` when no override was ever signed from this directory. */
export async function readOverrideLog (vendorDir: string): Promise<Record<string, OverrideLogEntry>> {
  const path = join(vendorDir, OVERRIDE_LOG_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  try {
    return logSchema.parse(JSON.parse(text)) as Record<string, OverrideLogEntry>
  } catch (err) {
    // Never reset it: nodes would refuse every override below the sequence they last accepted.
    throw new VendorDirError('state-corrupt', vendorDir, `${path} is damaged; fix it by hand (it records the last override sequence per app)`, { cause: err })
  }
}

/**
 * Signs a halt or clear with the next override sequence of the app and
 * writes it. The sequence is taken and recorded under a lock (two commands
 * at once never sign two overrides with one sequence) and before the file
 * is written: a crash in between skips a sequence, which nodes do not mind,
 * and never reuses one, which would make nodes drop the second override as
 * a replay. Both files are written atomically.
 */
export async function issueOverride (vendor: VendorDir, init: IssueOverrideInit): Promise<IssuedOverride> {
  const now = init.now ?? Date.now
  const draft = (sequence: number, issuedAt: number): Override => ({
    v: 1,
    app: init.app,
    releaseId: init.releaseId,
    ...(init.clusterId === undefined ? {} : { clusterId: init.clusterId }),
    action: init.action,
    sequence,
    issuedAt,
    ...(init.reason === undefined ? {} : { reason: init.reason })
  })
  // Refuse what no node would accept before a sequence is spent on it.
  try {
    encodeOverride(draft(1, now()))
  } catch (err) {
    if ((err as Error).name !== 'OverrideMessageError') throw err
    throw new VendorOverrideError('invalid', (err as Error).message.replace(/^override: /, 'cannot issue this override: '), { cause: err })
  }
  const dir = join(vendor.dir, OVERRIDES_DIR)
  await mkdir(dir, { recursive: true })
  return withOverrideLogLock(vendor.dir, async () => {
    const all = await readOverrideLog(vendor.dir)
    const sequence = (all[init.app]?.sequence ?? 0) + 1
    const issuedAt = now()
    const override = draft(sequence, issuedAt)
    const bytes = await signOverride(override, vendor.key)
    const file = join(dir, `${init.app}-${sequence}-${init.action}.cbor`)
    all[init.app] = {
      sequence,
      issuedAt: new Date(issuedAt).toISOString(),
      action: init.action,
      releaseId: init.releaseId,
      ...(init.clusterId === undefined ? {} : { clusterId: init.clusterId }),
      file
    }
    await writeFileAtomically(join(vendor.dir, OVERRIDE_LOG_FILE), `${JSON.stringify(all, null, 2)}\n`)
    await writeFileAtomically(file, bytes)
    log('signed %s of %s release %s%s as sequence %d: %s', init.action, init.app, init.releaseId, init.clusterId === undefined ? '' : ` cluster ${init.clusterId}`, sequence, file)
    return { file, override, bytes }
  })
}

/** What a `--release` argument names. */
export interface ReleaseRef {
  app: string
  releaseId: string
  /** Known when the release was given as a directory, or is the last one published from this vendor directory. */
  version?: string
}

/**
 * Resolves a release given as a release directory (its signed manifest
 * gives app and id) or as a release id with its app. `app`, when given
 * with a directory, must agree with the manifest.
 */
export async function resolveReleaseRef (vendor: VendorDir, ref: string, app?: string): Promise<ReleaseRef> {
  if (app !== undefined && !APP_NAME_PATTERN.test(app)) {
    throw new VendorOverrideError('app', `"${app.slice(0, 70)}" is not an app name (1-64 lowercase letters, digits, ".", "_" or "-")`)
  }
  if (await stat(ref).then(s => s.isDirectory(), () => false)) {
    const path = manifestPath(ref)
    const bytes = await readFile(path).catch((err: unknown) => {
      throw new VendorOverrideError('release', `${ref} is not a release directory: cannot read ${path}: ${(err as Error).message}`, { cause: err })
    })
    const release = await inspectSignedRelease(bytes)
    if (app !== undefined && app !== release.manifest.app) {
      throw new VendorOverrideError('app', `${ref} is a release of app "${release.manifest.app}", not "${app}"`)
    }
    return { app: release.manifest.app, releaseId: release.id, version: release.manifest.version }
  }
  let isReleaseId = false
  try {
    isReleaseId = CID.parse(ref).version === 1
  } catch {}
  if (!isReleaseId) {
    throw new VendorOverrideError('release', `"${ref.slice(0, 100)}" is neither a release directory nor a release id (bafy…)`)
  }
  if (app === undefined) throw new VendorOverrideError('app', `give the app of release ${ref} with --app (or give the release directory instead of its id)`)
  const published = (await vendor.published())[app]
  return { app, releaseId: ref, ...(published?.releaseId === ref ? { version: published.version } : {}) }
}

/**
 * Runs `fn` holding `D/overrides.json.lock` (created exclusively, holding
 * the pid). A lock left by a process that no longer runs is taken over.
 */
async function withOverrideLogLock<T> (vendorDir: string, fn: () => Promise<T>): Promise<T> {
  const lockPath = join(vendorDir, `${OVERRIDE_LOG_FILE}.lock`)
  const token = `${process.pid} ${randomBytes(8).toString('hex')}\n`
  const deadline = Date.now() + OVERRIDE_LOG_LOCK_WAIT_MS
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o600)
      try {
        await handle.writeFile(token)
      } finally {
        await handle.close()
      }
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = await readFile(lockPath, 'utf8').catch(() => '')
    const pid = Number.parseInt(holder, 10)
    if (holder !== '' && !processRuns(pid)) {
      log('taking over %s, left by process %d which no longer runs', lockPath, pid)
      await unlink(lockPath).catch(() => {})
      continue
    }
    if (Date.now() >= deadline) {
      throw new VendorDirError('busy', vendorDir, `another command holds ${lockPath} (process ${Number.isNaN(pid) ? '?' : pid}); try again, or remove the file if no vendor command runs`)
    }
    await new Promise(resolve => setTimeout(resolve, OVERRIDE_LOG_LOCK_POLL_MS))
  }
  try {
    return await fn()
  } finally {
    // Only our own lock: compare the token so a taken-over lock is not removed by its old owner.
    if (await readFile(lockPath, 'utf8').catch(() => '') === token) await unlink(lockPath).catch(() => {})
  }
}

function processRuns (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
