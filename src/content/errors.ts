/**
 * Errors of the content area. Callers check `err.name`, not `instanceof`,
 * so errors survive being passed across module copies and processes.
 */

/** Which rule of an artifact layout (or of chunking) was broken. */
export type ContentErrorReason =
  | 'size'
  | 'chunk-size'
  | 'chunk-count'
  | 'digest'
  | 'chunk-index'
  | 'chunk-length'

/** A layout, chunk size or chunk does not fit the rules of the content area. */
export class ContentError extends Error {
  readonly reason: ContentErrorReason

  constructor (reason: ContentErrorReason, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ContentError'
    this.reason = reason
  }
}

/** Bytes offered to the chunk store do not hash to the digest they were offered under. */
export class ChunkMismatchError extends Error {
  /** Lowercase hex of the digest the caller claimed. */
  readonly expected: string
  /** Lowercase hex of the SHA-256 of the bytes actually given. */
  readonly actual: string

  constructor (expected: string, actual: string, options?: ErrorOptions) {
    super(`chunk bytes hash to ${actual}, not to the expected ${expected}`, options)
    this.name = 'ChunkMismatchError'
    this.expected = expected
    this.actual = actual
  }
}

/** The chunk store holds no chunk with this digest. */
export class ChunkMissingError extends Error {
  /** Lowercase hex digest of the missing chunk. */
  readonly digest: string

  constructor (digest: string, options?: ErrorOptions) {
    super(`chunk ${digest} is not in the store`, options)
    this.name = 'ChunkMissingError'
    this.digest = digest
  }
}

/** A chunk file on disk no longer hashes to its name: it must not be served. */
export class ChunkCorruptError extends Error {
  /** Lowercase hex digest the file is stored under. */
  readonly expected: string
  /** Lowercase hex SHA-256 of what is on disk. */
  readonly actual: string
  /** Where the corrupt file is. */
  readonly path: string

  constructor (expected: string, actual: string, path: string, options?: ErrorOptions) {
    super(`chunk ${expected} is corrupt on disk (${path} hashes to ${actual})`, options)
    this.name = 'ChunkCorruptError'
    this.expected = expected
    this.actual = actual
    this.path = path
  }
}

/** Which rule stopped a directory from being packed. */
export type PackErrorReason =
  | 'not-a-directory'
  | 'unsupported-type'
  | 'file-changed'
  | 'too-many-entries'
  | 'too-large'

/** A directory cannot be packed into a release archive. */
export class PackError extends Error {
  readonly reason: PackErrorReason
  /** The offending path, relative to the packed directory ('' for the directory itself). */
  readonly path: string

  constructor (reason: PackErrorReason, path: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'PackError'
    this.reason = reason
    this.path = path
  }
}

/** Which safety rule an archive entry broke. */
export type UnsafeArchiveReason =
  | 'malformed'
  | 'empty-name'
  | 'nul-in-name'
  | 'absolute-path'
  | 'parent-component'
  | 'through-symlink'
  | 'duplicate-entry'
  | 'symlink-absolute'
  | 'symlink-escapes'
  | 'symlink-loop'
  | 'hard-link'
  | 'unsupported-type'
  | 'too-many-entries'
  | 'too-large'

/** An archive tried something extraction refuses to do; the message names the entry. */
export class UnsafeArchiveError extends Error {
  readonly reason: UnsafeArchiveReason
  /** The entry name as it appears in the archive ('' if the archive could not be read). */
  readonly entry: string

  constructor (reason: UnsafeArchiveReason, entry: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'UnsafeArchiveError'
    this.reason = reason
    this.entry = entry
  }
}

/** Extraction needs an empty (or absent) destination, so nothing old mixes with the archive. */
export class DestinationNotEmptyError extends Error {
  readonly dir: string

  constructor (dir: string, options?: ErrorOptions) {
    super(`refusing to unpack into ${dir}: it is not empty`, options)
    this.name = 'DestinationNotEmptyError'
    this.dir = dir
  }
}
