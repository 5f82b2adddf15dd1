/**
 * Safe extraction of a release archive. The archive's bytes are verified
 * against the signed manifest before they get here, but extraction still
 * trusts nothing in it: a vendor's build machine can be compromised, and an
 * archive that writes outside its destination would turn one bad release
 * into control of every follower. Everything not needed for a software tree
 * (hard links, devices, fifos, absolute or escaping paths and symlinks) is
 * refused, in the spirit of the tar path-traversal advisories (e.g. node-tar
 * CVE-2021-32803, CVE-2021-37701).
 *
 * Callers extract into a fresh staging directory and discard it on error:
 * a refusal stops extraction midway and may leave partial content *inside*
 * the destination, never outside it.
 */
import { constants as fsConstants } from 'node:fs'
import { chmod, mkdir, open, readdir, realpath, symlink } from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { extract as tarExtract } from 'tar-stream'
import type { Extract, Header } from 'tar-stream'
import { MAX_ARCHIVE_ENTRIES, MAX_SYMLINK_HOPS, MAX_UNPACKED_SIZE_BYTES } from './constants.ts'
import { DestinationNotEmptyError, UnsafeArchiveError } from './errors.ts'
import type { UnsafeArchiveReason } from './errors.ts'
import { drained } from './writable-drain.ts'

const log = logger('mirage:content:unpack')

/** What an extraction produced. */
export interface UnpackSummary {
  /** Archive entries read (directories, files and symlinks). */
  entries: number
  directories: number
  files: number
  symlinks: number
  /** Total bytes of file content written. */
  fileBytes: number
}

export interface UnpackOptions {
  /** Most entries accepted (default MAX_ARCHIVE_ENTRIES). */
  maxEntries?: number
  /** Most bytes of file content accepted (default MAX_UNPACKED_SIZE_BYTES). */
  maxFileBytes?: number
}

/** One archive entry as tar-stream yields it: its header and a readable body. */
type EntryStream = Extract extends AsyncIterable<infer S> ? S : never

/** What a path in the tree being built is; implicit parents are directories no entry named. */
type TreeNode =
  | { kind: 'directory', explicit: boolean }
  | { kind: 'file' }
  | { kind: 'symlink', target: string }

/**
 * Extracts the tar archive in `source` into `destDir`, which must be empty
 * or absent (DestinationNotEmptyError otherwise). Throws UnsafeArchiveError,
 * whose `reason` and message name the entry, for anything unsafe; see the
 * module comment for what a refusal leaves behind.
 *
 * Modes are normalised as packing does (0o755 for directories and
 * executable files, 0o644 otherwise); symlinks are created last, after every
 * one of them has been checked to stay inside `destDir`.
 */
export async function unpackArchive (
  source: AsyncIterable<Uint8Array>, destDir: string, options: UnpackOptions = {}
): Promise<UnpackSummary> {
  await mkdir(destDir, { recursive: true })
  const root = await realpath(destDir)
  if ((await readdir(root)).length > 0) throw new DestinationNotEmptyError(root)

  const extraction = new Extraction(root, {
    maxEntries: options.maxEntries ?? MAX_ARCHIVE_ENTRIES,
    maxFileBytes: options.maxFileBytes ?? MAX_UNPACKED_SIZE_BYTES
  })
  const extractor = tarExtract()
  // The first error the extractor met: a parse error, or the source's.
  let streamError: unknown
  extractor.on('error', (err) => { streamError ??= err })
  const fed: { error?: unknown } = {}
  const feeding = feed(source, extractor, fed)
  // Marked handled now: when extraction refuses an entry first, the feeder
  // fails too (its stream is gone) and that second error is expected.
  feeding.catch(() => {})
  let current = ''
  try {
    for await (const entry of extractor) {
      current = entry.header.name
      await extraction.add(entry)
    }
    await feeding
  } catch (err) {
    const reported = explain(err, current, fed, streamError)
    if (reported instanceof Error && reported.name === 'UnsafeArchiveError') log('refused archive for %s: %s', root, reported.message)
    throw reported
  } finally {
    extractor.destroy()
  }
  await extraction.finish()
  return extraction.summary
}

/**
 * Picks the error worth reporting when extraction stops: our own refusal if
 * that is what stopped it; else the source's failure (a bad chunk, say),
 * which tears everything down after it; else a parse error from tar-stream,
 * named as the malformed archive it reveals. An entry body cut short by any
 * of these surfaces as a bare "stream destroyed", which explains nothing.
 */
function explain (err: unknown, entry: string, fed: { error?: unknown }, streamError: unknown): unknown {
  if (err instanceof Error && err.name === 'UnsafeArchiveError') return err
  if ('error' in fed) return fed.error
  if (streamError !== undefined) {
    const where = entry === '' ? '' : ` at or after entry ${JSON.stringify(entry)}`
    return new UnsafeArchiveError('malformed', entry, `archive is malformed${where}: ${(streamError as Error).message}`, { cause: streamError })
  }
  return err
}

/**
 * Writes the source into the extractor with backpressure. A failing source
 * destroys the extractor with its error, recorded in `fed` so the reader can
 * tell it from a parse error.
 */
async function feed (source: AsyncIterable<Uint8Array>, extractor: Extract, fed: { error?: unknown }): Promise<void> {
  try {
    for await (const buf of source) {
      if (!extractor.write(buf)) await drained(extractor)
    }
    extractor.end(null)
  } catch (err) {
    if (!extractor.destroyed && !extractor.destroying) {
      fed.error = err
      extractor.destroy(err as Error)
    }
    throw err
  }
}

interface Limits { maxEntries: number, maxFileBytes: number }

/** The state of one extraction: what exists so far and what is still to do. */
class Extraction {
  readonly root: string
  readonly summary: UnpackSummary = { entries: 0, directories: 0, files: 0, symlinks: 0, fileBytes: 0 }
  readonly #limits: Limits
  /** Every path created or promised so far, relative to root. */
  readonly #tree = new Map<string, TreeNode>()
  /** Symlinks to create once the whole archive has been seen. */
  readonly #symlinks: Array<{ rel: string, name: string, target: string }> = []

  constructor (root: string, limits: Limits) {
    this.root = root
    this.#limits = limits
  }

  async add (entry: EntryStream): Promise<void> {
    const { header } = entry
    const name = header.name
    if (++this.summary.entries > this.#limits.maxEntries) {
      refuse('too-many-entries', name, `archive has more than ${this.#limits.maxEntries} entries (limit MAX_ARCHIVE_ENTRIES)`)
    }
    const parts = splitEntryName(name)
    if (parts.length === 0) {
      // './' names the destination itself (as `tar -C dir .` writes it):
      // nothing to create.
      if (header.type === 'directory') return await drain(entry)
      refuse('empty-name', name, `entry ${JSON.stringify(name)} names no file (its path is empty)`)
    }
    const rel = parts.join('/')

    switch (header.type) {
      case 'directory':
        this.#claim(name, parts, 'directory')
        await this.#makeParents(parts)
        await this.#makeDirectory(rel)
        this.summary.directories++
        return await drain(entry)
      case 'file':
      case 'contiguous-file':
        this.#claim(name, parts, 'file')
        if (this.summary.fileBytes + header.size > this.#limits.maxFileBytes) {
          refuse('too-large', name, `archive holds more than ${this.#limits.maxFileBytes} bytes of files (limit MAX_UNPACKED_SIZE_BYTES) at entry ${JSON.stringify(name)}`)
        }
        await this.#makeParents(parts)
        await this.#writeFile(rel, header, entry)
        this.summary.files++
        this.summary.fileBytes += header.size
        return
      case 'symlink': {
        const target = header.linkname ?? ''
        checkSymlinkTarget(name, parts, target)
        this.#claim(name, parts, 'symlink', target)
        await this.#makeParents(parts)
        this.#symlinks.push({ rel, name, target })
        return await drain(entry)
      }
      case 'link':
        refuse('hard-link', name, `entry ${JSON.stringify(name)} is a hard link (to ${JSON.stringify(header.linkname)}); archives may hold only files, directories and symlinks`)
        break
      default:
        refuse('unsupported-type', name, `entry ${JSON.stringify(name)} is a ${String(header.type)}; archives may hold only files, directories and symlinks`)
    }
  }

  /** Checks every symlink against the complete tree, then creates them all. */
  async finish (): Promise<void> {
    for (const link of this.#symlinks) {
      const verdict = this.#resolve(link.rel, link.target)
      if (verdict === 'escapes') refuse('symlink-escapes', link.name, `symlink ${JSON.stringify(link.name)} -> ${JSON.stringify(link.target)} resolves outside the destination (through other symlinks in the archive)`)
      if (verdict === 'loop') refuse('symlink-loop', link.name, `symlink ${JSON.stringify(link.name)} -> ${JSON.stringify(link.target)} goes through more than ${MAX_SYMLINK_HOPS} symlinks`)
    }
    for (const link of this.#symlinks) {
      await symlink(link.target, this.#abs(link.rel))
      this.summary.symlinks++
    }
  }

  /**
   * Records that `parts` is about to become a `kind`, refusing a path that
   * passes through a symlink or file, or that an earlier entry already named.
   */
  #claim (name: string, parts: string[], kind: TreeNode['kind'], target = ''): void {
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      const node = this.#tree.get(prefix)
      if (node?.kind === 'symlink') {
        refuse('through-symlink', name, `entry ${JSON.stringify(name)} would be written through the symlink ${JSON.stringify(prefix)} created earlier in the archive`)
      }
      if (node?.kind === 'file') {
        refuse('malformed', name, `entry ${JSON.stringify(name)} is inside ${JSON.stringify(prefix)}, which the archive made a file`)
      }
    }
    const rel = parts.join('/')
    const existing = this.#tree.get(rel)
    if (existing !== undefined) {
      // A directory first made implicitly (as the parent of an earlier
      // entry) may still get its own entry; anything else is a second claim
      // on the same path, which could swap a file for a symlink midway.
      if (!(existing.kind === 'directory' && !existing.explicit && kind === 'directory')) {
        refuse('duplicate-entry', name, `entry ${JSON.stringify(name)} names a path the archive already created`)
      }
    }
    this.#tree.set(rel, kind === 'symlink' ? { kind, target } : kind === 'directory' ? { kind, explicit: true } : { kind })
  }

  /** Creates the missing parent directories of `parts` (all checked by `#claim`). */
  async #makeParents (parts: string[]): Promise<void> {
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (this.#tree.has(prefix)) continue
      this.#tree.set(prefix, { kind: 'directory', explicit: false })
      await this.#makeDirectory(prefix)
    }
  }

  async #makeDirectory (rel: string): Promise<void> {
    const abs = this.#abs(rel)
    try {
      await mkdir(abs, { mode: 0o755 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      return
    }
    // mkdir's mode is filtered by the umask; the archive's is what we want.
    await chmod(abs, 0o755)
  }

  async #writeFile (rel: string, header: Header, entry: EntryStream): Promise<void> {
    const mode = (header.mode & 0o111) !== 0 ? 0o755 : 0o644
    // O_EXCL | O_NOFOLLOW: never write through or over anything already
    // there, symlink or not; `#claim` says nothing should be.
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW
    const handle = await open(this.#abs(rel), flags, mode)
    try {
      for await (const buf of entry) await handle.write(buf as Uint8Array)
      await handle.chmod(mode)
    } finally {
      await handle.close()
    }
  }

  /**
   * Follows `target` from the directory of the symlink at `rel` through the
   * complete tree, symlinks included, as the kernel would: a chain of links
   * that each look harmless can still climb out (a/b/s -> ../../x, then
   * t -> a/b/s/../../..), which a purely lexical check would miss.
   */
  #resolve (rel: string, target: string): 'inside' | 'escapes' | 'loop' {
    const at = rel.split('/').slice(0, -1)
    let pending = target.split('/')
    let hops = 0
    while (pending.length > 0) {
      const [part, ...rest] = pending
      pending = rest
      if (part === undefined || part === '' || part === '.') continue
      if (part === '..') {
        if (at.length === 0) return 'escapes'
        at.pop()
        continue
      }
      at.push(part)
      const node = this.#tree.get(at.join('/'))
      if (node?.kind !== 'symlink') continue
      if (++hops > MAX_SYMLINK_HOPS) return 'loop'
      at.pop()
      pending = [...node.target.split('/'), ...pending]
    }
    return 'inside'
  }

  #abs (rel: string): string {
    return path.join(this.root, ...rel.split('/'))
  }
}

/**
 * Splits an entry name into safe components, refusing NUL, absolute paths
 * and '..'. Empty and '.' components are dropped ('./a//b/' is 'a/b').
 */
function splitEntryName (name: string): string[] {
  if (name.includes('\0')) refuse('nul-in-name', name, `entry name ${JSON.stringify(name)} contains a NUL byte`)
  if (name.startsWith('/')) refuse('absolute-path', name, `entry ${JSON.stringify(name)} has an absolute path`)
  const parts = name.split('/').filter((part) => part !== '' && part !== '.')
  if (parts.includes('..')) refuse('parent-component', name, `entry ${JSON.stringify(name)} has a '..' component`)
  return parts
}

/** The checks a symlink target can pass on its own: relative, no NUL, lexically inside. */
function checkSymlinkTarget (name: string, parts: string[], target: string): void {
  if (target === '') refuse('malformed', name, `symlink ${JSON.stringify(name)} has no target`)
  if (target.includes('\0')) refuse('nul-in-name', name, `symlink ${JSON.stringify(name)} has a target containing a NUL byte`)
  if (target.startsWith('/')) refuse('symlink-absolute', name, `symlink ${JSON.stringify(name)} -> ${JSON.stringify(target)} has an absolute target`)
  let depth = parts.length - 1
  for (const part of target.split('/')) {
    if (part === '..') depth--
    else if (part !== '' && part !== '.') depth++
    if (depth < 0) refuse('symlink-escapes', name, `symlink ${JSON.stringify(name)} -> ${JSON.stringify(target)} points outside the destination`)
  }
}

/** Consumes a body-less entry so the extractor moves on. */
async function drain (entry: EntryStream): Promise<void> {
  for await (const _ of entry) { /* header-only entries have no body */ }
}

function refuse (reason: UnsafeArchiveReason, entry: string, message: string): never {
  throw new UnsafeArchiveError(reason, entry, message)
}
