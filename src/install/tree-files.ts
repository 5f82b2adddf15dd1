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

/** fsyncs in flight at once while a tree is synced: a few descriptors, and enough to keep the disk's queue busy. */
export const TREE_SYNC_CONCURRENCY = 16

/** Every entry below `root` (not root itself), in a stable order; symlinks are not followed. */
async function * walk (root: string, rel = ''): AsyncGenerator<TreeEntry> {
  const names = (await readdir(path.join(root, rel))).sort()
  // A folder's entries are looked at together: on a busy event loop every
  // await waits its turn, and one at a time made a tree's walk that many turns.
  const entries = await Promise.all(names.map(async (name) => {
    const childRel = rel === '' ? name : `${rel}/${name}`
    const abs = path.join(root, childRel)
    return { rel: childRel, abs, stats: await lstat(abs) }
  }))
  for (const entry of entries) {
    yield entry
    if (entry.stats.isDirectory()) yield * walk(root, entry.rel)
  }
}

/** Runs `task` on every item, at most `limit` at a time; rejects with the first failure once the running tasks end. */
export async function forEachBounded<T> (items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      await task(item)
    }
  }
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker))
  const failed = results.find(result => result.status === 'rejected')
  if (failed !== undefined) throw failed.reason
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
  const targets: string[] = []
  for await (const { abs, stats } of walk(root)) {
    if (stats.isFile() || stats.isDirectory()) targets.push(abs)
  }
  // Several at once (each is open, fsync, close): one after another, a
  // representative's install took 27 s of fsyncs at 200 machines in one
  // process, where each await waited about a second for its turn.
  await forEachBounded(targets, TREE_SYNC_CONCURRENCY, fsyncPath)
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
