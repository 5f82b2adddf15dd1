import { execFile } from 'node:child_process'
import { chmod, mkdir, symlink, truncate, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { digestToHex, packDirectory, sha256 } from '../../../src/content/index.ts'
import type { PackProgress } from '../../../src/content/index.ts'
import { collect, concat, describeTree, tempDirs } from './helpers.ts'

const run = promisify(execFile)
const dirs = tempDirs()
afterEach(dirs.cleanup)

const LONG_DIR = 'a-directory-name-that-is-quite-long-on-purpose-0123456789'
const LONG_FILE = 'and-a-file-name-that-pushes-the-whole-path-past-one-hundred-bytes.txt'

type Step = () => Promise<void>

/**
 * Builds the same tree under `root`, running its steps in the given order
 * and then stamping every path with `mtime` and permission bits that differ
 * the way a different umask or owner would make them differ.
 */
async function buildTree (root: string, options: { reverse: boolean, mtime: number, loose: boolean }): Promise<void> {
  const p = (rel: string): string => path.join(root, rel)
  const steps: Step[] = [
    async () => { await mkdir(p('bin'), { recursive: true }); await writeFile(p('bin/run'), '#!/bin/sh\necho hi\n') },
    async () => { await mkdir(p('lib/deep/er'), { recursive: true }); await writeFile(p('lib/deep/er/data.bin'), new Uint8Array(3000).fill(7)) },
    async () => { await writeFile(p('README'), 'hello\n') },
    async () => { await writeFile(p('empty'), '') },
    async () => { await mkdir(p('a-b'), { recursive: true }); await writeFile(p('a-b/x'), 'dash') },
    async () => { await mkdir(p('a'), { recursive: true }); await writeFile(p('a/x'), 'slash') },
    async () => { await mkdir(p('empty-dir'), { recursive: true }) },
    async () => { await mkdir(p(LONG_DIR), { recursive: true }); await writeFile(p(`${LONG_DIR}/${LONG_FILE}`), 'long') },
    async () => { await writeFile(p('caf\u00e9'), 'utf-8 name') },
    async () => { await mkdir(p('lib'), { recursive: true }); await symlink('deep/er/data.bin', p('lib/current')) }
  ]
  for (const step of options.reverse ? [...steps].reverse() : steps) await step()
  const files = ['bin/run', 'lib/deep/er/data.bin', 'README', 'empty', 'a-b/x', 'a/x', `${LONG_DIR}/${LONG_FILE}`, 'caf\u00e9']
  const dirsInTree = ['bin', 'lib', 'lib/deep', 'lib/deep/er', 'a-b', 'a', 'empty-dir', LONG_DIR]
  for (const file of files) await chmod(p(file), options.loose ? 0o666 : 0o600)
  await chmod(p('bin/run'), options.loose ? 0o775 : 0o700)
  for (const dir of dirsInTree) await chmod(p(dir), options.loose ? 0o777 : 0o700)
  for (const rel of [...files, ...dirsInTree]) await utimes(p(rel), options.mtime, options.mtime)
}

async function packToFile (root: string, file: string): Promise<Uint8Array> {
  const bytes = concat(await collect(packDirectory(root)))
  await writeFile(file, bytes)
  return bytes
}

describe('packDirectory', () => {
  it('packs the same tree to the same bytes whatever the creation order, times and permission bits', async () => {
    const one = await dirs.make()
    const two = await dirs.make()
    await buildTree(one, { reverse: false, mtime: 1_000_000, loose: false })
    await buildTree(two, { reverse: true, mtime: 1_700_000_000, loose: true })
    const a = concat(await collect(packDirectory(one)))
    const b = concat(await collect(packDirectory(two)))
    expect(a.byteLength % 512).toBe(0)
    expect(digestToHex(sha256(b))).toBe(digestToHex(sha256(a)))
  })

  it('pins the format: a fixed tree packs to fixed bytes', async () => {
    // If this changes (say, a tar-stream upgrade that encodes headers
    // differently), the same tree gets a new artifact root: a wire break.
    const root = await dirs.make()
    await buildTree(root, { reverse: false, mtime: 5, loose: false })
    expect(digestToHex(sha256(concat(await collect(packDirectory(root)))))).toBe(GOLDEN_ARCHIVE_SHA256)
  })

  it('gives different bytes when a file content, name, mode or link changes', async () => {
    const root = await dirs.make()
    await buildTree(root, { reverse: false, mtime: 5, loose: false })
    const digest = async (): Promise<string> => digestToHex(sha256(concat(await collect(packDirectory(root)))))
    const seen = new Set([await digest()])
    await writeFile(path.join(root, 'README'), 'hellO\n')
    seen.add(await digest())
    await chmod(path.join(root, 'README'), 0o700)
    seen.add(await digest())
    await writeFile(path.join(root, 'README2'), '')
    seen.add(await digest())
    await symlink('README', path.join(root, 'link'))
    seen.add(await digest())
    expect(seen.size).toBe(5)
  })

  it('writes a standard archive: system tar lists it in byte order with normalised metadata', async () => {
    const root = await dirs.make()
    await buildTree(root, { reverse: true, mtime: 1_700_000_000, loose: true })
    const file = path.join(await dirs.make(), 'tree.tar')
    await packToFile(root, file)
    const { stdout } = await run('tar', ['--numeric-owner', '--utc', '-tvf', file], { env: { ...process.env, LC_ALL: 'C.UTF-8' } })
    const lines = stdout.trim().split('\n')
    const names = lines.map((line) => line.split(/\s+/).slice(5).join(' '))
    expect(names).toEqual([
      'README',
      'a/',
      'a/x',
      'a-b/',
      'a-b/x',
      `${LONG_DIR}/`,
      `${LONG_DIR}/${LONG_FILE}`,
      'bin/',
      'bin/run',
      'caf\u00e9',
      'empty',
      'empty-dir/',
      'lib/',
      'lib/current -> deep/er/data.bin',
      'lib/deep/',
      'lib/deep/er/',
      'lib/deep/er/data.bin'
    ].sort((x, y) => Buffer.compare(Buffer.from(x.replace(/\/$| -> .*/, '')), Buffer.from(y.replace(/\/$| -> .*/, '')))))
    for (const line of lines) {
      const [mode, owner, , date, time] = line.split(/\s+/)
      expect(owner).toBe('0/0')
      expect(`${date} ${time}`).toBe('1970-01-01 00:00')
      expect(['-rw-r--r--', '-rwxr-xr-x', 'drwxr-xr-x', 'lrwxrwxrwx']).toContain(mode)
    }
    expect(lines.find((l) => l.endsWith(' bin/run'))).toMatch(/^-rwxr-xr-x/)
    expect(lines.find((l) => l.endsWith(' README'))).toMatch(/^-rw-r--r--/)
  })

  it('is readable by system tar: extracting it recreates the tree', async () => {
    const root = await dirs.make()
    await buildTree(root, { reverse: false, mtime: 5, loose: false })
    const file = path.join(await dirs.make(), 'tree.tar')
    await packToFile(root, file)
    const out = await dirs.make()
    await run('tar', ['-xf', file, '-C', out])
    const want = await describeTree(root)
    // Packing normalises modes; compare with what the archive promises.
    for (const [rel, what] of Object.entries(want)) {
      want[rel] = what.replace(/^dir 700/, 'dir 755').replace(/^file 700/, 'file 755').replace(/^file 600/, 'file 644')
    }
    expect(await describeTree(out)).toEqual(want)
  })

  it('orders entries by UTF-8 bytes, not UTF-16 code units', async () => {
    const root = await dirs.make()
    // U+E000 is EE 80 80 in UTF-8 but U+1F600 is F0 9F 98 80: UTF-8 puts
    // U+E000 first, while JS string order (surrogate D83D < E000) would not.
    await writeFile(path.join(root, '\u{1F600}'), 'b')
    await writeFile(path.join(root, '\uE000'), 'a')
    const file = path.join(await dirs.make(), 'order.tar')
    await packToFile(root, file)
    const { stdout } = await run('tar', ['-tf', file], { env: { ...process.env, LC_ALL: 'C.UTF-8' } })
    expect(stdout.trim().split('\n')).toEqual(['\uE000', '\u{1F600}'])
  })

  it('streams a large file in bounded reads and reports progress', async () => {
    const root = await dirs.make()
    const size = 5 * 1024 * 1024 + 17
    await writeFile(path.join(root, 'big'), new Uint8Array(size).fill(1))
    const events: PackProgress[] = []
    const chunks = await collect(packDirectory(root, { onProgress: (e) => events.push(e) }))
    expect(Math.max(...chunks.map((c) => c.byteLength))).toBeLessThanOrEqual(1024 * 1024)
    const archiveBytes = chunks.reduce((n, c) => n + c.byteLength, 0)
    expect(events[0]).toEqual({ type: 'scanned', entries: 1, fileBytes: size })
    expect(events.at(-1)).toEqual({ type: 'done', entries: 1, archiveBytes })
    const bytes = events.filter((e) => e.type === 'bytes')
    expect(bytes.length).toBe(6)
    expect(bytes.at(-1)).toEqual({ type: 'bytes', fileBytesDone: size, fileBytes: size })
  })

  it('refuses a fifo, naming its path', async () => {
    const root = await dirs.make()
    await mkdir(path.join(root, 'sub'))
    await run('mkfifo', [path.join(root, 'sub', 'pipe')])
    const err = await collect(packDirectory(root)).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'PackError', reason: 'unsupported-type', path: 'sub/pipe' })
    expect((err as Error).message).toContain('sub/pipe')
    expect((err as Error).message).toContain('fifo')
  })

  it('refuses a tree beyond the entry or size limits before producing anything', async () => {
    const root = await dirs.make()
    await mkdir(path.join(root, 'd'))
    for (const name of ['a', 'b', 'd/c']) await writeFile(path.join(root, name), '0123456789')
    await expect(collect(packDirectory(root, { maxEntries: 3 }))).rejects.toMatchObject({ name: 'PackError', reason: 'too-many-entries' })
    await expect(collect(packDirectory(root, { maxFileBytes: 29 }))).rejects.toMatchObject({ name: 'PackError', reason: 'too-large' })
    expect((await collect(packDirectory(root, { maxEntries: 4, maxFileBytes: 30 }))).length).toBeGreaterThan(0)
  })

  it('notices a small file that changes between the scan and its read', async () => {
    const root = await dirs.make()
    for (let i = 0; i < 200; i++) await writeFile(path.join(root, `f${String(i).padStart(3, '0')}`), 'small')
    const err = await (async () => {
      let first = true
      for await (const _ of packDirectory(root)) {
        if (first) await writeFile(path.join(root, 'f199'), 'grown bigger')
        first = false
      }
    })().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'PackError', reason: 'file-changed', path: 'f199' })
  })

  it('refuses a path that is not a directory', async () => {
    const root = await dirs.make()
    await writeFile(path.join(root, 'file'), 'x')
    await expect(collect(packDirectory(path.join(root, 'file')))).rejects.toMatchObject({ name: 'PackError', reason: 'not-a-directory' })
  })

  it('fails cleanly when a file shrinks while it is being packed', async () => {
    const root = await dirs.make()
    await writeFile(path.join(root, 'big'), new Uint8Array(8 * 1024 * 1024))
    const err = await (async () => {
      let first = true
      for await (const _ of packDirectory(root)) {
        if (first) await truncate(path.join(root, 'big'), 1024)
        first = false
      }
    })().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'PackError', reason: 'file-changed', path: 'big' })
  })

  it('can be stopped early without leaving work behind', async () => {
    const root = await dirs.make()
    await writeFile(path.join(root, 'big'), new Uint8Array(4 * 1024 * 1024))
    await writeFile(path.join(root, 'small'), 'x')
    for await (const buf of packDirectory(root)) {
      expect(buf.byteLength).toBeGreaterThan(0)
      break
    }
    await new Promise((resolve) => setImmediate(resolve))
  })
})

const GOLDEN_ARCHIVE_SHA256 = '283553c7b7fe34f1b24ed5b5decec211ba6712f2d50ab27e8df3e553f9d5bfbd'
