/** Helpers for the install tests: temp dirs, small app trees, their archives, and tree snapshots. */
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pack as tarPack } from 'tar-stream'
import { packDirectory } from '../../../src/content/index.ts'

/** Makes temp dirs and removes them all in `cleanup` (call it from afterEach). */
export function tempDirs (): { make: (label?: string) => Promise<string>, cleanup: () => Promise<void> } {
  const made: string[] = []
  return {
    make: async (label = 'install') => {
      const dir = await mkdtemp(path.join(tmpdir(), `mirage-${label}-`))
      made.push(dir)
      return dir
    },
    cleanup: async () => {
      await Promise.all(made.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
    }
  }
}

/**
 * Writes a small application tree for `version` into `dir`: a VERSION file,
 * an executable, a nested binary file, and a relative symlink.
 */
export async function writeAppTree (dir: string, version: string): Promise<void> {
  await mkdir(path.join(dir, 'bin'), { recursive: true })
  await mkdir(path.join(dir, 'lib/deep'), { recursive: true })
  await writeFile(path.join(dir, 'VERSION'), `${version}\n`)
  await writeFile(path.join(dir, 'bin/app'), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 })
  await writeFile(path.join(dir, 'lib/deep/data.bin'), new Uint8Array(10_000).map((_, i) => (i + version.length) % 251))
  await symlink('lib/deep/data.bin', path.join(dir, 'data'))
}

/** An app tree for `version` under a fresh temp dir, and a function giving its archive (once per call). */
export async function appRelease (dirs: ReturnType<typeof tempDirs>, version: string): Promise<{ tree: string, archive: () => AsyncIterable<Uint8Array> }> {
  const tree = await dirs.make('tree')
  await writeAppTree(tree, version)
  return { tree, archive: () => packDirectory(tree) }
}

/** A tar archive with one entry whose name climbs out of the destination. */
export async function * escapingArchive (): AsyncGenerator<Uint8Array> {
  const pack = tarPack()
  pack.entry({ name: 'ok.txt', mtime: new Date(0) }, 'fine')
  pack.entry({ name: '../escaped.txt', mtime: new Date(0) }, 'evil')
  pack.finalize()
  for await (const chunk of pack as AsyncIterable<Uint8Array>) yield chunk
}

/** A description of a tree: path -> kind, mode and content or target. Used to compare trees. */
export async function describeTree (root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`
      const abs = path.join(root, r)
      const stats = await lstat(abs)
      const mode = (stats.mode & 0o777).toString(8)
      if (stats.isSymbolicLink()) out[r] = `symlink -> ${await readlink(abs)}`
      else if (stats.isDirectory()) {
        out[r] = `dir ${mode}`
        await walk(r)
      } else out[r] = `file ${mode} ${(await readFile(abs)).toString('base64')}`
    }
  }
  await walk('')
  return out
}
