/**
 * Writes a proposed spec where the owner asked. An existing file is never
 * replaced unless asked (it may be a spec the owner already edited), and a
 * replacement is atomic (temp file, then rename), so an interrupted write
 * leaves the old spec, not half a new one.
 */
import { randomBytes } from 'node:crypto'
import { rename, rm, writeFile } from 'node:fs/promises'
import { SpecFileExistsError } from './errors.ts'
import type { ProposedSpec } from './propose-spec.ts'

/** The spec as the file holds it: pretty JSON, two-space indent, final newline. */
export function specFileText (spec: ProposedSpec): string {
  return `${JSON.stringify(spec, null, 2)}\n`
}

/** Writes `spec` to `path`; throws SpecFileExistsError when it exists and `force` is not set. */
export async function writeSpecFile (path: string, spec: ProposedSpec, options: { force?: boolean } = {}): Promise<void> {
  const text = specFileText(spec)
  if (options.force !== true) {
    try {
      await writeFile(path, text, { flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SpecFileExistsError(path, { cause: err })
      throw err
    }
    return
  }
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(temp, text, { flag: 'wx' })
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}
