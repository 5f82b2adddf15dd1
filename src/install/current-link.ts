/**
 * The `current` symlink: what runs. It is switched by making a new link
 * under a temp name and renaming it over `current`; rename(2) replaces the
 * old link in one step, so a reader sees the old target or the new one,
 * never a missing link or a half-copied folder. Targets are relative
 * (versions/<name>) so the install directory can be moved or mounted
 * elsewhere.
 */
import { randomBytes } from 'node:crypto'
import { readlink, rename, symlink, unlink } from 'node:fs/promises'
import path from 'node:path'
import { CURRENT_LINK, CURRENT_TEMP_PREFIX, VERSIONS_DIR } from './constants.ts'
import { CurrentLinkInvalidError } from './errors.ts'
import { fsyncPath } from './tree-files.ts'
import { isVersionName } from './version-name.ts'

/** The version `current` points at in `root`, or undefined when there is no link yet. */
export async function readCurrentLink (root: string): Promise<string | undefined> {
  const link = path.join(root, CURRENT_LINK)
  let target: string
  try {
    target = await readlink(link)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    if (code === 'EINVAL') throw new CurrentLinkInvalidError(link, 'is not a symlink; the installer owns this name', { cause: err })
    throw err
  }
  const prefix = `${VERSIONS_DIR}/`
  const name = target.startsWith(prefix) ? target.slice(prefix.length) : ''
  if (!isVersionName(name)) throw new CurrentLinkInvalidError(link, `points at ${JSON.stringify(target)}, not at ${prefix}<version>`)
  return name
}

/** Atomically points `current` in `root` at versions/<name>, and makes that durable. */
export async function pointCurrentAt (root: string, name: string): Promise<void> {
  const temp = path.join(root, `${CURRENT_TEMP_PREFIX}${randomBytes(8).toString('hex')}`)
  await symlink(`${VERSIONS_DIR}/${name}`, temp)
  try {
    await rename(temp, path.join(root, CURRENT_LINK))
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  // The rename is atomic but lives in the folder's metadata: fsync the
  // folder, or a power cut could bring the old link back after we reported
  // the new one.
  await fsyncPath(root)
}

/** Removes `current` (nothing runs), durably; no link is not an error. */
export async function removeCurrentLink (root: string): Promise<void> {
  try {
    await unlink(path.join(root, CURRENT_LINK))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await fsyncPath(root)
}
