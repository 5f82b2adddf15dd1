import { execFile } from 'node:child_process'
import { mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import {
  MIN_CHUNK_SIZE_BYTES,
  chunkStream,
  openChunkStore,
  packDirectory,
  readArtifact,
  unpackArchive
} from '../../../src/content/index.ts'
import type { ArtifactLayout } from '../../../src/content/index.ts'
import { collect, concat, describeTree, fromBytes, tarOf, tempDirs } from './helpers.ts'
import type { TestEntry } from './helpers.ts'

const run = promisify(execFile)
const dirs = tempDirs()
afterEach(dirs.cleanup)

const LONG = `${'nested-directory-with-a-long-name/'.repeat(3)}file-whose-full-path-is-over-one-hundred-bytes.txt`

/** A tree with everything the packer supports. */
async function buildTree (root: string): Promise<void> {
  const p = (rel: string): string => path.join(root, rel)
  await mkdir(p('app/lib/deep'), { recursive: true })
  await mkdir(p('app/empty-dir'), { recursive: true })
  await mkdir(p(path.dirname(LONG)), { recursive: true })
  await writeFile(p('app/run.sh'), '#!/bin/sh\necho ok\n', { mode: 0o755 })
  await writeFile(p('app/lib/deep/data.bin'), new Uint8Array(200_000).map((_, i) => i % 251))
  await writeFile(p('app/empty'), '')
  await writeFile(p(LONG), 'long path')
  await writeFile(p('app/caf\u00e9.txt'), 'utf-8')
  await symlink('lib/deep/data.bin', p('app/data'))
  await symlink('../app', p('app/lib/up'))
}

/**
 * A fresh `base` with the destination at base/dest, so a test can check that
 * nothing appeared anywhere in base except under dest.
 */
async function sandbox (): Promise<{ base: string, dest: string }> {
  const base = await dirs.make('unpack')
  return { base, dest: path.join(base, 'dest') }
}

async function unpackEntries (entries: TestEntry[], dest: string, options = {}): Promise<unknown> {
  return await unpackArchive(fromBytes(await tarOf(entries), 1000), dest, options).catch((e: unknown) => e)
}

describe('unpackArchive round trip', () => {
  it('recreates a packed tree: nested dirs, executable, empty file, long path, relative symlinks', async () => {
    const src = await dirs.make()
    await buildTree(src)
    const { dest } = await sandbox()
    const summary = await unpackArchive(packDirectory(src), dest)
    expect(await describeTree(dest)).toEqual(await describeTree(src))
    expect(summary).toMatchObject({ entries: 14, symlinks: 2, files: 5, directories: 7 })
    expect((await stat(path.join(dest, 'app/run.sh'))).mode & 0o777).toBe(0o755)
    expect((await stat(path.join(dest, 'app/empty'))).mode & 0o777).toBe(0o644)
    expect(await readFile(path.join(dest, LONG), 'utf8')).toBe('long path')
    expect(await readlink(path.join(dest, 'app/data'))).toBe('lib/deep/data.bin')
    expect(await readFile(path.join(dest, 'app/data'))).toEqual(await readFile(path.join(src, 'app/lib/deep/data.bin')))
  })

  it('round-trips through chunks in a store, the way a follower installs', async () => {
    const src = await dirs.make()
    await buildTree(src)
    const store = await openChunkStore(await dirs.make())
    const chunks: Uint8Array[] = []
    let size = 0
    for await (const chunk of chunkStream(packDirectory(src), MIN_CHUNK_SIZE_BYTES)) {
      chunks.push(await store.add(chunk))
      size += chunk.byteLength
    }
    const layout: ArtifactLayout = { size, chunkSize: MIN_CHUNK_SIZE_BYTES, chunks }
    const { dest } = await sandbox()
    await unpackArchive(readArtifact(store, layout), dest)
    expect(await describeTree(dest)).toEqual(await describeTree(src))
  })

  it('extracts archives written by system tar, "./" prefixes included', async () => {
    const src = await dirs.make()
    await buildTree(src)
    const file = path.join(await dirs.make(), 'sys.tar')
    await run('tar', ['-cf', file, '-C', src, '.'])
    const { dest } = await sandbox()
    await unpackArchive(fromBytes(await readFile(file)), dest)
    expect(await describeTree(dest)).toEqual(await describeTree(src))
  })

  it('creates a missing destination and refuses a non-empty one', async () => {
    const { base, dest } = await sandbox()
    const archive = await tarOf([{ name: 'a', body: 'x' }])
    await unpackArchive(fromBytes(archive), path.join(dest, 'deeper'))
    expect(await readFile(path.join(dest, 'deeper', 'a'), 'utf8')).toBe('x')
    const err = await unpackArchive(fromBytes(archive), dest).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'DestinationNotEmptyError' })
    expect(await readdir(base)).toEqual(['dest'])
  })
})

describe('unpackArchive refuses unsafe archives', () => {
  const cases: Array<[string, (base: string) => TestEntry[], string, string]> = [
    ['a parent path', () => [{ name: '../x', body: 'evil' }], 'parent-component', '../x'],
    ['an absolute path', () => [{ name: '/etc/x', body: 'evil' }], 'absolute-path', '/etc/x'],
    ['an absolute path into the test sandbox', (base) => [{ name: `${base}/x`, body: 'evil' }], 'absolute-path', 'x'],
    ['a path that climbs out midway', () => [{ name: 'a/', type: 'directory' }, { name: 'a/../../x', body: 'evil' }], 'parent-component', 'a/../../x'],
    ['an absolute symlink followed by a write through it',
      () => [{ name: 'link', type: 'symlink', linkname: '/etc' }, { name: 'link/passwd', body: 'evil' }], 'symlink-absolute', 'link'],
    ['a write through an in-tree symlink',
      () => [{ name: 'sub/', type: 'directory' }, { name: 'link', type: 'symlink', linkname: 'sub' }, { name: 'link/x', body: 'x' }], 'through-symlink', 'link/x'],
    ['a symlink that climbs out', () => [{ name: 'up', type: 'symlink', linkname: '../..' }], 'symlink-escapes', 'up'],
    ['a nested symlink that climbs out', () => [{ name: 'a/b/up', type: 'symlink', linkname: '../../../x' }], 'symlink-escapes', 'a/b/up'],
    ['a chain of symlinks that climbs out only when followed',
      () => [
        { name: 't', type: 'symlink', linkname: 'a/b/s/..' },
        { name: 'a/b/s', type: 'symlink', linkname: '../..' }
      ], 'symlink-escapes', 't'],
    ['a symlink loop', () => [{ name: 'x', type: 'symlink', linkname: 'y/z' }, { name: 'y', type: 'symlink', linkname: 'x' }], 'symlink-loop', 'x'],
    ['a hard link', () => [{ name: 'a', body: 'x' }, { name: 'b', type: 'link', linkname: 'a' }], 'hard-link', 'b'],
    ['a hard link to a system file', () => [{ name: 'shadow', type: 'link', linkname: '/etc/shadow' }], 'hard-link', 'shadow'],
    ['a fifo', () => [{ name: 'pipe', type: 'fifo' }], 'unsupported-type', 'pipe'],
    ['a character device', () => [{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }], 'unsupported-type', 'null'],
    ['a duplicate file', () => [{ name: 'a', body: 'x' }, { name: 'a', body: 'y' }], 'duplicate-entry', 'a'],
    ['a file replaced by a symlink', () => [{ name: 'a', body: 'x' }, { name: 'a', type: 'symlink', linkname: 'b' }], 'duplicate-entry', 'a'],
    ['a directory replaced by a symlink', () => [{ name: 'd/f', body: 'x' }, { name: 'd', type: 'symlink', linkname: '.' }], 'duplicate-entry', 'd'],
    ['a file named only "."', () => [{ name: '.', body: 'x' }], 'empty-name', '.'],
    ['a symlink with an empty target', () => [{ name: 'l', type: 'symlink', linkname: '' }], 'malformed', 'l'],
    ['a NUL in a name', () => [{ name: '\u00e9\0x', body: 'x' }], 'nul-in-name', '\u00e9\0x']
  ]

  for (const [what, entries, reason, entry] of cases) {
    it(`refuses ${what} (${reason})`, async () => {
      const { base, dest } = await sandbox()
      const err = await unpackEntries(entries(base), dest)
      expect(err).toMatchObject({ name: 'UnsafeArchiveError', reason })
      if (entry !== 'x') expect((err as { entry: string }).entry).toBe(entry)
      expect((err as Error).message).toContain(JSON.stringify(entry).slice(1, -1))
      // Nothing escaped: base holds only dest, and dest holds no symlink.
      expect(await readdir(base)).toEqual(['dest'])
      const inside = await readdir(dest, { recursive: true, withFileTypes: true })
      expect(inside.filter((e) => e.isSymbolicLink())).toEqual([])
    })
  }

  it('enforces the entry limit', async () => {
    const { dest } = await sandbox()
    const entries = Array.from({ length: 4 }, (_, i) => ({ name: `f${i}`, body: 'x' }))
    expect(await unpackEntries(entries, dest, { maxEntries: 3 })).toMatchObject({ reason: 'too-many-entries', entry: 'f3' })
  })

  it('enforces the total size limit before writing the entry that passes it', async () => {
    const { dest } = await sandbox()
    const entries = [{ name: 'a', body: 'x'.repeat(600) }, { name: 'b', body: 'x'.repeat(600) }]
    expect(await unpackEntries(entries, dest, { maxFileBytes: 1000 })).toMatchObject({ reason: 'too-large', entry: 'b' })
    expect(await readdir(dest)).toEqual(['a'])
  })

  it('refuses a truncated or garbled archive as malformed', async () => {
    const archive = await tarOf([{ name: 'a', body: 'x'.repeat(2000) }])
    const { dest } = await sandbox()
    expect(await unpackArchive(fromBytes(archive.subarray(0, 1000)), dest).catch((e: unknown) => e))
      .toMatchObject({ name: 'UnsafeArchiveError', reason: 'malformed' })
    const garbled = new Uint8Array(archive)
    garbled[10] = 0x41 // breaks the header checksum
    const other = await sandbox()
    expect(await unpackArchive(fromBytes(garbled), other.dest).catch((e: unknown) => e))
      .toMatchObject({ name: 'UnsafeArchiveError', reason: 'malformed' })
  })

  it('passes through the error of a failing source', async () => {
    const archive = await tarOf([{ name: 'a', body: 'x'.repeat(5000) }])
    async function * failing (): AsyncGenerator<Uint8Array> {
      yield archive.subarray(0, 1024)
      throw new Error('chunk 3 is corrupt')
    }
    const { dest } = await sandbox()
    await expect(unpackArchive(failing(), dest)).rejects.toThrow('chunk 3 is corrupt')
  })

  it('accepts symlinks that stay inside, including chains and dangling ones', async () => {
    const { dest } = await sandbox()
    const summary = await unpackArchive(fromBytes(await tarOf([
      { name: 'a/b/', type: 'directory' },
      { name: 'a/b/s', type: 'symlink', linkname: '../..' },
      { name: 't', type: 'symlink', linkname: 'a/b/s/a' },
      { name: 'dangling', type: 'symlink', linkname: 'not/yet/there' },
      { name: 'a/b/f', body: 'x' }
    ])), dest)
    expect(summary).toMatchObject({ symlinks: 3, files: 1 })
    expect(await readFile(path.join(dest, 't/b/f'), 'utf8')).toBe('x')
  })

  it('refuses an archive whose entries are all fine but one, without touching anything outside', async () => {
    const src = await dirs.make()
    await buildTree(src)
    const good = concat(await collect(packDirectory(src)))
    const evil = await tarOf([{ name: '../escaped', body: 'evil' }])
    // Good archive minus its end marker, then the evil one.
    const both = concat([good.subarray(0, good.byteLength - 1024), evil])
    const { base, dest } = await sandbox()
    await expect(unpackArchive(fromBytes(both), dest)).rejects.toMatchObject({ reason: 'parent-component' })
    expect(await readdir(base)).toEqual(['dest'])
  })
})
