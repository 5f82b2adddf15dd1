/**
 * Test harness for the store: temp dirs that are always removed, child
 * processes (fixtures/*.ts run by plain node) that are always stopped, and
 * file snapshots to prove a refused database was left untouched.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Generous: two cores are shared by all test files, and node start-up loads the store's imports. */
export const CHILD_WAIT_MS = 30_000

const tempDirs = new Set<string>()
const children = new Set<ChildHandle>()

/** A fresh temp dir, removed by `cleanUp`. */
export async function makeTempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mirage-store-'))
  tempDirs.add(dir)
  return dir
}

/** Kills every child still running and removes every temp dir; call in afterEach. */
export async function cleanUp (): Promise<void> {
  await Promise.all([...children].map(async (child) => { await child.kill() }))
  children.clear()
  await Promise.all([...tempDirs].map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
  tempDirs.clear()
}

export interface ChildExit { code: number | null, signal: NodeJS.Signals | null }

/** A running fixture script with its stdout split into complete lines. */
export class ChildHandle {
  readonly process: ChildProcess
  /** Complete lines printed on stdout so far. */
  readonly lines: string[] = []
  /** Resolves once the process exited and its stdio closed (every line is in). */
  readonly closed: Promise<ChildExit>
  #stderr = ''
  #partial = ''
  #isClosed = false
  readonly #events = new EventEmitter()

  constructor (script: string, args: string[]) {
    this.process = spawn(process.execPath, [fileURLToPath(new URL(`fixtures/${script}`, import.meta.url)), ...args], {
      stdio: ['pipe', 'pipe', 'pipe']
    })
    this.process.stdout?.setEncoding('utf8')
    this.process.stdout?.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n')
      this.#partial = parts.pop() ?? ''
      this.lines.push(...parts)
      this.#events.emit('change')
    })
    this.process.stderr?.setEncoding('utf8')
    this.process.stderr?.on('data', (chunk: string) => { this.#stderr += chunk })
    this.closed = new Promise((resolve) => {
      this.process.once('close', (code, signal) => {
        this.#isClosed = true
        this.#events.emit('change')
        resolve({ code, signal })
      })
    })
  }

  get stderr (): string {
    return this.#stderr
  }

  /** Waits until `done(lines)` holds; rejects if the child exits first or after `timeoutMs`. */
  async waitFor (done: (lines: readonly string[]) => boolean, timeoutMs = CHILD_WAIT_MS): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (done(this.lines)) {
          finish()
          resolve()
        } else if (this.#isClosed) {
          finish()
          reject(new Error(`child exited before the condition held; stdout: ${this.lines.join(' | ')}; stderr: ${this.#stderr}`))
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`condition not met within ${timeoutMs} ms; stdout tail: ${this.lines.slice(-5).join(' | ')}; stderr: ${this.#stderr}`))
      }, timeoutMs)
      const finish = (): void => {
        clearTimeout(timer)
        this.#events.off('change', check)
      }
      this.#events.on('change', check)
      check()
    })
  }

  /** SIGKILLs the child unless it already exited, and waits for it to close. */
  async kill (): Promise<ChildExit> {
    if (!this.#isClosed) {
      this.process.kill('SIGKILL')
    }
    return await this.closed
  }
}

/** Starts `fixtures/<script>` with plain node; stopped by `cleanUp` at the latest. */
export function spawnFixture (script: string, args: string[]): ChildHandle {
  const child = new ChildHandle(script, args)
  children.add(child)
  return child
}

/**
 * SHA-256 of every file in `dir`, except those LevelDB rewrites on every
 * open attempt, successful or not (its info log and lock file).
 */
export async function snapshotFiles (dir: string): Promise<Map<string, string>> {
  const snapshot = new Map<string, string>()
  for (const name of (await readdir(dir)).sort()) {
    if (name === 'LOG' || name === 'LOG.old' || name === 'LOCK') {
      continue
    }
    snapshot.set(name, createHash('sha256').update(await readFile(join(dir, name))).digest('hex'))
  }
  return snapshot
}
