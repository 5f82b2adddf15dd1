import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import path from 'node:path'

/**
 * Marks a temp file: `<name><ATOMIC_TEMP_MARKER><random>`. Whoever owns a
 * folder may delete such leftovers of a crash on start-up.
 */
export const ATOMIC_TEMP_MARKER = '.tmp-'

export interface AtomicWriteOptions {
  /** File mode of a new file (default 0o644). */
  mode?: number
  /**
   * Wait for the disk (fsync of the file and of its folder) before
   * resolving: default true. Without it a process crash still leaves the
   * old file or the new one (the rename is atomic in the kernel), but a
   * machine crash may leave the new name holding fewer bytes, so only
   * content checked on every read (a chunk, named by its hash) may skip it.
   */
  durable?: boolean
}

/**
 * Writes a file so that a crash leaves either the old file or the new one,
 * never a torn mix: a temp file in the same folder (so the rename is atomic),
 * fsync, rename, then fsync of the folder so the new name itself is durable.
 * The random suffix lets concurrent writers of one name proceed safely.
 */
export async function writeFileAtomically (file: string, bytes: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const { mode = 0o644, durable = true } = options
  const temp = `${file}${ATOMIC_TEMP_MARKER}${randomBytes(8).toString('hex')}`
  try {
    const handle = await open(temp, 'wx', mode)
    try {
      await handle.writeFile(bytes)
      if (durable) await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, file)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  if (durable) await fsyncDir(path.dirname(file))
}

export async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
