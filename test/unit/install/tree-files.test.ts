import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { forEachBounded, syncTree, treeDigest } from '../../../src/install/tree-files.ts'

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async dir => { await rm(dir, { recursive: true, force: true }) })) })

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirage-tree-files-'))
  dirs.push(dir)
  return dir
}

describe('forEachBounded', () => {
  it('runs every item once, never more than the limit at a time', async () => {
    const seen: number[] = []
    let running = 0
    let most = 0
    await forEachBounded(Array.from({ length: 25 }, (_, i) => i), 4, async (item) => {
      running++
      most = Math.max(most, running)
      await new Promise(resolve => setImmediate(resolve))
      seen.push(item)
      running--
    })
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i))
    expect(most).toBe(4)
  })

  it('does nothing for no items', async () => {
    let calls = 0
    await forEachBounded([], 4, async () => { calls++ })
    expect(calls).toBe(0)
  })

  it('rejects with the first failure, after the tasks already running have ended', async () => {
    const finished: number[] = []
    const run = forEachBounded([0, 1, 2, 3], 2, async (item) => {
      await new Promise(resolve => setImmediate(resolve))
      if (item === 1) throw new Error(`item ${item} failed`)
      finished.push(item)
    })
    await expect(run).rejects.toThrow('item 1 failed')
    // The worker that failed stops; the other went on to the end of the list before the rejection.
    expect(finished).toEqual([0, 2, 3])
  })
})

describe('syncTree and treeDigest', () => {
  it('sync every entry of a nested tree, and the digest does not depend on the order files were written', async () => {
    const a = await tempDir()
    const b = await tempDir()
    const files = ['bin/tool', 'share/x/1.txt', 'share/x/2.txt', 'share/y.txt', 'README']
    for (const [root, order] of [[a, files], [b, [...files].reverse()]] as const) {
      for (const rel of order) {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true })
        await writeFile(path.join(root, rel), `content of ${rel}`)
      }
      await symlink('bin/tool', path.join(root, 'tool-link'))
      await syncTree(root)
    }
    expect(await treeDigest(a)).toBe(await treeDigest(b))
    await writeFile(path.join(b, 'share/x/2.txt'), 'changed')
    expect(await treeDigest(a)).not.toBe(await treeDigest(b))
  })
})
