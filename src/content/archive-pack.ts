/**
 * Deterministic archive of a directory: the artifact a release publishes.
 *
 * The format is plain POSIX tar (ustar headers, pax records for long or
 * non-ASCII names) written by `tar-stream`, so `tar -tvf` can inspect any
 * release. Everything that varies between two copies of the same tree is
 * normalised away, so the same tree always gives the same bytes and thus the
 * same artifact root: entries in UTF-8 byte order of their relative path,
 * mtime 0, uid/gid 0, no user or group names, modes reduced to 0o755/0o644.
 */
import { constants as fsConstants } from 'node:fs'
import type { Stats } from 'node:fs'
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { pack as tarPack } from 'tar-stream'
import type { Header, Pack } from 'tar-stream'
import { MAX_ARCHIVE_ENTRIES, MAX_UNPACKED_SIZE_BYTES, PACK_CONCURRENT_READS, PACK_READ_SIZE_BYTES } from './constants.ts'
import { PackError } from './errors.ts'
import { drained } from './writable-drain.ts'

/** Progress of `packDirectory`, for a CLI progress display. */
export type PackProgress =
  /** The tree was walked: how much there is to pack. */
  | { type: 'scanned', entries: number, fileBytes: number }
  /** More file content was packed (after each small file, and each read of a large one). */
  | { type: 'bytes', fileBytesDone: number, fileBytes: number }
  /** The archive is complete. */
  | { type: 'done', entries: number, archiveBytes: number }

export interface PackOptions {
  onProgress?: (event: PackProgress) => void
  /** Most entries packed (default MAX_ARCHIVE_ENTRIES, what unpacking accepts). */
  maxEntries?: number
  /** Most bytes of file content packed (default MAX_UNPACKED_SIZE_BYTES, what unpacking accepts). */
  maxFileBytes?: number
}

/** One thing to archive, as found by the walk. */
interface TreeEntry {
  /** Relative path, '/'-separated, no leading or trailing slash. */
  rel: string
  /** Sort key: the UTF-8 bytes of `rel`. */
  key: Buffer
  kind: 'directory' | 'file' | 'symlink'
  /** Normalised mode written to the header. */
  mode: number
  /** File size in bytes (0 for others). */
  size: number
  /** Symlink target, as stored in the link. */
  target?: string
  /** Identity of the scanned file, to notice it being swapped before it is read. */
  ino: number
}

const EPOCH = new Date(0)

/** What tar-stream accepts for an entry header, and the writable it returns for the body. */
type EntryHeader = Partial<Header> & Pick<Header, 'name'>
type EntrySink = ReturnType<Pack['entry']>

/**
 * Packs `dir` into a deterministic tar archive, yielded as a stream of
 * buffers (each fresh, none reused). File contents are streamed in
 * PACK_READ_SIZE_BYTES reads, so memory stays flat whatever the file sizes.
 *
 * Throws PackError naming the path for: a socket, fifo or device in the tree
 * (`unsupported-type`), a file that changes size or identity while packed
 * (`file-changed`), a name that is not valid UTF-8 (`unsupported-type`), or
 * a tree beyond MAX_ARCHIVE_ENTRIES or MAX_UNPACKED_SIZE_BYTES (the limits
 * `unpackArchive` enforces, checked here so a publisher learns early, before
 * any byte is produced).
 */
export async function * packDirectory (dir: string, options: PackOptions = {}): AsyncGenerator<Uint8Array> {
  const { onProgress } = options
  const maxEntries = options.maxEntries ?? MAX_ARCHIVE_ENTRIES
  const maxFileBytes = options.maxFileBytes ?? MAX_UNPACKED_SIZE_BYTES
  const root = path.resolve(dir)
  const rootStats = await stat(root)
  if (!rootStats.isDirectory()) throw new PackError('not-a-directory', '', `cannot pack ${root}: not a directory`)

  const entries = await scanTree(root, maxEntries)
  const fileBytes = entries.reduce((sum, entry) => sum + entry.size, 0)
  if (fileBytes > maxFileBytes) {
    throw new PackError('too-large', '', `${root} holds ${fileBytes} bytes of files, more than the limit of ${maxFileBytes} (MAX_UNPACKED_SIZE_BYTES)`)
  }
  onProgress?.({ type: 'scanned', entries: entries.length, fileBytes })

  const pack = tarPack()
  // The iterator below reports the pack's errors; this keeps one raised
  // before iteration starts from being thrown as uncaught.
  pack.on('error', () => {})
  // The producer feeds the pack stream while this generator drains it; any
  // failure destroys the pack with that error, which the loop below rethrows.
  const producer = writeEntries(pack, root, entries, fileBytes, onProgress)
    .then(() => { pack.finalize() }, (err: unknown) => { pack.destroy(err as Error) })
  let archiveBytes = 0
  try {
    for await (const item of pack) {
      // tar-stream pushes only Buffers (its headers and padding, our reads);
      // its stream types just do not say so.
      const buf = item as Uint8Array
      archiveBytes += buf.byteLength
      yield buf
    }
  } finally {
    // Reached early when the consumer stops or the producer failed: make
    // sure the producer unwinds (and closes its file) before returning.
    pack.destroy()
    await producer
  }
  onProgress?.({ type: 'done', entries: entries.length, archiveBytes })
}

/** Walks the tree (without following symlinks) and returns its entries in archive order. */
async function scanTree (root: string, maxEntries: number): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = []
  const walk = async (relDir: string): Promise<void> => {
    // Names as bytes: a name that is not valid UTF-8 would otherwise be
    // silently mangled by decoding and then fail to open.
    const names = await readdir(path.join(root, relDir), { encoding: 'buffer' })
    if (entries.length + names.length > maxEntries) {
      throw new PackError('too-many-entries', relDir, `${root} holds more than ${maxEntries} entries, the most an archive may have (MAX_ARCHIVE_ENTRIES)`)
    }
    const found: TreeEntry[] = []
    // lstat in batches: one at a time, each is a thread-pool round trip and
    // the walk of a 10k-file tree takes seconds instead of a fraction.
    for (let start = 0; start < names.length; start += PACK_CONCURRENT_READS) {
      const batch = names.slice(start, start + PACK_CONCURRENT_READS)
      found.push(...await Promise.all(batch.map(async (raw) => {
        const name = raw.toString('utf8')
        const rel = relDir === '' ? name : `${relDir}/${name}`
        if (!Buffer.from(name, 'utf8').equals(raw)) {
          throw new PackError('unsupported-type', rel, `cannot pack ${JSON.stringify(rel)}: its name is not valid UTF-8`)
        }
        return await describe(root, rel, await lstat(path.join(root, rel)))
      })))
    }
    entries.push(...found)
    for (const entry of found) {
      if (entry.kind === 'directory') await walk(entry.rel)
    }
  }
  await walk('')
  // One global order, not per-directory: 'a-b' (0x2d) sorts before 'a/x'
  // (0x2f). A parent is a prefix of its children, so it still comes first.
  return entries.sort((a, b) => Buffer.compare(a.key, b.key))
}

async function describe (root: string, rel: string, stats: Stats): Promise<TreeEntry> {
  const key = Buffer.from(rel, 'utf8')
  if (stats.isDirectory()) return { rel, key, kind: 'directory', mode: 0o755, size: 0, ino: stats.ino }
  if (stats.isFile()) {
    // Only "is it executable" survives: owner, group and umask bits do not
    // belong in an artifact whose bytes must not depend on who built it.
    const mode = (stats.mode & 0o111) !== 0 ? 0o755 : 0o644
    return { rel, key, kind: 'file', mode, size: stats.size, ino: stats.ino }
  }
  if (stats.isSymbolicLink()) {
    const raw = await readlink(path.join(root, rel), { encoding: 'buffer' })
    const target = raw.toString('utf8')
    if (!Buffer.from(target, 'utf8').equals(raw)) {
      throw new PackError('unsupported-type', rel, `cannot pack symlink ${JSON.stringify(rel)}: its target is not valid UTF-8`)
    }
    // Kept as-is, even if absolute or escaping: refusing it is the
    // unpacker's job, and a publisher's own check should see the real link.
    return { rel, key, kind: 'symlink', mode: 0o777, size: 0, target, ino: stats.ino }
  }
  const kind = stats.isFIFO() ? 'a fifo' : stats.isSocket() ? 'a socket' : stats.isCharacterDevice() ? 'a character device' : stats.isBlockDevice() ? 'a block device' : 'of an unknown type'
  throw new PackError('unsupported-type', rel, `cannot pack ${JSON.stringify(rel)}: it is ${kind}; a release may hold only files, directories and symlinks`)
}

async function writeEntries (
  pack: Pack, root: string, entries: TreeEntry[], fileBytes: number, onProgress: PackOptions['onProgress']
): Promise<void> {
  let fileBytesDone = 0
  const onRead = (n: number): void => {
    fileBytesDone += n
    onProgress?.({ type: 'bytes', fileBytesDone, fileBytes })
  }
  // Small files are read ahead, several at once, while earlier entries are
  // written: read one by one, each costs four thread-pool round trips
  // (≈ 190 µs measured) and a tree of many small files packs slowly.
  const readAhead = new Map<number, Promise<Buffer>>()
  let nextToRead = 0
  for (const [index, entry] of entries.entries()) {
    for (; nextToRead < entries.length && nextToRead <= index + PACK_CONCURRENT_READS; nextToRead++) {
      const candidate = entries[nextToRead]
      if (candidate?.kind !== 'file' || candidate.size > PACK_READ_SIZE_BYTES) continue
      const reading = readSmallFile(path.join(root, candidate.rel), candidate)
      // Marked handled: if packing stops first, nobody awaits this one.
      reading.catch(() => {})
      readAhead.set(nextToRead, reading)
    }

    const header: EntryHeader = {
      // tar-stream does not add the conventional trailing '/' to directory
      // names itself, so add it here (GNU tar does the same).
      name: entry.kind === 'directory' ? `${entry.rel}/` : entry.rel,
      type: entry.kind,
      mode: entry.mode,
      size: entry.size,
      mtime: EPOCH,
      uid: 0,
      gid: 0,
      uname: '',
      gname: ''
    }
    if (entry.kind === 'symlink') header.linkname = entry.target
    const small = readAhead.get(index)
    readAhead.delete(index)
    const body = await small
    const { sink, done } = addEntry(pack, header)
    if (body !== undefined) {
      // Written whole and ended at once: tar-stream holds the one buffer
      // until the consumer wants it, so there is no backpressure to wait on.
      if (body.byteLength > 0) sink.write(body)
      sink.end(null)
      onRead(body.byteLength)
    } else if (entry.kind === 'file') {
      await streamFile(path.join(root, entry.rel), entry, sink, onRead)
      sink.end(null)
    }
    await done
  }
}

/** Adds an entry; `done` settles when tar-stream has written it (or failed). */
function addEntry (pack: Pack, header: EntryHeader): { sink: EntrySink, done: Promise<void> } {
  let settle: (err?: Error | null) => void = () => {}
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => { if (err == null) resolve(); else reject(err) }
  })
  // Marked handled: if streaming the file fails first, that error is the one
  // reported and this rejection (the entry being torn down) is expected.
  done.catch(() => {})
  const sink = pack.entry(header, (err) => { settle(err) })
  // Tearing the pack down destroys the sink with an error that `done` (and
  // `drained`) already report; without a listener, the emitter would throw
  // it as an uncaught exception.
  sink.on('error', () => {})
  return { sink, done }
}

/** Reads a file of at most PACK_READ_SIZE_BYTES whole, checking it is still what was scanned. */
async function readSmallFile (file: string, entry: TreeEntry): Promise<Buffer> {
  const handle = await openScanned(file, entry)
  try {
    // One byte more than expected, so growth shows up in the same read. A
    // zeroed buffer, so that spare byte never exposes stale memory.
    const buf = Buffer.alloc(entry.size + 1)
    let filled = 0
    for (;;) {
      const want = buf.byteLength - filled
      const { bytesRead } = await handle.read(buf, filled, want, filled)
      filled += bytesRead
      if (filled > entry.size) throw fileChanged(entry, 'grew')
      // A short read of a regular file means end of file.
      if (bytesRead === 0 || (bytesRead < want && filled === entry.size)) break
    }
    if (filled < entry.size) throw fileChanged(entry, 'shrank')
    return buf.subarray(0, entry.size)
  } finally {
    await handle.close()
  }
}

/** Streams a file's contents into its entry in bounded reads, checking it is still what was scanned. */
async function streamFile (file: string, entry: TreeEntry, sink: EntrySink, onRead: (bytes: number) => void): Promise<void> {
  const handle = await openScanned(file, entry)
  try {
    let position = 0
    while (position < entry.size) {
      // A fresh buffer per read: the pack stream and every consumer after it
      // may still hold the previous one. Unzeroed: every byte is read into.
      const buf = Buffer.allocUnsafeSlow(Math.min(PACK_READ_SIZE_BYTES, entry.size - position))
      let filled = 0
      while (filled < buf.byteLength) {
        const { bytesRead } = await handle.read(buf, filled, buf.byteLength - filled, position + filled)
        if (bytesRead === 0) throw fileChanged(entry, 'shrank')
        filled += bytesRead
      }
      position += filled
      onRead(filled)
      if (!sink.write(buf)) await drained(sink)
    }
    const probe = Buffer.alloc(1)
    if ((await handle.read(probe, 0, 1, position)).bytesRead !== 0) throw fileChanged(entry, 'grew')
  } finally {
    await handle.close()
  }
}

/** Opens a scanned file, refusing it if it was replaced or resized since the scan. */
async function openScanned (file: string, entry: TreeEntry): Promise<FileHandle> {
  // O_NOFOLLOW: if the file was replaced by a symlink since the scan, fail
  // rather than archive whatever it points to.
  const handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW)
  try {
    const stats = await handle.stat()
    if (stats.ino !== entry.ino || stats.size !== entry.size) throw fileChanged(entry, 'replaced or resized')
    return handle
  } catch (err) {
    await handle.close()
    throw err
  }
}

function fileChanged (entry: TreeEntry, what: string): PackError {
  return new PackError('file-changed', entry.rel, `${JSON.stringify(entry.rel)} changed while being packed (${what}); pack a tree nothing else is writing to`)
}
