/**
 * A process that hosts a swarm gets a large libuv pool, and its child
 * processes do not (src/scenario/thread-pool.ts). The pool is per process,
 * so each case runs test/fixtures/thread-pool-probe.ts in a process of its own.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'

const PROBE = path.join(import.meta.dirname, '../../fixtures/thread-pool-probe.ts')
const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async dir => { await rm(dir, { recursive: true, force: true }) })) })

async function probe (boundMs: number, env: NodeJS.ProcessEnv): Promise<{ answered: boolean, inherited: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirage-thread-pool-'))
  dirs.push(dir)
  const { stdout } = await promisify(execFile)(process.execPath, [PROBE, path.join(dir, 'fifos'), String(boundMs)], { env, timeout: 120_000 })
  return JSON.parse(stdout) as { answered: boolean, inherited: string }
}

describe('the swarm host\'s thread pool', () => {
  it('holds more than eight threads, and child processes get no such setting', async () => {
    const { UV_THREADPOOL_SIZE: _, ...env } = process.env
    // Bounded only so that a broken sizing fails instead of hanging: a pool with spare threads answers at once.
    expect(await probe(60_000, env)).toEqual({ answered: true, inherited: 'unset' })
  }, 120_000)

  it('keeps a size the caller set, which children inherit as usual (and the probe sees a pool of four fill up)', async () => {
    // With every one of the four threads waiting on a FIFO, nothing can answer: the bound only ends the wait.
    expect(await probe(1_000, { ...process.env, UV_THREADPOOL_SIZE: '4' })).toEqual({ answered: false, inherited: '4' })
  }, 120_000)
})
