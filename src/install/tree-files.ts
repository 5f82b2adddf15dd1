/**
 * Whole-tree file operations the installer needs: a content digest to tell
 * whether two trees are the same version, and fsync of every file and
 * folder before a tree is moved into place.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { Stats } from 'node:fs'
import { lstat, open, readdir, readlink } from 'node:fs/promises'
import path from 'node:path'

interface TreeEntry { rel: string, abs: string, stats: Stats }

/** Every entry below `root` (not root itself), in a stable order; symlinks are not followed. */
async function * walk (root: string, rel = ''): AsyncGenerator<TreeEntry> {
  const names = (await readdir(path.join(root, rel))).sort()
  for (const name of names) {
    const childRel = rel === '' ? name : `${rel}/${name}`
    const abs = path.join(root, childRel)
    const stats = await lstat(abs)
    yield { rel: childRel, abs, stats }
    if (stats.isDirectory()) yield * walk(root, childRel)
  }
}

/**
 * Hex SHA-256 over a tree: every path, its kind, permission bits, and its
 * content (files) or target (symlinks). Two trees with the same digest hold
 * the same version, byte for byte.
 */
export async function treeDigest (root: string): Promise<string> {
  const tree = createHash('sha256')
  for await (const { rel, abs, stats } of walk(root)) {
    const mode = (stats.mode & 0o777).toString(8)
    let kind: string
    let body = ''
    if (stats.isDirectory()) kind = 'dir'
    else if (stats.isSymbolicLink()) {
      kind = 'symlink'
      body = await readlink(abs)
    } else if (stats.isFile()) {
      kind = 'file'
      const file = createHash('sha256')
      for await (const chunk of createReadStream(abs)) file.update(chunk as Buffer)
      body = file.digest('hex')
    } else kind = 'other'
    // JSON quoting keeps entries unambiguous whatever the names hold.
    tree.update(`${JSON.stringify([kind, rel, mode, body])}\n`)
  }
  return tree.digest('hex')
}

/**
 * fsyncs every file and folder of a tree, root included, so that once it is
 * renamed into versions/ and `current` points at it, a power cut cannot
 * leave `current` naming a tree whose files were never written to disk.
 */
export async function syncTree (root: string): Promise<void> {
  for await (const { abs, stats } of walk(root)) {
    if (stats.isFile() || stats.isDirectory()) await fsyncPath(abs)
  }
  await fsyncPath(root)
}

/** fsync of a file or folder (Linux allows fsync on a read-only handle of either). */
export async function fsyncPath (target: string): Promise<void> {
  const handle = await open(target, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
