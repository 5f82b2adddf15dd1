import { mkdir, readFile, readdir, readlink, rename, stat, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_HISTORY_ENTRIES, MAX_VERSION_NAME_LENGTH, openInstaller } from '../../../src/install/index.ts'
import { appRelease, describeTree, escapingArchive, tempDirs, writeAppTree } from './helpers.ts'

const dirs = tempDirs()
afterEach(dirs.cleanup)

/** A fresh install dir D, below a base folder so a test can check nothing appears beside D. */
async function installDir (): Promise<{ base: string, dir: string }> {
  const base = await dirs.make()
  return { base, dir: path.join(base, 'app') }
}

describe('install', () => {
  it('stages and installs: current resolves to an identical tree', async () => {
    const { base, dir } = await installDir()
    const v1 = await appRelease(dirs, '1.0.0')
    const installer = await openInstaller(dir)
    const staged = await installer.stage(v1.archive())
    expect(path.dirname(staged)).toBe(path.join(installer.dir, 'staging'))

    expect(await installer.install(staged, '1.0.0-abc')).toEqual({ current: '1.0.0-abc' })
    expect(await readlink(path.join(dir, 'current'))).toBe('versions/1.0.0-abc')
    expect(await describeTree(path.join(dir, 'current/'))).toEqual(await describeTree(v1.tree))
    expect(await installer.current()).toBe('1.0.0-abc')
    expect(await installer.versions()).toEqual(['1.0.0-abc'])
    // The staging folder was moved, not copied; nothing was made beside D.
    expect(await readdir(path.join(dir, 'staging'))).toEqual([])
    expect(await readdir(base)).toEqual(['app'])
    expect((await readdir(dir)).sort()).toEqual(['current', 'install-state.json', 'staging', 'versions'])
  })

  it('keeps the previous version on a second install, and records both', async () => {
    const { dir } = await installDir()
    const v1 = await appRelease(dirs, '1.0.0')
    const v2 = await appRelease(dirs, '2.0.0')
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage(v1.archive()), 'v1')
    expect(await installer.install(await installer.stage(v2.archive()), 'v2')).toEqual({ current: 'v2', previous: 'v1' })
    expect(await readFile(path.join(dir, 'current/VERSION'), 'utf8')).toBe('2.0.0\n')
    expect(await describeTree(path.join(dir, 'versions/v1'))).toEqual(await describeTree(v1.tree))
    expect(await installer.versions()).toEqual(['v1', 'v2'])
    const onDisk = JSON.parse(await readFile(path.join(dir, 'install-state.json'), 'utf8'))
    expect(onDisk).toMatchObject({ current: 'v2', previous: 'v1', history: [{ name: 'v1', action: 'install' }, { name: 'v2', action: 'install' }] })
  })

  it('treats installing an existing name with identical content as a switch', async () => {
    const { dir } = await installDir()
    const v1 = await appRelease(dirs, '1.0.0')
    const v2 = await appRelease(dirs, '2.0.0')
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage(v1.archive()), 'v1')
    await installer.install(await installer.stage(v2.archive()), 'v2')
    const again = await installer.stage(v1.archive())
    expect(await installer.install(again, 'v1')).toEqual({ current: 'v1', previous: 'v2' })
    await expect(stat(again)).rejects.toMatchObject({ code: 'ENOENT' })
    // Already current: nothing to switch, nothing recorded.
    expect(await installer.install(await installer.stage(v1.archive()), 'v1')).toEqual({ current: 'v1', previous: 'v2' })
    expect((await installer.state()).history.map((entry) => entry.name)).toEqual(['v1', 'v2', 'v1'])
  })

  it('refuses a different tree under an existing name, leaving everything as it was', async () => {
    const { dir } = await installDir()
    const v1 = await appRelease(dirs, '1.0.0')
    const other = await appRelease(dirs, '1.0.0-rebuilt')
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage(v1.archive()), 'v1')
    const staged = await installer.stage(other.archive())
    await expect(installer.install(staged, 'v1')).rejects.toMatchObject({ name: 'VersionConflictError', version: 'v1' })
    expect(await describeTree(path.join(dir, 'current/'))).toEqual(await describeTree(v1.tree))
    expect(await describeTree(staged)).toEqual(await describeTree(other.tree))
    await installer.discard(staged)
    expect(await readdir(path.join(dir, 'staging'))).toEqual([])
  })

  it('refuses invalid version names before touching anything', async () => {
    const { dir } = await installDir()
    const v1 = await appRelease(dirs, '1.0.0')
    const installer = await openInstaller(dir)
    const staged = await installer.stage(v1.archive())
    const bad = ['', '.', '..', '../x', 'a/b', '/abs', 'a..b', '.hidden', 'a b', 'caf\u00e9', 'x\0y', 'v'.repeat(MAX_VERSION_NAME_LENGTH + 1)]
    for (const name of bad) {
      await expect(installer.install(staged, name), JSON.stringify(name)).rejects.toMatchObject({ name: 'VersionNameInvalidError' })
    }
    expect(await readdir(path.join(dir, 'versions'))).toEqual([])
    expect(await installer.current()).toBeUndefined()
    expect(await installer.install(staged, `1.4.2-bafyrei_x-${'v'.repeat(100)}`)).toMatchObject({ current: expect.stringMatching(/^1\.4\.2/) })
  })
})

describe('rollback', () => {
  it('switches back to the previous version, and forth again', async () => {
    const { dir } = await installDir()
    const v1 = await appRelease(dirs, '1.0.0')
    const v2 = await appRelease(dirs, '2.0.0')
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage(v1.archive()), 'v1')
    await installer.install(await installer.stage(v2.archive()), 'v2')

    expect(await installer.rollback()).toEqual({ current: 'v1', previous: 'v2' })
    expect(await describeTree(path.join(dir, 'current/'))).toEqual(await describeTree(v1.tree))
    expect(await installer.rollback()).toEqual({ current: 'v2', previous: 'v1' })
    const state = await installer.state()
    expect(state.history.map((entry) => `${entry.action} ${entry.name}`)).toEqual(['install v1', 'install v2', 'rollback v1', 'rollback v2'])
  })

  it('refuses when there is nothing to go back to', async () => {
    const { dir } = await installDir()
    const installer = await openInstaller(dir)
    await expect(installer.rollback()).rejects.toMatchObject({ name: 'NoPreviousVersionError' })
    await installer.install(await installer.stage((await appRelease(dirs, '1.0.0')).archive()), 'v1')
    await expect(installer.rollback()).rejects.toMatchObject({ name: 'NoPreviousVersionError' })
    expect(await installer.current()).toBe('v1')
  })

  it('survives a reopen', async () => {
    const { dir } = await installDir()
    const first = await openInstaller(dir)
    await first.install(await first.stage((await appRelease(dirs, '1.0.0')).archive()), 'v1')
    await first.install(await first.stage((await appRelease(dirs, '2.0.0')).archive()), 'v2')
    const reopened = await openInstaller(dir)
    expect(await reopened.current()).toBe('v2')
    expect(await reopened.rollback()).toEqual({ current: 'v1', previous: 'v2' })
  })
})

describe('the switch is atomic', () => {
  it('never lets a reader see current missing or anything but the old or new version', async () => {
    const { dir } = await installDir()
    const v1 = await appRelease(dirs, '1.0.0')
    const v2 = await appRelease(dirs, '2.0.0')
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage(v1.archive()), 'v1')
    await installer.install(await installer.stage(v2.archive()), 'v2')

    const current = path.join(dir, 'current')
    const seen = new Set<string>()
    const failures: unknown[] = []
    let switching = true
    let reads = 0
    // Several readers keep the thread pool busy with readlink and reads
    // through the link while switches rename over it from another thread.
    const reader = async (): Promise<void> => {
      while (switching && reads < 1_000_000) {
        reads++
        try {
          const target = await readlink(current)
          const version = await readFile(path.join(current, 'VERSION'), 'utf8')
          seen.add(target)
          seen.add(version.trim())
        } catch (err) {
          failures.push(err)
        }
      }
    }
    const readers = [reader(), reader(), reader()]
    try {
      for (let i = 0; i < 30; i++) await installer.rollback()
      // Alternating installs of the same two versions: each is a real
      // stage and install (identical content, so only the switch remains).
      for (let i = 0; i < 10; i++) {
        const [source, name] = i % 2 === 0 ? [v1, 'v1'] : [v2, 'v2']
        await installer.install(await installer.stage(source.archive()), name)
      }
    } finally {
      switching = false
      await Promise.all(readers)
    }
    expect(failures).toEqual([])
    expect(reads).toBeGreaterThan(40)
    expect([...seen].sort()).toEqual(['1.0.0', '2.0.0', 'versions/v1', 'versions/v2'])
  })

  it('serialises concurrent installs', async () => {
    const { dir } = await installDir()
    const installer = await openInstaller(dir)
    const a = await installer.stage((await appRelease(dirs, '1.0.0')).archive())
    const b = await installer.stage((await appRelease(dirs, '2.0.0')).archive())
    const [first, second] = await Promise.all([installer.install(a, 'v1'), installer.install(b, 'v2')])
    expect(first).toEqual({ current: 'v1' })
    expect(second).toEqual({ current: 'v2', previous: 'v1' })
    expect(await installer.state()).toMatchObject({ current: 'v2', previous: 'v1' })
  })
})

describe('staging', () => {
  it('leaves the live tree byte-identical across a stage and discard of another version', async () => {
    const { dir } = await installDir()
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage((await appRelease(dirs, '1.0.0')).archive()), 'v1')
    const before = await describeTree(path.join(dir, 'current/'))
    const beforeDir = await describeTree(dir)

    const staged = await installer.stage((await appRelease(dirs, '2.0.0')).archive())
    expect(await readFile(path.join(staged, 'VERSION'), 'utf8')).toBe('2.0.0\n')
    await installer.discard(staged)

    expect(await describeTree(path.join(dir, 'current/'))).toEqual(before)
    expect(await describeTree(dir)).toEqual(beforeDir)
  })

  it('removes what a refused archive left, and passes the refusal on', async () => {
    const { base, dir } = await installDir()
    const installer = await openInstaller(dir)
    await expect(installer.stage(escapingArchive())).rejects.toMatchObject({ name: 'UnsafeArchiveError' })
    expect(await readdir(path.join(dir, 'staging'))).toEqual([])
    expect(await readdir(base)).toEqual(['app'])
  })

  it('discards and installs only its own staging folders', async () => {
    const { base, dir } = await installDir()
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage((await appRelease(dirs, '1.0.0')).archive()), 'v1')
    const outside = path.join(base, 'precious')
    await mkdir(outside)
    const staging = path.join(installer.dir, 'staging')
    const refused = [
      outside,
      path.join(installer.dir, 'versions', 'v1'),
      path.join(staging, '..', 'versions', 'v1'),
      staging,
      path.join(staging, 'not-a-staging-name'),
      path.join(staging, '0123456789abcdef', 'nested')
    ]
    for (const target of refused) {
      await expect(installer.discard(target), target).rejects.toMatchObject({ name: 'StagingPathError' })
      await expect(installer.install(target, 'v9'), target).rejects.toMatchObject({ name: 'StagingPathError' })
    }
    // Well-named but not there: discard is a no-op, install refuses.
    await installer.discard(path.join(staging, '0123456789abcdef'))
    await expect(installer.install(path.join(staging, '0123456789abcdef'), 'v9')).rejects.toMatchObject({ name: 'StagingPathError' })
    expect((await stat(outside)).isDirectory()).toBe(true)
    expect(await installer.versions()).toEqual(['v1'])
  })
})

describe('openInstaller recovery', () => {
  it('removes leftover staging folders and temp files of a crash', async () => {
    const { dir } = await installDir()
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage((await appRelease(dirs, '1.0.0')).archive()), 'v1')
    const halfStaged = await installer.stage((await appRelease(dirs, '2.0.0')).archive())
    await writeFile(path.join(dir, 'staging', 'stray-file'), 'x')
    await symlink('versions/v2', path.join(dir, 'current.tmp-0123456789abcdef'))
    await writeFile(path.join(dir, 'install-state.json.tmp-0123456789abcdef'), '{')
    await writeFile(path.join(dir, 'user-notes.txt'), 'not ours')

    const reopened = await openInstaller(dir)
    await expect(stat(halfStaged)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readdir(path.join(dir, 'staging'))).toEqual([])
    expect((await readdir(dir)).sort()).toEqual(['current', 'install-state.json', 'staging', 'user-notes.txt', 'versions'])
    expect(await reopened.current()).toBe('v1')
  })

  it('completes a switch interrupted before the state file was written', async () => {
    const { dir } = await installDir()
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage((await appRelease(dirs, '1.0.0')).archive()), 'v1')
    await installer.install(await installer.stage((await appRelease(dirs, '2.0.0')).archive()), 'v2')
    // A third version moved into place and linked, then a crash: the state
    // file still says current v2, previous v1.
    await writeAppTree(path.join(dir, 'versions', 'v3'), '3.0.0')
    await symlink('versions/v3', path.join(dir, 'current.next'))
    await rename(path.join(dir, 'current.next'), path.join(dir, 'current'))

    const reopened = await openInstaller(dir)
    expect(await reopened.state()).toMatchObject({ current: 'v3', previous: 'v2' })
    expect(await reopened.rollback()).toEqual({ current: 'v2', previous: 'v3' })
  })

  it('rebuilds an unreadable state file from the current link', async () => {
    const { dir } = await installDir()
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage((await appRelease(dirs, '1.0.0')).archive()), 'v1')
    await writeFile(path.join(dir, 'install-state.json'), '{"current": "../../etc"')
    const reopened = await openInstaller(dir)
    expect(await reopened.state()).toEqual({ current: 'v1', history: [] })
    expect(JSON.parse(await readFile(path.join(dir, 'install-state.json'), 'utf8'))).toEqual({ current: 'v1', previous: null, history: [] })
  })

  it('refuses a current that is not its link', async () => {
    const { dir } = await installDir()
    await mkdir(path.join(dir, 'current'), { recursive: true })
    await expect(openInstaller(dir)).rejects.toMatchObject({ name: 'CurrentLinkInvalidError' })
    const other = await installDir()
    await mkdir(other.dir, { recursive: true })
    await symlink('/etc', path.join(other.dir, 'current'))
    await expect(openInstaller(other.dir)).rejects.toMatchObject({ name: 'CurrentLinkInvalidError' })
  })

  it('bounds the history', async () => {
    const { dir } = await installDir()
    const installer = await openInstaller(dir)
    await installer.install(await installer.stage((await appRelease(dirs, '1.0.0')).archive()), 'v1')
    await installer.install(await installer.stage((await appRelease(dirs, '2.0.0')).archive()), 'v2')
    for (let i = 0; i < MAX_HISTORY_ENTRIES; i++) await installer.rollback()
    const { history } = await installer.state()
    expect(history).toHaveLength(MAX_HISTORY_ENTRIES)
    expect(history.every((entry) => entry.action === 'rollback')).toBe(true)
  })
})
