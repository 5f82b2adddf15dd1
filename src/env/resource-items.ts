import { execFile } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { glob, readFile, stat } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { createHash } from 'node:crypto'
import { FingerprintError } from './errors.ts'
import { DPKG_STATUS_PATH, packageMatches, parseDpkgStatus } from './dpkg-status.ts'
import { fileIncludes, parseApache, parseIni, parseJsonConfig, parseMyCnf, parseYamlConfig, textItems, MAX_CONFIG_TEXT_BYTES } from './parsers/index.ts'
import type { ResourceSpec } from './spec.ts'
import type { ConfigItems, ReadIncludes } from './types.ts'

/** The raw items of one resource (item name → value) and what the owner should know about them. */
export interface ResourceItems {
  items: ConfigItems
  notes: string[]
}

export interface ReadEnvironmentOptions {
  /**
   * A directory standing for `/`: the spec's absolute paths, includes and
   * the package database are read under it. Lets one machine fingerprint
   * environments kept in directories (scenarios, tests); unset on a real
   * machine.
   */
  root?: string
  /** Environment variables (default: this process's). */
  environment?: NodeJS.ProcessEnv
  /** How long a `command` resource may run (default COMMAND_TIMEOUT_MS). */
  commandTimeoutMs?: number
}

/** A command that takes longer than this is a fact ("timeout"), not a hang. */
export const COMMAND_TIMEOUT_MS = 10_000
/** Output kept from a command: versions and short reports, not data. */
export const MAX_COMMAND_OUTPUT_BYTES = 1024 * 1024
/** Files one glob may match: bounds one resource's work (a system library dir holds a few thousand). */
export const MAX_GLOB_FILES = 20_000
/** Read size for content hashes: large reads keep hashing near the disk's speed. */
const HASH_READ_BYTES = 4 * 1024 * 1024

/** What stands for an absent resource: absence is a fact of the environment, not an error. */
export const MISSING = 'missing'

const GLOB_CHARS = /[*?[{]/

/** Reads one resource of the spec into raw items, by its kind. */
export async function readResourceItems (resource: ResourceSpec, options: ReadEnvironmentOptions = {}): Promise<ResourceItems> {
  switch (resource.kind) {
    case 'env': {
      const value = (options.environment ?? process.env)[resource.variable ?? '']
      return single(value === undefined ? 'unset' : `set:${value}`)
    }
    case 'command':
      return single(await commandOutput(resource.command ?? [], options))
    case 'packages':
      return packageItems(resource.packages ?? [], options)
    default:
      return fileResourceItems(resource, options)
  }
}

function single (value: string): ResourceItems {
  return { items: new Map([['', value]]), notes: [] }
}

/** A file kind: one file, or every file a glob matches (items prefixed by the file's path). */
async function fileResourceItems (resource: ResourceSpec, options: ReadEnvironmentOptions): Promise<ResourceItems> {
  const pattern = resource.path ?? ''
  if (!GLOB_CHARS.test(pattern)) return oneFileItems(resource, pattern, options)
  const paths: string[] = []
  for await (const match of glob(rooted(pattern, options.root))) {
    paths.push(unrooted(match, options.root))
    if (paths.length > MAX_GLOB_FILES) throw new FingerprintError(`resource ${resource.name}: ${pattern} matches more than ${MAX_GLOB_FILES} files; narrow the pattern`)
  }
  if (paths.length === 0) return single(MISSING)
  const items: ConfigItems = new Map()
  const notes: string[] = []
  for (const path of paths.sort()) {
    const file = await oneFileItems(resource, path, options)
    for (const [item, value] of file.items) items.set(item === '' ? path : `${path}#${item}`, value)
    notes.push(...file.notes)
  }
  return { items, notes }
}

async function oneFileItems (resource: ResourceSpec, path: string, options: ReadEnvironmentOptions): Promise<ResourceItems> {
  const real = rooted(path, options.root)
  const info = await stat(real).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
    throw err
  })
  if (info === undefined) return single(MISSING)
  if (!info.isFile()) return single(info.isDirectory() ? 'directory' : 'not-a-file')
  if (resource.kind === 'binary') return single(`sha256:${await fileSha256(real)}`)
  if (info.size > MAX_CONFIG_TEXT_BYTES) {
    return { items: new Map([['', `sha256:${await fileSha256(real)}`]]), notes: [`${resource.name}: ${path} is ${info.size} bytes, too large to parse as ${resource.kind}; fingerprinted by content hash`] }
  }
  const text = await readFile(real, 'utf8')
  try {
    return { items: await parseConfig(resource.kind, text, real, rootedIncludes(options.root)), notes: [] }
  } catch (err) {
    if ((err as Error).name !== 'ConfigParseError') throw err
    // A file its parser refuses still has a fingerprint: its normalised
    // lines, or its content hash when even those are too many.
    const reason = unrooted((err as Error).message, options.root)
    try {
      return { items: textItems(text, real), notes: [`${resource.name}: ${reason}; fingerprinted as plain text`] }
    } catch (textErr) {
      if ((textErr as Error).name !== 'ConfigParseError') throw textErr
      return { items: new Map([['', `sha256:${await fileSha256(real)}`]]), notes: [`${resource.name}: ${reason}; fingerprinted by content hash`] }
    }
  }
}

async function parseConfig (kind: ResourceSpec['kind'], text: string, path: string, includes: ReadIncludes): Promise<ConfigItems> {
  switch (kind) {
    case 'ini': return parseIni(text, path)
    case 'mycnf': return parseMyCnf(text, path, includes)
    case 'apache': return parseApache(text, path, includes)
    case 'json': return parseJsonConfig(text, path)
    case 'yaml': return parseYamlConfig(text, path)
    default: return textItems(text, path)
  }
}

/** SHA-256 of a file's content, streamed. */
export async function fileSha256 (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: HASH_READ_BYTES })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** The command's exit and trimmed output; a command that cannot run is "missing", one that hangs "timeout". */
async function commandOutput (argv: readonly string[], options: ReadEnvironmentOptions): Promise<string> {
  const [file, ...args] = argv
  if (file === undefined) return MISSING
  return new Promise(resolve => {
    execFile(file, args, {
      timeout: options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS,
      maxBuffer: MAX_COMMAND_OUTPUT_BYTES,
      env: options.environment ?? process.env,
      killSignal: 'SIGKILL'
    }, (err, stdout) => {
      const output = String(stdout).trim().replace(/[ \t]+/g, ' ')
      if (err === null) { resolve(`exit 0: ${output}`); return }
      const e = err as NodeJS.ErrnoException & { killed?: boolean, code?: string | number }
      if (e.code === 'ENOENT' || e.code === 'EACCES') resolve(MISSING)
      else if (e.killed === true) resolve('timeout')
      else resolve(`exit ${String(e.code ?? '?')}: ${output}`)
    })
  })
}

/** One item per installed package a pattern names (name:arch → version); a pattern that names none is itself an item. */
async function packageItems (patterns: readonly string[], options: ReadEnvironmentOptions): Promise<ResourceItems> {
  const text = await readFile(rooted(DPKG_STATUS_PATH, options.root), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (text === undefined) return { items: new Map([['', MISSING]]), notes: [`no Debian package database at ${DPKG_STATUS_PATH}`] }
  const installed = parseDpkgStatus(text)
  const items: ConfigItems = new Map()
  for (const pattern of [...patterns].sort()) {
    const matches = installed.filter(p => packageMatches(pattern, p.name))
    if (matches.length === 0) items.set(`${pattern}`, 'not-installed')
    for (const p of matches) items.set(p.architecture === '' ? p.name : `${p.name}:${p.architecture}`, p.version)
  }
  return { items, notes: [] }
}

function rooted (path: string, root: string | undefined): string {
  if (root === undefined || !isAbsolute(path)) return path
  return path === root || path.startsWith(`${root}/`) ? path : join(root, path)
}

function unrooted (text: string, root: string | undefined): string {
  return root === undefined ? text : text.split(root).join('')
}

/** Includes named by absolute paths are read under the root too. */
function rootedIncludes (root: string | undefined): ReadIncludes {
  const inner = fileIncludes()
  if (root === undefined) return inner
  return async (pattern, fromPath) => inner(rooted(pattern, root), fromPath)
}
