/**
 * Bytes <-> records: deterministic CBOR (`@ipld/dag-cbor`, the project's one
 * canonical encoding) checked against a zod schema in both directions, and
 * the key rules. Every failure is a RecordInvalidError naming sublevel and
 * key, so a bad record is reported where it lives, never dropped.
 */
import * as dagCbor from '@ipld/dag-cbor'
import type { z } from 'zod'
import { MAX_KEY_BYTES } from './constants.ts'
import { RecordInvalidError } from './errors.ts'

/** Describes one kind of record: its sublevel, schema and key. */
export interface RecordCodec<T> {
  /** Sublevel the records live in; named in errors. */
  readonly sublevel: string
  /** Schema every stored value satisfies. */
  readonly schema: z.ZodType<T>
  /**
   * The key a record must be stored under, if it is derived from the record
   * (a release under its releaseId). Checked on write and read, so a record
   * can never sit under another record's key.
   */
  readonly keyOf?: (record: T) => string
}

/** Throws RecordInvalidError unless `key` is a non-empty, well-formed, bounded string. */
export function validateKey (sublevel: string, key: unknown): asserts key is string {
  if (typeof key !== 'string') {
    throw new RecordInvalidError(sublevel, String(key), `key must be a string, got ${typeof key}`)
  }
  if (key.length === 0) {
    throw new RecordInvalidError(sublevel, key, 'key must not be empty')
  }
  // A lone surrogate would be written as U+FFFD, so two distinct keys could
  // silently land on the same record.
  if (!key.isWellFormed()) {
    throw new RecordInvalidError(sublevel, key, 'key must be well-formed UTF-16')
  }
  const bytes = Buffer.byteLength(key, 'utf8')
  if (bytes > MAX_KEY_BYTES) {
    throw new RecordInvalidError(sublevel, key, `key is ${bytes} bytes, at most ${MAX_KEY_BYTES} allowed`)
  }
}

/** Validates `value` against the codec and encodes it; throws RecordInvalidError. */
export function encodeRecord<T> (codec: RecordCodec<T>, key: string, value: T): Uint8Array {
  validateKey(codec.sublevel, key)
  const record = parseRecord(codec, key, value)
  try {
    return encodeCbor(record)
  } catch (err) {
    throw new RecordInvalidError(codec.sublevel, key, `cannot be encoded as CBOR: ${errorMessage(err)}`, { cause: err })
  }
}

/** Decodes stored bytes and validates them against the codec; throws RecordInvalidError. */
export function decodeRecord<T> (codec: RecordCodec<T>, key: string, bytes: Uint8Array): T {
  return parseRecord(codec, key, decodeCbor(codec.sublevel, key, bytes))
}

/**
 * Encodes any value as deterministic CBOR. Properties whose value is
 * `undefined` are omitted first: zod keeps an optional field that was passed
 * as `undefined`, and the IPLD data model (rightly) has no `undefined`.
 */
export function encodeCbor (value: unknown): Uint8Array {
  return dagCbor.encode(withoutUndefined(value))
}

/** Decodes CBOR without any schema (migrations read old shapes); throws RecordInvalidError. */
export function decodeCbor (sublevel: string, key: string, bytes: Uint8Array): unknown {
  try {
    return dagCbor.decode(bytes)
  } catch (err) {
    throw new RecordInvalidError(sublevel, key, `stored value is not valid CBOR: ${errorMessage(err)}`, { cause: err })
  }
}

function parseRecord<T> (codec: RecordCodec<T>, key: string, value: unknown): T {
  const parsed = codec.schema.safeParse(value)
  if (!parsed.success) {
    throw new RecordInvalidError(codec.sublevel, key, describeIssues(parsed.error), { cause: parsed.error })
  }
  if (codec.keyOf !== undefined) {
    const expected = codec.keyOf(parsed.data)
    if (expected !== key) {
      throw new RecordInvalidError(codec.sublevel, key, `key does not match the record, which belongs under ${JSON.stringify(expected)}`)
    }
  }
  return parsed.data
}

/** `field: message; other.field: message`, the `reason` of a RecordInvalidError. */
function describeIssues (error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length === 0 ? '(record)' : issue.path.join('.')}: ${issue.message}`)
    .join('; ')
}

function withoutUndefined (value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(withoutUndefined)
  }
  if (value !== null && typeof value === 'object' && isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) {
        out[k] = withoutUndefined(v)
      }
    }
    return out
  }
  return value
}

function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function isPlainObject (value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
