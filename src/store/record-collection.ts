/**
 * A typed, validated view of one LevelDB sublevel: string keys, records
 * stored as deterministic CBOR and checked against their schema on every
 * write and read.
 */
import { logger } from '@libp2p/logger'
import { MAX_BATCH_OPS } from './constants.ts'
import { StoreCorruptError, errorCode } from './errors.ts'
import { decodeRecord, encodeRecord, validateKey } from './record-codec.ts'
import type { RecordCodec } from './record-codec.ts'

const log = logger('mirage:store:records')

/** Bounds of an `entries` scan. Keys compare as UTF-8 bytes. */
export interface EntriesOptions {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  /**
   * Only keys starting with this string (e.g. `${releaseId}/` for all
   * outcomes of a release). Not combinable with gt/gte/lt/lte.
   */
  prefix?: string
  /** Most entries to yield; all by default (entries stream, nothing is buffered). */
  limit?: number
  /** Yield in descending key order. */
  reverse?: boolean
}

export interface PutOptions {
  /** Wait for fsync (when the store syncs at all); default true. */
  durable?: boolean
}

/** One operation of an atomic `batch`. */
export type BatchOp<T> =
  | { type: 'put', key: string, value: T }
  | { type: 'del', key: string }

/** The records of one sublevel. */
export interface RecordCollection<T> {
  /** Name of the sublevel, as named in errors. */
  readonly name: string
  /**
   * Validates and stores `value` under `key`; resolves once durable (see
   * StoreInit.sync), or, with `durable: false`, once written without
   * waiting for fsync: for what peers can give the node again (sync, the
   * DHT) should the machine itself crash. A process crash loses nothing
   * either way; only the machine's crash can lose such a write.
   */
  put(key: string, value: T, options?: PutOptions): Promise<void>
  /** The record under `key`, or undefined; RecordInvalidError if the stored value is bad. */
  get(key: string): Promise<T | undefined>
  has(key: string): Promise<boolean>
  /** Removes the record under `key` (no error if there is none). */
  delete(key: string): Promise<void>
  /** Records in key order within the given bounds; RecordInvalidError on a bad one. */
  entries(options?: EntriesOptions): AsyncGenerator<[string, T]>
  /** Applies all ops or none; every op is validated before anything is written. */
  batch(ops: ReadonlyArray<BatchOp<T>>): Promise<void>
}

/** The sublevel operations a collection uses; a `level` sublevel with `valueEncoding: 'view'`. */
export interface SublevelHandle {
  get(key: string): Promise<Uint8Array | undefined>
  has(key: string): Promise<boolean>
  put(key: string, value: Uint8Array, options: { sync: boolean }): Promise<void>
  del(key: string, options: { sync: boolean }): Promise<void>
  batch(ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }>, options: { sync: boolean }): Promise<void>
  iterator(options: LevelRange): AsyncIterable<[string, Uint8Array]>
}

interface LevelRange {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  limit?: number
  reverse?: boolean
}

export interface RecordCollectionInit<T> {
  /** Store directory, named in StoreCorruptError. */
  dir: string
  sublevel: SublevelHandle
  codec: RecordCodec<T>
  /** Whether writes wait for fsync. */
  sync: boolean
}

export function createRecordCollection<T> (init: RecordCollectionInit<T>): RecordCollection<T> {
  return new LevelRecordCollection(init)
}

class LevelRecordCollection<T> implements RecordCollection<T> {
  readonly name: string
  readonly #dir: string
  readonly #db: SublevelHandle
  readonly #codec: RecordCodec<T>
  readonly #sync: boolean

  constructor (init: RecordCollectionInit<T>) {
    this.name = init.codec.sublevel
    this.#dir = init.dir
    this.#db = init.sublevel
    this.#codec = init.codec
    this.#sync = init.sync
  }

  async put (key: string, value: T, options: PutOptions = {}): Promise<void> {
    const bytes = encodeRecord(this.#codec, key, value)
    await this.#guard(this.#db.put(key, bytes, { sync: this.#sync && options.durable !== false }))
    log.trace('put %s/%s (%d bytes)', this.name, key, bytes.byteLength)
  }

  async get (key: string): Promise<T | undefined> {
    validateKey(this.name, key)
    const bytes = await this.#guard(this.#db.get(key))
    return bytes === undefined ? undefined : decodeRecord(this.#codec, key, bytes)
  }

  async has (key: string): Promise<boolean> {
    validateKey(this.name, key)
    return await this.#guard(this.#db.has(key))
  }

  async delete (key: string): Promise<void> {
    validateKey(this.name, key)
    await this.#guard(this.#db.del(key, { sync: this.#sync }))
  }

  async * entries (options: EntriesOptions = {}): AsyncGenerator<[string, T]> {
    const range = toLevelRange(options)
    try {
      // Leaving this loop early (the caller breaks, or a record is invalid)
      // returns the level iterator, which closes it.
      for await (const [key, bytes] of this.#db.iterator(range)) {
        yield [key, decodeRecord(this.#codec, key, bytes)]
      }
    } catch (err) {
      throw this.#mapError(err)
    }
  }

  async batch (ops: ReadonlyArray<BatchOp<T>>): Promise<void> {
    if (ops.length > MAX_BATCH_OPS) {
      throw new RangeError(`a batch holds at most ${MAX_BATCH_OPS} operations, got ${ops.length}`)
    }
    // Encode everything first: one invalid op refuses the whole batch.
    const encoded = ops.map((op) => {
      if (op.type === 'put') {
        return { type: 'put' as const, key: op.key, value: encodeRecord(this.#codec, op.key, op.value) }
      }
      validateKey(this.name, op.key)
      return { type: 'del' as const, key: op.key }
    })
    await this.#guard(this.#db.batch(encoded, { sync: this.#sync }))
    log.trace('batch of %d on %s', ops.length, this.name)
  }

  async #guard<R> (op: Promise<R>): Promise<R> {
    try {
      return await op
    } catch (err) {
      throw this.#mapError(err)
    }
  }

  /** A corrupt table block surfaces on read as LEVEL_CORRUPTION; name the store. */
  #mapError (err: unknown): unknown {
    if (errorCode(err) === 'LEVEL_CORRUPTION') {
      return new StoreCorruptError(this.#dir, `reading ${this.name}: ${(err as Error).message}`, { cause: err })
    }
    return err
  }
}

function toLevelRange (options: EntriesOptions): LevelRange {
  const range: LevelRange = {}
  if (options.limit !== undefined) {
    if (!Number.isSafeInteger(options.limit) || options.limit < 0) {
      throw new RangeError(`limit must be a non-negative integer, got ${options.limit}`)
    }
    range.limit = options.limit
  }
  if (options.reverse === true) {
    range.reverse = true
  }
  if (options.prefix !== undefined) {
    if (options.gt !== undefined || options.gte !== undefined || options.lt !== undefined || options.lte !== undefined) {
      throw new TypeError('entries: prefix cannot be combined with gt, gte, lt or lte')
    }
    const upper = prefixUpperBound(options.prefix)
    if (upper !== undefined) {
      range.gte = options.prefix
      range.lt = upper
    }
    return range
  }
  for (const bound of ['gt', 'gte', 'lt', 'lte'] as const) {
    const value = options[bound]
    if (value !== undefined) {
      range[bound] = value
    }
  }
  return range
}

/**
 * The least string greater than every string starting with `prefix`: the
 * prefix with its last code point incremented (UTF-8 byte order is code
 * point order). Undefined for an empty prefix, which bounds nothing.
 */
export function prefixUpperBound (prefix: string): string | undefined {
  const codePoints = Array.from(prefix)
  const last = codePoints.pop()
  if (last === undefined) {
    return undefined
  }
  let next = (last.codePointAt(0) ?? 0) + 1
  if (next === 0xd800) {
    next = 0xe000 // skip the surrogate range, which is not encodable
  }
  if (next > 0x10ffff) {
    throw new RangeError('entries: a prefix must not end with U+10FFFF')
  }
  return codePoints.join('') + String.fromCodePoint(next)
}

