/**
 * Helpers shared by the content tests: temp dirs, collecting streams, and
 * building tar archives by hand (including malicious ones) with tar-stream.
 */
import { lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pack as tarPack } from 'tar-stream'
import type { Header } from 'tar-stream'

/** Makes temp dirs and removes them all in `cleanup` (call it from afterEach). */
export function tempDirs (): { make: (label?: string) => Promise<string>, cleanup: () => Promise<void> } {
  const made: string[] = []
  return {
    make: async (label = 'content') => {
      const dir = await mkdtemp(path.join(tmpdir(), `mirage-${label}-`))
      made.push(dir)
      return dir
    },
    cleanup: async () => {
      await Promise.all(made.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
    }
  }
}

export async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const buf of source) out.push(buf)
  return out
}

export function concat (parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

export async function * fromBytes (bytes: Uint8Array, pieceSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += pieceSize) yield bytes.subarray(offset, offset + pieceSize)
}

/** An archive entry for `tarOf`: a header, plus a body for files. */
export interface TestEntry extends Partial<Header> {
  name: string
  body?: string | Uint8Array
}

/** Builds a tar archive from raw entries, with no safety checks: for malicious archives. */
export async function tarOf (entries: TestEntry[]): Promise<Uint8Array> {
  const pack = tarPack()
  const done = collect(pack as AsyncIterable<Uint8Array>)
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const callback = (err?: Error | null): void => { if (err == null) resolve(); else reject(err) }
      if (body === undefined) pack.entry({ mtime: new Date(0), ...header }, callback)
      else pack.entry({ mtime: new Date(0), ...header }, typeof body === 'string' ? body : Buffer.from(body), callback)
    })
  }
  pack.finalize()
  return concat(await done)
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
