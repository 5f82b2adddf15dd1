import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import path from 'node:path'

/**
 * Marks a temp file: `<name><ATOMIC_TEMP_MARKER><random>`. Whoever owns a
 * folder may delete such leftovers of a crash on start-up.
 */
export const ATOMIC_TEMP_MARKER = '.tmp-'

/**
 * Writes a file so that a crash leaves either the old file or the new one,
 * never a torn mix: a temp file in the same folder (so the rename is atomic),
 * fsync, rename, then fsync of the folder so the new name itself is durable.
 * The random suffix lets concurrent writers of one name proceed safely.
 */
export async function writeFileAtomically (file: string, bytes: Uint8Array | string, mode = 0o644): Promise<void> {
  const temp = `${file}${ATOMIC_TEMP_MARKER}${randomBytes(8).toString('hex')}`
  try {
    const handle = await open(temp, 'wx', mode)
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, file)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  await fsyncDir(path.dirname(file))
}

export async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
