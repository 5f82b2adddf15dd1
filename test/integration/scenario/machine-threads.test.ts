/**
 * The in-process runner's worker threads host real Mirage nodes: machines
 * land on different threads, answer status with the same plain data as a
 * machine process, stop on request, and a machine that cannot start says why
 * without taking its thread (or the other machines on it) down.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_ANNOUNCE_INTERVAL_MS, DEFAULT_MAX_CONNECTIONS } from '../../../src/node/index.ts'
import type { NodeConfig } from '../../../src/node/index.ts'
import { MachineThreads } from '../../../src/scenario/machine-threads.ts'

let pool: MachineThreads | undefined
let dir: string | undefined
afterEach(async () => {
  await pool?.close()
  pool = undefined
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

function configOf (root: string, name: string, listen = '/ip4/127.0.0.1/tcp/0'): NodeConfig {
  return {
    file: join(root, name, 'config.json'),
    dataDir: join(root, name, 'data'),
    listen: [listen],
    bootstrap: [],
    apps: {},
    announceIntervalMs: DEFAULT_ANNOUNCE_INTERVAL_MS,
    syncIntervalMs: 5_000,
    uploadBytesPerSecond: 0,
    maxConnections: DEFAULT_MAX_CONNECTIONS
  }
}

describe('machine threads', () => {
  it('hosts real nodes on separate threads, reports their status, and stops them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mirage-threads-'))
    pool = new MachineThreads(2)
    await pool.start('a', configOf(dir, 'a'))
    await pool.start('b', configOf(dir, 'b'))
    expect(pool.threadOf('a')).toBeGreaterThan(0)
    expect(pool.threadOf('b')).toBeGreaterThan(0)
    expect(pool.threadOf('a')).not.toBe(pool.threadOf('b'))
    const [a, b] = [await pool.status('a'), await pool.status('b')]
    expect(a?.peerId).toMatch(/^12D3KooW/)
    expect(b?.peerId).toMatch(/^12D3KooW/)
    expect(a?.peerId).not.toBe(b?.peerId)
    // Plain data, as a machine process sends it over its control socket.
    expect(JSON.parse(JSON.stringify(a))).toEqual(a)
    // The runner's poll: plain data too, and the part of the status it stands for.
    const progress = await pool.progress('a')
    expect(JSON.parse(JSON.stringify(progress))).toEqual(progress)
    expect(progress?.apps.map(app => app.app)).toEqual(a?.apps.map(app => app.app))
    expect(progress?.reports.waiting).toBe(0)

    await pool.stop('a')
    expect(await pool.status('a')).toBeUndefined()
    expect(await pool.progress('a')).toBeUndefined()
    expect((await pool.status('b'))?.peerId).toBe(b?.peerId)
  })

  it('rejects a machine that cannot start with its reason, and keeps the thread for the others', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mirage-threads-'))
    pool = new MachineThreads(1)
    await expect(pool.start('bad', configOf(dir, 'bad', '/ip4/203.0.113.7/tcp/1'))).rejects.toThrow(/203\.0\.113\.7|listen|address/i)
    expect(await pool.status('bad')).toBeUndefined()
    await pool.start('good', configOf(dir, 'good'))
    expect((await pool.status('good'))?.peerId).toMatch(/^12D3KooW/)
  })

  it('refuses a pool without threads', () => {
    expect(() => new MachineThreads(0)).toThrow(/at least one thread/)
  })
})
