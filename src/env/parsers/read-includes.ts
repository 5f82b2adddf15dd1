/**
 * The real-filesystem ReadIncludes: what `Include`, `!include` and
 * `!includedir` name on this machine. A relative pattern is resolved
 * against the including file's directory (the parsers have already applied
 * Apache's ServerRoot when one is set). A pattern with `*`, `?` or `[` is a
 * glob (node's `fs.promises.glob`); a directory named without a glob means
 * every file under it, as Apache's `Include dir/` does. Each file is read
 * only if it is within MAX_CONFIG_TEXT_BYTES; a path that does not exist
 * yields no file, so the parser can record it as missing.
 */
import { glob, readFile, readdir, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { ConfigParseError } from '../errors.ts'
import type { IncludedFile, ReadIncludes } from '../types.ts'
import { MAX_CONFIG_TEXT_BYTES, MAX_INCLUDED_FILES } from './constants.ts'

const GLOB_CHARS = /[*?[]/

export function fileIncludes (): ReadIncludes {
  return async (pattern: string, fromPath: string): Promise<IncludedFile[]> => {
    const base = dirname(resolve(fromPath))
    const paths = GLOB_CHARS.test(pattern)
      ? await globbedFiles(pattern, base, fromPath)
      : await namedFiles(resolve(base, pattern), fromPath)
    const files: IncludedFile[] = []
    for (const path of paths.sort()) files.push({ path, text: await readBounded(path) })
    return files
  }
}

async function globbedFiles (pattern: string, base: string, fromPath: string): Promise<string[]> {
  const found: string[] = []
  // `cwd` rather than joining: the includer's directory may itself contain glob characters.
  for await (const match of glob(pattern, { cwd: base })) {
    const path = isAbsolute(match) ? match : resolve(base, match)
    const info = await stat(path).catch(ignoreMissing)
    if (info?.isFile() !== true) continue
    found.push(path)
    if (found.length > MAX_INCLUDED_FILES) throw tooMany(fromPath, pattern)
  }
  return found
}

/** The file, or every file under the directory, `path` names; none if it does not exist. */
async function namedFiles (path: string, fromPath: string): Promise<string[]> {
  const info = await stat(path).catch(ignoreMissing)
  if (info === undefined) return []
  if (!info.isDirectory()) return [path]
  const entries = await readdir(path, { recursive: true, withFileTypes: true })
  const found: string[] = []
  for (const entry of entries) {
    const file = join(entry.parentPath, entry.name)
    // Debian enables sites and modules by symlinking them into *-enabled/: follow links to files.
    if (!entry.isFile() && !(entry.isSymbolicLink() && (await stat(file).catch(ignoreMissing))?.isFile() === true)) continue
    found.push(file)
    if (found.length > MAX_INCLUDED_FILES) throw tooMany(fromPath, path)
  }
  return found
}

async function readBounded (path: string): Promise<string> {
  const info = await stat(path)
  if (info.size > MAX_CONFIG_TEXT_BYTES) {
    throw new ConfigParseError('too-large', path, undefined, `${info.size} bytes is over the ${MAX_CONFIG_TEXT_BYTES}-byte limit for a configuration file`)
  }
  return readFile(path, 'utf8')
}

function ignoreMissing (err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
  throw err
}

function tooMany (fromPath: string, pattern: string): ConfigParseError {
  return new ConfigParseError('too-many-items', fromPath, undefined, `include ${JSON.stringify(pattern)} names more than ${MAX_INCLUDED_FILES} files`)
}
