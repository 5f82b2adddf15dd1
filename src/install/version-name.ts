import { MAX_VERSION_NAME_LENGTH } from './constants.ts'
import { VersionNameInvalidError } from './errors.ts'

const VERSION_NAME = /^[A-Za-z0-9._-]+$/

/**
 * Checks that `name` can safely be one folder under versions/: a plain
 * file name of letters, digits, '.', '_' and '-', with no '..' (so never
 * a path that climbs out) and no leading '.' (no hidden versions, and no
 * clash with '.' itself).
 */
export function checkVersionName (name: string): void {
  if (typeof name !== 'string' || name === '') throw new VersionNameInvalidError(String(name), 'it is empty')
  if (name.length > MAX_VERSION_NAME_LENGTH) throw new VersionNameInvalidError(name, `it is longer than ${MAX_VERSION_NAME_LENGTH} characters`)
  if (!VERSION_NAME.test(name)) throw new VersionNameInvalidError(name, 'only letters, digits, ".", "_" and "-" are allowed')
  if (name.includes('..')) throw new VersionNameInvalidError(name, 'it contains ".."')
  if (name.startsWith('.')) throw new VersionNameInvalidError(name, 'it starts with "."')
}

export function isVersionName (name: string): boolean {
  try {
    checkVersionName(name)
    return true
  } catch {
    return false
  }
}
