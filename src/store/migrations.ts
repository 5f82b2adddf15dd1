/**
 * Versioned schema migrations. The data's schema version lives in the meta
 * sublevel; opening a store brings older data forward one step at a time,
 * each step in one atomic LevelDB batch that also bumps the version, so a
 * crash or a failing step leaves the data at the last completed version and
 * the next open simply retries the remaining steps.
 */
import { logger } from '@libp2p/logger'
import { z } from 'zod'
import { META_SUBLEVEL, SCHEMA_VERSION_KEY } from './constants.ts'
import { RecordInvalidError, StoreSchemaError } from './errors.ts'
import { decodeCbor, encodeCbor, validateKey } from './record-codec.ts'
import type { Level } from 'level'

const log = logger('mirage:store:migrations')

/** One step of the schema chain, from version `from` to version `to`. */
export interface Migration {
  /** Version of the data this step reads. */
  from: number
  /** Version of the data once this step has run; greater than `from`. */
  to: number
  /** What the step changes, for logs and errors. */
  description: string
  /**
   * Rewrites records through `context`. Everything it writes is committed
   * together with the version bump, or not at all if it throws.
   */
  migrate(context: MigrationContext): Promise<void>
}

/**
 * What a migration step may do. Values are plain decoded CBOR, not checked
 * against any schema: they have the shape of version `from`, which this
 * build no longer describes. Reads see the data as it was before the step;
 * writes are queued in the step's batch and become visible when it commits.
 */
export interface MigrationContext {
  readonly from: number
  readonly to: number
  /** All entries of a sublevel, in key order. */
  entries(sublevel: string): AsyncGenerator<[string, unknown]>
  get(sublevel: string, key: string): Promise<unknown>
  put(sublevel: string, key: string, value: unknown): void
  del(sublevel: string, key: string): void
}

/**
 * Migrations shipped with this build, in any order. Empty while every store
 * is at version 1; the first schema change adds its step here together with
 * bumping CURRENT_SCHEMA_VERSION.
 */
export const BUILT_IN_MIGRATIONS: readonly Migration[] = []

/** The database handle migrations run on: string keys, Uint8Array values. */
export type RootDatabase = Level<string, Uint8Array>

export interface EnsureSchemaInit {
  db: RootDatabase
  dir: string
  migrations: readonly Migration[]
  /** The version this build reads and writes. */
  target: number
}

/**
 * Brings the data to `target`: writes it into an empty database, runs the
 * migration chain on older data, and refuses newer data, data without a
 * version, and gaps in the chain. Returns the version the data is now at.
 */
export async function ensureSchemaVersion (init: EnsureSchemaInit): Promise<number> {
  const { db, dir, target } = init
  const versions = (dataVersion: number | undefined): { dataVersion: number | undefined, supportedVersion: number } => ({ dataVersion, supportedVersion: target })
  const meta = db.sublevel<string, Uint8Array>(META_SUBLEVEL, { valueEncoding: 'view' })
  const stored = await meta.get(SCHEMA_VERSION_KEY)

  if (stored === undefined) {
    const anyKey = await db.keys({ limit: 1 }).all()
    if (anyKey.length > 0) {
      // Guessing a format would risk reading one version's bytes as another's.
      throw new StoreSchemaError(dir, `the database holds data but no schema version (${META_SUBLEVEL}/${SCHEMA_VERSION_KEY}); refusing to guess its format`, versions(undefined))
    }
    // Through the root database: sublevel put options are typed without
    // classic-level's `sync`, which this first write must have.
    await db.batch([{ type: 'put', sublevel: meta, key: SCHEMA_VERSION_KEY, value: encodeCbor(target) }], { sync: true })
    log('initialised empty store %s at schema version %d', dir, target)
    return target
  }

  let version: number
  try {
    version = parseVersion(stored)
  } catch (err) {
    throw new StoreSchemaError(dir, `its schema version record is unreadable: ${(err as Error).message}`, versions(undefined), { cause: err })
  }
  if (version > target) {
    throw new StoreSchemaError(dir, `the data has schema version ${version}, but this build of Mirage supports up to version ${target}: run a newer Mirage on it`, versions(version))
  }
  if (version === target) {
    return version
  }

  const plan = planMigrations(init.migrations, version, target)
  if (typeof plan === 'string') {
    throw new StoreSchemaError(dir, plan, versions(version))
  }
  for (const step of plan) {
    await applyMigration(db, dir, step, target)
    version = step.to
  }
  return version
}

/**
 * The steps leading from `from` to `to`, or why there are none. Each step
 * strictly raises the version, so the walk ends after at most
 * `migrations.length` steps.
 */
export function planMigrations (migrations: readonly Migration[], from: number, to: number): Migration[] | string {
  const byFrom = new Map<number, Migration>()
  for (const m of migrations) {
    byFrom.set(m.from, m)
  }
  const plan: Migration[] = []
  let version = from
  while (version < to) {
    const step = byFrom.get(version)
    if (step === undefined) {
      return `the data has schema version ${from} and this build needs ${to}, but there is no migration from version ${version}`
    }
    if (step.to > to) {
      return `the migration from version ${step.from} goes to ${step.to}, past the supported version ${to}`
    }
    plan.push(step)
    version = step.to
  }
  return plan
}

/**
 * Refuses a malformed migration list (a bug, not a data problem), so that
 * it fails on every open rather than only on the machines that need it.
 */
export function validateMigrations (migrations: readonly Migration[]): void {
  const seen = new Set<number>()
  for (const m of migrations) {
    if (!Number.isSafeInteger(m.from) || !Number.isSafeInteger(m.to) || m.from < 1 || m.to <= m.from) {
      throw new TypeError(`bug: migration "${m.description}" must go from an integer version >= 1 to a higher one (got ${m.from} -> ${m.to})`)
    }
    if (seen.has(m.from)) {
      throw new TypeError(`bug: two migrations start at schema version ${m.from}`)
    }
    seen.add(m.from)
  }
}

async function applyMigration (db: RootDatabase, dir: string, step: Migration, target: number): Promise<void> {
  log('migrating %s from schema version %d to %d: %s', dir, step.from, step.to, step.description)
  const batch = db.batch()
  const context = new BatchMigrationContext(db, batch, step)
  try {
    await step.migrate(context)
    context.finish()
    batch.put(SCHEMA_VERSION_KEY, encodeCbor(step.to), { sublevel: sublevel(db, META_SUBLEVEL) })
    // Always durable: a migration is rare, and forgetting that it ran would
    // replay it over already-migrated data.
    await batch.write({ sync: true })
  } catch (err) {
    context.finish()
    await batch.close().catch(() => {})
    log.error('migration of %s from %d to %d failed: %e', dir, step.from, step.to, err)
    throw new StoreSchemaError(dir, `migration from schema version ${step.from} to ${step.to} (${step.description}) failed, the data stays at version ${step.from}: ${(err as Error).message}`, { dataVersion: step.from, supportedVersion: target }, { cause: err })
  }
}

type ChainedBatch = ReturnType<RootDatabase['batch']>

class BatchMigrationContext implements MigrationContext {
  readonly from: number
  readonly to: number
  readonly #db: RootDatabase
  readonly #batch: ChainedBatch
  #finished = false

  constructor (db: RootDatabase, batch: ChainedBatch, step: Migration) {
    this.from = step.from
    this.to = step.to
    this.#db = db
    this.#batch = batch
  }

  /** Refuses further writes: a step that left work running must not leak into the next. */
  finish (): void {
    this.#finished = true
  }

  async * entries (name: string): AsyncGenerator<[string, unknown]> {
    for await (const [key, bytes] of this.#sublevel(name).iterator()) {
      yield [key, decodeCbor(name, key, bytes)]
    }
  }

  async get (name: string, key: string): Promise<unknown> {
    validateKey(name, key)
    const bytes = await this.#sublevel(name).get(key)
    return bytes === undefined ? undefined : decodeCbor(name, key, bytes)
  }

  put (name: string, key: string, value: unknown): void {
    this.#checkWritable(name, key)
    let bytes: Uint8Array
    try {
      bytes = encodeCbor(value)
    } catch (err) {
      throw new RecordInvalidError(name, key, `cannot be encoded as CBOR: ${(err as Error).message}`, { cause: err })
    }
    this.#batch.put(key, bytes, { sublevel: this.#sublevel(name) })
  }

  del (name: string, key: string): void {
    this.#checkWritable(name, key)
    this.#batch.del(key, { sublevel: this.#sublevel(name) })
  }

  #checkWritable (name: string, key: string): void {
    if (this.#finished) {
      throw new Error(`bug: migration ${this.from} -> ${this.to} wrote after it returned`)
    }
    validateKey(name, key)
  }

  #sublevel (name: string): ReturnType<typeof sublevel> {
    if (name === META_SUBLEVEL) {
      // The runner owns the version record; a step that wrote it could
      // make the chain skip or repeat steps.
      throw new TypeError(`bug: migrations must not touch the ${META_SUBLEVEL} sublevel`)
    }
    return sublevel(this.#db, name)
  }
}

function sublevel (db: RootDatabase, name: string) {
  return db.sublevel<string, Uint8Array>(name, { valueEncoding: 'view' })
}

const schemaVersionSchema = z.int().min(1)

function parseVersion (bytes: Uint8Array): number {
  const parsed = schemaVersionSchema.safeParse(decodeCbor(META_SUBLEVEL, SCHEMA_VERSION_KEY, bytes))
  if (!parsed.success) {
    throw new RecordInvalidError(META_SUBLEVEL, SCHEMA_VERSION_KEY, 'schema version must be an integer >= 1', { cause: parsed.error })
  }
  return parsed.data
}
