/**
 * Errors of the store area: one class per condition, each setting `name`
 * (callers check `err.name`, which survives structured cloning and duplicate
 * module copies) and carrying the underlying error as `cause`.
 */

/**
 * The LevelDB lock of `dir` is held: another process (most likely another
 * Mirage node on the same data dir) or another open store in this process.
 */
export class StoreLockedError extends Error {
  /** The store directory whose lock is held. */
  readonly dir: string

  constructor (dir: string, options?: ErrorOptions) {
    super(`store ${dir} is locked: another Mirage process is probably using this data dir (stop it, or give this node its own data dir)`, options)
    this.name = 'StoreLockedError'
    this.dir = dir
  }
}

/**
 * LevelDB reports the files of `dir` as corrupt (a bad CURRENT or MANIFEST,
 * a bad table block). The data is left exactly as found: repairing or
 * recreating the database could destroy state an owner wants to recover,
 * so that is a decision for a person, not for the node.
 */
export class StoreCorruptError extends Error {
  /** The store directory that holds the corrupt files. */
  readonly dir: string

  constructor (dir: string, detail: string, options?: ErrorOptions) {
    super(`store ${dir} is corrupt (${detail}); its files were left untouched, move the directory aside to start afresh or restore it from a backup`, options)
    this.name = 'StoreCorruptError'
    this.dir = dir
  }
}

/**
 * The schema version of the data does not fit this build: newer than it
 * supports, missing on a non-empty database, unreadable, or a migration
 * between the two is missing or failed.
 */
export class StoreSchemaError extends Error {
  /** The store directory. */
  readonly dir: string
  /** Version of the data on disk, if it could be read. */
  readonly dataVersion: number | undefined
  /** Highest version this build reads and writes. */
  readonly supportedVersion: number

  constructor (dir: string, message: string, versions: { dataVersion: number | undefined, supportedVersion: number }, options?: ErrorOptions) {
    super(`store ${dir}: ${message}`, options)
    this.name = 'StoreSchemaError'
    this.dir = dir
    this.dataVersion = versions.dataVersion
    this.supportedVersion = versions.supportedVersion
  }
}

/**
 * Opening failed for a reason that is neither a lock nor corruption: the
 * path is a file, permission is denied, the disk failed. Not named in the
 * first plan of this area; added so the CLI can still name the directory.
 */
export class StoreOpenError extends Error {
  /** The store directory that could not be opened. */
  readonly dir: string

  constructor (dir: string, detail: string, options?: ErrorOptions) {
    super(`store ${dir} could not be opened: ${detail}`, options)
    this.name = 'StoreOpenError'
    this.dir = dir
  }
}

/**
 * A record, or its key, fails validation: on write (the caller's bug, the
 * value is refused) or on read (stored bytes are not valid CBOR or not of
 * the record's schema). Never dropped or reset silently: the caller decides.
 */
export class RecordInvalidError extends Error {
  /** Sublevel (collection) of the record. */
  readonly sublevel: string
  /** Key of the record. */
  readonly key: string
  /** Which rule failed, on which field (e.g. `sequence: expected int`). */
  readonly reason: string

  constructor (sublevel: string, key: string, reason: string, options?: ErrorOptions) {
    super(`invalid record ${sublevel}/${abbreviate(key)}: ${reason}`, options)
    this.name = 'RecordInvalidError'
    this.sublevel = sublevel
    this.key = key
    this.reason = reason
  }
}

/** Longest key quoted in a message; an oversized key is itself the error. */
const MAX_KEY_IN_MESSAGE = 120

function abbreviate (key: string): string {
  const quoted = JSON.stringify(key)
  return quoted.length <= MAX_KEY_IN_MESSAGE ? quoted : `${quoted.slice(0, MAX_KEY_IN_MESSAGE)}…(${key.length} chars)`
}

/** The `code` property of an error (LevelDB and Node errors carry one), if any. */
export function errorCode (err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined
}
