import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { callControl, controlSocketPath, startControlServer } from '../../../src/node/control-server.ts'

const made: string[] = []
afterEach(async () => { await Promise.all(made.splice(0).map(async dir => rm(dir, { recursive: true, force: true }))) })

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mirage-control-'))
  made.push(dir)
  return dir
}

describe('control socket', () => {
  it('lives in the data dir when the path fits a Unix socket', async () => {
    const dataDir = await tempDir()
    expect(controlSocketPath(dataDir)).toBe(join(dataDir, 'control.sock'))
    const server = await startControlServer(dataDir, { status: async () => ({ ok: 'short' }) })
    try {
      expect(await callControl(dataDir, 'GET', '/status')).toEqual({ ok: 'short' })
    } finally {
      await server.close()
    }
  })

  it('serves the progress view where the node gives one, and refuses it where it does not', async () => {
    const withProgress = await tempDir()
    const without = await tempDir()
    const a = await startControlServer(withProgress, { status: async () => ({ full: true }), progress: async () => ({ brief: true }) })
    const b = await startControlServer(without, { status: async () => ({ full: true }) })
    try {
      expect(await callControl(withProgress, 'GET', '/progress')).toEqual({ brief: true })
      expect(await callControl(withProgress, 'GET', '/status')).toEqual({ full: true })
      await expect(callControl(without, 'GET', '/progress')).rejects.toThrow(/refused/)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('answers for a data dir too deep for a Unix socket path, through a short path only this user can reach', async () => {
    const dataDir = join(await tempDir(), 'a-rather-long-folder-name-'.repeat(6), 'data')
    await mkdir(dataDir, { recursive: true })
    const path = controlSocketPath(dataDir)
    expect(Buffer.byteLength(join(dataDir, 'control.sock'))).toBeGreaterThan(108)
    expect(Buffer.byteLength(path)).toBeLessThanOrEqual(103)
    expect(controlSocketPath(`${dataDir}/`), 'the same data dir, however it is spelt').toBe(path)
    const server = await startControlServer(dataDir, { status: async () => ({ ok: 'deep' }) })
    try {
      expect(await callControl(dataDir, 'GET', '/status')).toEqual({ ok: 'deep' })
      await expect(startControlServer(dataDir, { status: async () => ({}) })).rejects.toThrow(/already running/)
    } finally {
      await server.close()
    }
  })
})
