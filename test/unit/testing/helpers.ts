/** Helpers for the testing-area tests: temp staging dirs holding small test scripts. */
import { createHash } from 'node:crypto'
import { lstat, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'

/** Makes temp dirs and removes them all in `cleanup` (call it from afterEach). */
export function tempDirs (): { make: (label?: string) => Promise<string>, cleanup: () => Promise<void> } {
  const made: string[] = []
  return {
    make: async (label = 'testing') => {
      const dir = await mkdtemp(path.join(tmpdir(), `mirage-${label}-`))
      made.push(dir)
      return dir
    },
    cleanup: async () => {
      await Promise.all(made.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
    }
  }
}

/** Writes an executable /bin/sh script. */
export async function script (dir: string, name: string, body: string): Promise<string> {
  const file = path.join(dir, name)
  await writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

/**
 * Whether a process is running. A zombie counts as gone: on machines whose
 * PID 1 never reaps orphans, a killed grandchild stays a zombie forever.
 */
export async function isRunning (pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  if (process.platform !== 'linux') return true
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'latin1')
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/** Polls `condition` until it holds, failing after `timeoutMs`. */
export async function waitFor (condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(10)
  }
}

/** Reads a pid a test script wrote, once the file is complete (ends in a newline). */
export async function readPid (file: string): Promise<number> {
  const text = await readFile(file, 'utf8')
  if (!text.endsWith('\n')) throw new Error(`pid file ${file} is incomplete: ${JSON.stringify(text)}`)
  return Number(text.trim())
}

/**
 * Live processes (zombies excluded) whose argv or environment contains
 * `marker`. Finds a test's processes from outside a sandbox, where the
 * pids the test sees (in its own PID namespace) mean nothing.
 */
export async function liveProcessesMentioning (marker: string): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pid === process.pid) continue
    let text: string
    try {
      text = (await readFile(`/proc/${pid}/cmdline`, 'latin1')) + (await readFile(`/proc/${pid}/environ`, 'latin1'))
    } catch {
      continue // gone, or not ours to read
    }
    if (text.includes(marker) && await isRunning(pid)) found.push(pid)
  }
  return found
}

/** SHA-256 over the paths, modes and contents of every entry under `dir`, in sorted order. */
export async function treeDigest (dir: string): Promise<string> {
  const hash = createHash('sha256')
  const walk = async (sub: string): Promise<void> => {
    const entries = (await readdir(path.join(dir, sub), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      const rel = path.join(sub, entry.name)
      const info = await lstat(path.join(dir, rel))
      hash.update(`${rel}\0${info.mode}\0`)
      if (entry.isDirectory()) await walk(rel)
      else if (entry.isFile()) hash.update(await readFile(path.join(dir, rel)))
      hash.update('\0')
    }
  }
  await walk('')
  return hash.digest('hex')
}
