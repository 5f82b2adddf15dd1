/**
 * The census file: what `mirage vendor census` writes from the seed's
 * control API and `mirage vendor cluster` reads. A JSON array of
 * `{ peerId, receivedAt, fingerprint }`, one entry per line (`[`, `{…},`,
 * …, `]`), so that a census of many machines is read entry by entry, never
 * as one string. Any JSON array is accepted when it is small enough to parse
 * whole (a file written by hand or by another tool). Every entry is
 * validated (`checkFingerprint`) and errors name the entry and its peer.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { ATOMIC_TEMP_MARKER } from '../content/index.ts'
import { checkFingerprint, fingerprintDigest } from '../env/index.ts'
import { CensusFileError } from './errors.ts'
import type { Fingerprint } from '../env/index.ts'

/**
 * A file up to this size may be any JSON array, parsed whole. 256 MiB is
 * half of V8's longest string and costs a few hundred MB of memory to
 * parse; a larger census must be one entry per line, as `vendor census`
 * writes it.
 */
export const MAX_WHOLE_CENSUS_FILE_BYTES = 256 * 1024 * 1024

/**
 * Longest line (one entry) in the one-per-line layout. A census envelope is
 * at most 2 MiB of CBOR; the same fingerprint as JSON is a little larger
 * (quotes, escapes), so 8 MiB holds any entry the seed can have stored.
 */
export const MAX_CENSUS_LINE_BYTES = 8 * 1024 * 1024

/** Entries one file may hold: the seed's bound on machines per app (DEFAULT_MAX_CENSUS_ENTRIES_PER_APP). */
export const MAX_CENSUS_FILE_ENTRIES = 1_000_000

/** One machine of a census file. */
export interface CensusFileEntry {
  peerId: string
  receivedAt: number
  fingerprint: Fingerprint
}

export interface ReadCensusOptions {
  /** Files up to this size are parsed whole (any JSON layout); default MAX_WHOLE_CENSUS_FILE_BYTES. */
  maxWholeFileBytes?: number
}

const entrySchema = z.strictObject({
  peerId: z.string().min(1).max(128),
  receivedAt: z.int().min(0),
  fingerprint: z.unknown()
})

/**
 * The entries of a census file, in file order, each validated; the first
 * invalid one is a CensusFileError naming it. When `app` is given, every
 * fingerprint must be of that app, and no peer may appear twice.
 */
export async function * readCensusFile (file: string, app?: string, options: ReadCensusOptions = {}): AsyncGenerator<CensusFileEntry> {
  const size = await stat(file).then(s => s.size, (err: unknown) => {
    throw new CensusFileError('unreadable', file, undefined, `cannot read the census ${file}: ${(err as Error).message}`, { cause: err })
  })
  const whole = size <= (options.maxWholeFileBytes ?? MAX_WHOLE_CENSUS_FILE_BYTES)
  const peers = new Set<string>()
  let index = 0
  for await (const value of whole ? wholeFileEntries(file) : lineEntries(file)) {
    if (index >= MAX_CENSUS_FILE_ENTRIES) {
      throw new CensusFileError('too-many', file, index, `${file}: more than ${MAX_CENSUS_FILE_ENTRIES} entries`)
    }
    const entry = checkEntry(file, index, value)
    if (app !== undefined && entry.fingerprint.app !== app) {
      throw new CensusFileError('wrong-app', file, index, `${file}: entry [${index}] (peer ${entry.peerId}): a fingerprint of app "${entry.fingerprint.app}", not "${app}"`)
    }
    if (peers.has(entry.peerId)) {
      throw new CensusFileError('duplicate', file, index, `${file}: entry [${index}]: peer ${entry.peerId} appears twice`)
    }
    peers.add(entry.peerId)
    yield entry
    index++
  }
}

/** Validates one entry; the error names it by index and, once known, by peer. */
export function checkEntry (file: string, index: number, value: unknown): CensusFileEntry {
  const parsed = entrySchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue?.path.map(String).join('.') ?? ''
    const message = issue?.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map(k => JSON.stringify(k.slice(0, 40))).join(', ')}` : (issue?.message ?? 'invalid')
    throw new CensusFileError('entry', file, index, `${file}: entry [${index}]: ${path === '' ? '' : `${path}: `}${message} (expected { peerId, receivedAt, fingerprint })`)
  }
  const { peerId, receivedAt } = parsed.data
  try {
    peerIdFromString(peerId)
  } catch (err) {
    throw new CensusFileError('entry', file, index, `${file}: entry [${index}]: peerId "${peerId.slice(0, 60)}" is not a peer id`, { cause: err })
  }
  // JSON.parse keeps `__proto__` as an own key, but checkFingerprint's copy would drop it (and replace the copy's prototype).
  const resources = (parsed.data.fingerprint as { resources?: unknown } | null)?.resources
  if (typeof resources === 'object' && resources !== null && Object.hasOwn(resources, '__proto__')) {
    throw new CensusFileError('entry', file, index, `${file}: entry [${index}] (peer ${peerId}): fingerprint: resources: "__proto__" is not a resource name`)
  }
  let fingerprint: Fingerprint
  try {
    fingerprint = checkFingerprint(parsed.data.fingerprint, `${file}: entry [${index}] (peer ${peerId}): fingerprint`)
  } catch (err) {
    if ((err as Error).name !== 'FingerprintError') throw err
    throw new CensusFileError('entry', file, index, (err as Error).message, { cause: err })
  }
  return { peerId, receivedAt, fingerprint }
}

async function * wholeFileEntries (file: string): AsyncGenerator<unknown> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new CensusFileError('unreadable', file, undefined, `cannot read the census ${file}: ${(err as Error).message}`, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new CensusFileError('not-json', file, undefined, `${file} is not JSON: ${(err as Error).message}`, { cause: err })
  }
  if (!Array.isArray(json)) throw new CensusFileError('not-an-array', file, undefined, `${file} is not a census: expected a JSON array of { peerId, receivedAt, fingerprint }`)
  yield * json
}

/** Entries of a large file in the one-per-line layout. */
async function * lineEntries (file: string): AsyncGenerator<unknown> {
  let state: 'start' | 'entries' | 'end' = 'start'
  let lineNumber = 0
  let index = 0
  for await (const line of readLines(file, MAX_CENSUS_LINE_BYTES)) {
    lineNumber++
    const text = line.trim()
    if (text === '') continue
    if (state === 'start') {
      if (text !== '[') throw notLayout(file, lineNumber, 'the first line must be "["')
      state = 'entries'
      continue
    }
    if (state === 'end') throw notLayout(file, lineNumber, 'nothing may follow the closing "]"')
    if (text === ']') {
      state = 'end'
      continue
    }
    let value: unknown
    try {
      value = JSON.parse(text.endsWith(',') ? text.slice(0, -1) : text)
    } catch (err) {
      throw new CensusFileError('not-json', file, index, `${file}: entry [${index}] (line ${lineNumber}) is not JSON: ${(err as Error).message}`, { cause: err })
    }
    yield value
    index++
  }
  if (state !== 'end') throw notLayout(file, lineNumber, 'the file ends before its closing "]" (truncated?)')
}

function notLayout (file: string, line: number, detail: string): CensusFileError {
  return new CensusFileError('not-json', file, undefined,
    `${file} line ${line}: ${detail}; a census this large must hold one entry per line, as \`mirage vendor census\` writes it`)
}

/** Lines of a file as UTF-8 text, each at most `maxBytes` (a longer one is an error, not a memory hazard). */
async function * readLines (file: string, maxBytes: number): AsyncGenerator<string> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    let start = 0
    // Bounded by the chunk's length: each turn consumes one line of it.
    for (let end = chunk.indexOf(0x0a, start); end !== -1; end = chunk.indexOf(0x0a, start)) {
      if (pendingBytes + end - start > maxBytes) throw tooLong(file, maxBytes)
      pending.push(chunk.subarray(start, end))
      yield Buffer.concat(pending).toString('utf8')
      pending = []
      pendingBytes = 0
      start = end + 1
    }
    if (start < chunk.byteLength) {
      pendingBytes += chunk.byteLength - start
      if (pendingBytes > maxBytes) throw tooLong(file, maxBytes)
      pending.push(chunk.subarray(start))
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending).toString('utf8')
}

function tooLong (file: string, maxBytes: number): CensusFileError {
  return new CensusFileError('too-large', file, undefined, `${file}: a line longer than ${maxBytes} bytes is not a census entry`)
}

/** What a saved census holds. */
export interface CensusSummary {
  machines: number
  /** Distinct fingerprint digests (relevant facts), i.e. exact-match clusters. */
  fingerprints: number
}

/**
 * Writes a census streamed from the seed to `file` atomically: into a temp
 * file beside it, then every entry validated (of `app`), fsync, rename. A
 * census cut short or invalid leaves `file` as it was.
 */
export async function saveCensus (source: AsyncIterable<Uint8Array | string>, file: string, app: string): Promise<CensusSummary> {
  const temp = `${file}${ATOMIC_TEMP_MARKER}${randomBytes(8).toString('hex')}`
  try {
    await pipeline(source, createWriteStream(temp, { flags: 'wx', mode: 0o644 }))
    const summary = await summarizeCensus(temp, app)
    const handle = await open(temp, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, file)
    const dir = await open(dirname(file), 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
    return summary
  } catch (err) {
    await unlink(temp).catch(() => {})
    if (err instanceof CensusFileError) {
      // The temp name is an implementation detail; name the census the user asked for.
      throw new CensusFileError(err.reason, file, err.entry, err.message.split(temp).join(`${file} (as received)`), { cause: err })
    }
    throw err
  }
}

/** Counts the machines and distinct fingerprints of a census file, validating every entry. */
export async function summarizeCensus (file: string, app: string): Promise<CensusSummary> {
  const digests = new Set<string>()
  let machines = 0
  for await (const entry of readCensusFile(file, app)) {
    machines++
    digests.add(fingerprintDigest(entry.fingerprint))
  }
  return { machines, fingerprints: digests.size }
}
