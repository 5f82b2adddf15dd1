/**
 * Opening and closing the node's LevelDB store: the directory checks that
 * keep LevelDB from silently starting over, the mapping of LevelDB's open
 * failures to our errors, the schema version, and one collection per
 * sublevel.
 */
import { readFile, readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { logger } from '@libp2p/logger'
import { Level } from 'level'
import { CURRENT_SCHEMA_VERSION, DEFAULT_SYNC_WRITES } from './constants.ts'
import { StoreCorruptError, StoreLockedError, StoreOpenError, errorCode } from './errors.ts'
import { BUILT_IN_MIGRATIONS, ensureSchemaVersion, validateMigrations } from './migrations.ts'
import type { Migration, RootDatabase } from './migrations.ts'
import { createRecordCollection } from './record-collection.ts'
import type { RecordCollection, SublevelHandle } from './record-collection.ts'
import type { RecordCodec } from './record-codec.ts'
import {
  installRecordSchema, membershipKey, membershipRecordSchema, outcomeKey, outcomeRecordSchema, releaseRecordSchema, reportRecordSchema,
  rolloutKey, rolloutRecordSchema, testStartRecordSchema, clusterMapRecordSchema, censusRecordSchema, censusKey,
  overrideRecordSchema, overrideKey
} from './record-schemas.ts'
import type { CensusRecord, ClusterMapRecord, InstallRecord, MembershipRecord, OutcomeRecord, OverrideRecord, ReleaseRecord, ReportRecord, RolloutRecord, TestStartRecord } from './record-schemas.ts'

const log = logger('mirage:store')

export interface StoreInit {
  /** Directory of the LevelDB database; created if missing. */
  dir: string
  /** Schema migrations to run on older data; defaults to BUILT_IN_MIGRATIONS. */
  migrations?: Migration[]
  /**
   * Schema version to bring the data to; defaults to CURRENT_SCHEMA_VERSION.
   * Only tests and tools set it, to exercise migrations past the version
   * this build's record schemas describe.
   */
  targetSchemaVersion?: number
  /**
   * Whether every write waits for fsync (defaults to DEFAULT_SYNC_WRITES,
   * true). Only tests and simulations, which lose nothing on a crash,
   * should turn it off.
   */
  sync?: boolean
}

/** The node's persistent state, one collection per LevelDB sublevel. */
export interface Store {
  /** Absolute path of the database directory. */
  readonly dir: string
  /** Schema version of the data (after any migrations ran on open). */
  readonly schemaVersion: number
  /** Releases seen, keyed by releaseId. */
  readonly releases: RecordCollection<ReleaseRecord>
  /** Signed test outcomes, keyed by `outcomeKey()`. */
  readonly outcomes: RecordCollection<OutcomeRecord>
  /** Cluster members seen, keyed by `membershipKey()`. */
  readonly memberships: RecordCollection<MembershipRecord>
  /** Install state machine per app, keyed by app. */
  readonly installs: RecordCollection<InstallRecord>
  /** Problem reports, keyed by reportId. */
  readonly reports: RecordCollection<ReportRecord>
  /** Signed test-start announcements, keyed by `outcomeKey()`. */
  readonly testStarts: RecordCollection<TestStartRecord>
  /** Per-release progress of this machine, keyed by `rolloutKey()`. */
  readonly rollouts: RecordCollection<RolloutRecord>
  /** The vendor cluster map in use per app, keyed by app. */
  readonly clusterMaps: RecordCollection<ClusterMapRecord>
  /** Census entries a vendor seed received, keyed by `censusKey()`. */
  readonly census: RecordCollection<CensusRecord>
  /** The vendor's halt and clear overrides, the latest per scope, keyed by `overrideKey()`. */
  readonly overrides: RecordCollection<OverrideRecord>
  /** Closes the database, releasing its lock; safe to call more than once. */
  close(): Promise<void>
}

/** Each collection's sublevel, schema and key rule. */
const CODECS = {
  releases: { sublevel: 'releases', schema: releaseRecordSchema, keyOf: (r) => r.releaseId },
  outcomes: { sublevel: 'outcomes', schema: outcomeRecordSchema, keyOf: outcomeKey },
  memberships: { sublevel: 'memberships', schema: membershipRecordSchema, keyOf: membershipKey },
  installs: { sublevel: 'installs', schema: installRecordSchema, keyOf: (r) => r.app },
  reports: { sublevel: 'reports', schema: reportRecordSchema, keyOf: (r) => r.reportId },
  testStarts: { sublevel: 'test-starts', schema: testStartRecordSchema, keyOf: outcomeKey },
  rollouts: { sublevel: 'rollouts', schema: rolloutRecordSchema, keyOf: rolloutKey },
  clusterMaps: { sublevel: 'cluster-maps', schema: clusterMapRecordSchema, keyOf: (r) => r.app },
  census: { sublevel: 'census', schema: censusRecordSchema, keyOf: censusKey },
  overrides: { sublevel: 'overrides', schema: overrideRecordSchema, keyOf: overrideKey }
} satisfies {
  releases: RecordCodec<ReleaseRecord>
  outcomes: RecordCodec<OutcomeRecord>
  memberships: RecordCodec<MembershipRecord>
  installs: RecordCodec<InstallRecord>
  reports: RecordCodec<ReportRecord>
  testStarts: RecordCodec<TestStartRecord>
  rollouts: RecordCodec<RolloutRecord>
  clusterMaps: RecordCodec<ClusterMapRecord>
  census: RecordCodec<CensusRecord>
  overrides: RecordCodec<OverrideRecord>
}

/**
 * Opens (creating if needed) the store in `init.dir` and brings its data to
 * the supported schema version. Throws StoreLockedError, StoreCorruptError,
 * StoreSchemaError or StoreOpenError; on any failure nothing stays open and
 * the files are left as found.
 */
export async function openStore (init: StoreInit): Promise<Store> {
  const dir = resolve(init.dir)
  const migrations = init.migrations ?? BUILT_IN_MIGRATIONS
  validateMigrations(migrations)
  const target = init.targetSchemaVersion ?? CURRENT_SCHEMA_VERSION

  const createIfMissing = await checkDirectory(dir)
  const db: RootDatabase = new Level<string, Uint8Array>(dir, {
    keyEncoding: 'utf8',
    valueEncoding: 'view',
    createIfMissing,
    errorIfExists: false
  })
  try {
    await db.open()
  } catch (err) {
    throw await classifyOpenError(dir, err)
  }

  let schemaVersion: number
  try {
    schemaVersion = await ensureSchemaVersion({ db, dir, migrations, target })
  } catch (err) {
    await db.close()
    // Reading the version can be the first read of a damaged table file.
    throw errorCode(err) === 'LEVEL_CORRUPTION' ? new StoreCorruptError(dir, (err as Error).message, { cause: err }) : err
  }
  log('opened %s at schema version %d', dir, schemaVersion)
  return new LevelStore(db, dir, schemaVersion, init.sync ?? DEFAULT_SYNC_WRITES)
}

class LevelStore implements Store {
  readonly dir: string
  readonly schemaVersion: number
  readonly releases: RecordCollection<ReleaseRecord>
  readonly outcomes: RecordCollection<OutcomeRecord>
  readonly memberships: RecordCollection<MembershipRecord>
  readonly installs: RecordCollection<InstallRecord>
  readonly reports: RecordCollection<ReportRecord>
  readonly testStarts: RecordCollection<TestStartRecord>
  readonly rollouts: RecordCollection<RolloutRecord>
  readonly clusterMaps: RecordCollection<ClusterMapRecord>
  readonly census: RecordCollection<CensusRecord>
  readonly overrides: RecordCollection<OverrideRecord>
  readonly #db: RootDatabase
  #closing: Promise<void> | undefined

  constructor (db: RootDatabase, dir: string, schemaVersion: number, sync: boolean) {
    this.#db = db
    this.dir = dir
    this.schemaVersion = schemaVersion
    const collection = <T>(codec: RecordCodec<T>): RecordCollection<T> => createRecordCollection({
      dir,
      codec,
      sync,
      sublevel: db.sublevel<string, Uint8Array>(codec.sublevel, { valueEncoding: 'view' }) satisfies SublevelHandle
    })
    this.releases = collection(CODECS.releases)
    this.outcomes = collection(CODECS.outcomes)
    this.memberships = collection(CODECS.memberships)
    this.installs = collection(CODECS.installs)
    this.reports = collection(CODECS.reports)
    this.testStarts = collection(CODECS.testStarts)
    this.rollouts = collection(CODECS.rollouts)
    this.clusterMaps = collection(CODECS.clusterMaps)
    this.census = collection(CODECS.census)
    this.overrides = collection(CODECS.overrides)
  }

  async close (): Promise<void> {
    this.#closing ??= this.#db.close().then(() => { log('closed %s', this.dir) })
    await this.#closing
  }
}

/**
 * Decides whether LevelDB may create a database in `dir`: only if the
 * directory is missing or empty. LevelDB, asked to create, treats a
 * directory whose CURRENT file was lost as new and deletes the old table
 * files (seen with classic-level 3: all data gone, no error), so a
 * non-empty directory without CURRENT is refused before LevelDB sees it.
 */
async function checkDirectory (dir: string): Promise<boolean> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') {
      return true
    }
    throw new StoreOpenError(dir, (err as Error).message, { cause: err })
  }
  if (names.length === 0) {
    return true
  }
  if (!names.includes('CURRENT')) {
    throw new StoreCorruptError(dir, 'the directory is not empty but has no LevelDB CURRENT file, so it is not a store or its CURRENT file was lost')
  }
  return false
}

/**
 * Maps a failed open to our errors. classic-level 3 rejects with code
 * LEVEL_DATABASE_NOT_OPEN and the real reason as `cause`:
 * - LEVEL_LOCKED: "IO error: lock <dir>/LOCK: Resource temporarily
 *   unavailable" (another process) or "...: already held by process" (this one);
 * - LEVEL_CORRUPTION: e.g. "CURRENT file does not end with newline" (binary
 *   or empty CURRENT), "no meta-nextfile entry in descriptor" (bad MANIFEST);
 * - LEVEL_IO_ERROR: a real I/O failure, but also a CURRENT holding a text
 *   line that names no manifest ("IO error: <dir>/garbage: No such file or
 *   directory"), which is corruption, so CURRENT is checked here.
 */
async function classifyOpenError (dir: string, err: unknown): Promise<Error> {
  const cause = errorCode(err) === 'LEVEL_DATABASE_NOT_OPEN' && err instanceof Error && err.cause !== undefined ? err.cause : err
  const message = cause instanceof Error ? cause.message : String(cause)
  log.error('cannot open %s: %s', dir, message)
  switch (errorCode(cause)) {
    case 'LEVEL_LOCKED':
      return new StoreLockedError(dir, { cause: err })
    case 'LEVEL_CORRUPTION':
      return new StoreCorruptError(dir, message, { cause: err })
    case 'LEVEL_IO_ERROR': {
      const problem = await currentFileProblem(dir)
      if (problem !== undefined) {
        return new StoreCorruptError(dir, `${problem}; LevelDB said: ${message}`, { cause: err })
      }
      break
    }
  }
  return new StoreOpenError(dir, message, { cause: err })
}

/** What is wrong with CURRENT, which must name an existing MANIFEST file; undefined if nothing. */
async function currentFileProblem (dir: string): Promise<string | undefined> {
  let current: string
  try {
    current = await readFile(join(dir, 'CURRENT'), 'utf8')
  } catch (err) {
    return errorCode(err) === 'ENOENT' ? 'CURRENT is missing' : undefined
  }
  const manifest = /^(MANIFEST-\d+)\n$/.exec(current)?.[1]
  if (manifest === undefined) {
    return 'CURRENT does not name a MANIFEST file'
  }
  try {
    await stat(join(dir, manifest))
  } catch (err) {
    return errorCode(err) === 'ENOENT' ? `CURRENT names ${manifest}, which is missing` : undefined
  }
  return undefined
}
