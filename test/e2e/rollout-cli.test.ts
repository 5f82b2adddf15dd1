import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { treeDigest } from '../integration/rollout/swarm.ts'
import { MirageProcess } from '../helpers/mirage-process.ts'
import { runMirage } from '../helpers/run-mirage.ts'
import { waitFor } from '../helpers/wait-for.ts'
import type { NodeStatus } from '../../src/node/index.ts'

let work: string
const processes: MirageProcess[] = []
beforeEach(async () => { work = await mkdtemp(join(tmpdir(), 'mirage-cli-rollout-')) })
afterEach(async () => {
  await Promise.all(processes.splice(0).map(async p => p.stop('SIGKILL')))
  await rm(work, { recursive: true, force: true })
})

async function publish (artifactBytes: number): Promise<{ vendorDir: string, vendorKey: string, releaseDir: string, artifact: string }> {
  const vendorDir = join(work, 'vendor')
  const vendorKey = (await runMirage(['vendor', 'init', '--dir', vendorDir])).stdout.trim()
  const artifact = join(work, 'artifact')
  await mkdir(artifact, { recursive: true })
  await writeFile(join(artifact, 'payload.bin'), randomBytes(artifactBytes))
  await writeFile(join(artifact, 'mirage-test'), '#!/bin/sh\ntest -s "$(dirname "$0")/payload.bin"\n')
  await chmod(join(artifact, 'mirage-test'), 0o755)
  const plan = join(work, 'plan.json')
  await writeFile(plan, JSON.stringify({ clusters: [{ name: 'A', k: 1, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }], default: { after: ['B'], k: 1, q: 1 } }))
  const releaseDir = join(work, 'release')
  const published = await runMirage(['vendor', 'publish', '--vendor', vendorDir, '--app', 'webshop', '--version', '1.0.0',
    '--artifact', artifact, '--plan', plan, '--out', releaseDir, '--chunk-size', '256KiB'])
  expect(published.code, published.stderr).toBe(0)
  return { vendorDir, vendorKey, releaseDir, artifact }
}

async function writeConfig (name: string, config: Record<string, unknown>): Promise<string> {
  const file = join(work, `${name}.json`)
  await writeFile(file, JSON.stringify({ dataDir: `./${name}-data`, listen: ['/ip4/127.0.0.1/tcp/0'], syncIntervalMs: 2_000, ...config }))
  return file
}

async function startSeed (vendorDir: string, releaseDir: string, uploadBytesPerSecond = 0): Promise<{ seed: MirageProcess, address: string, config: string }> {
  const config = await writeConfig('seed', { uploadBytesPerSecond })
  const seed = new MirageProcess(['vendor', 'seed', '--vendor', vendorDir, '--release', releaseDir, '--config', config, '--json'])
  processes.push(seed)
  const started = await seed.jsonLine<{ addresses: string[] }>('addresses')
  const address = started.addresses.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? ''
  return { seed, address, config }
}

async function nodeConfig (name: string, cluster: string, vendorKey: string, bootstrap: string): Promise<string> {
  return writeConfig(name, { bootstrap: [bootstrap], apps: { webshop: { vendorKeys: [vendorKey], installDir: `./${name}-install`, cluster: { name: cluster } } } })
}

async function status (config: string): Promise<NodeStatus | undefined> {
  const run = await runMirage(['node', 'status', '--config', config, '--json'])
  return run.code === 0 ? JSON.parse(run.stdout) as NodeStatus : undefined
}

describe('a rollout through the mirage command', () => {
  it('vendor publish, vendor seed and four `mirage node start` processes install in stages', async () => {
    const { vendorDir, vendorKey, releaseDir, artifact } = await publish(3 * 1024 * 1024)
    const { seed, address } = await startSeed(vendorDir, releaseDir)
    const names = [['a1', 'A'], ['a2', 'A'], ['b1', 'B'], ['b2', 'B']] as const
    const configs = new Map<string, string>()
    for (const [name, cluster] of names) {
      const config = await nodeConfig(name, cluster, vendorKey, address)
      configs.set(name, config)
      const node = new MirageProcess(['node', 'start', '--config', config, '--json'])
      processes.push(node)
      await node.jsonLine('peerId')
    }
    await waitFor('all four nodes installed', async () => {
      for (const config of configs.values()) {
        if ((await status(config))?.apps[0]?.releases[0]?.state !== 'installed') return false
      }
      return true
    }, { timeoutMs: 180_000, intervalMs: 1_000 })

    const human = await runMirage(['node', 'status', '--config', configs.get('b1') ?? ''])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/release 1\.0\.0 \(sequence 1\) .*: installed/)

    const published = await treeDigest(artifact)
    for (const [name] of names) expect(await treeDigest(join(work, `${name}-install`, 'current'))).toEqual(published)
    for (const node of processes.slice(1)) expect(await node.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    expect(await seed.stop('SIGTERM')).toEqual({ code: 0, signal: null })
  })

  it('a node killed with SIGKILL mid-download resumes, fetches only what it lacked, and installs a correct tree', async () => {
    const size = 6 * 1024 * 1024
    const { vendorDir, vendorKey, releaseDir, artifact } = await publish(size)
    // 1.5 MB/s: the download takes seconds, so there is a middle to kill it in.
    const { address, config: seedConfig } = await startSeed(vendorDir, releaseDir, 1_500_000)
    const config = await nodeConfig('a1', 'A', vendorKey, address)
    const first = new MirageProcess(['node', 'start', '--config', config, '--json'])
    processes.push(first)
    await first.jsonLine('peerId')
    const partial = await waitFor('a partial download', async () => {
      const r = (await status(config))?.apps[0]?.releases[0]
      return r !== undefined && r.chunksHeld >= 4 && r.chunksHeld <= r.chunksTotal - 6 ? r : false
    }, { timeoutMs: 120_000, intervalMs: 100 })
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })

    const second = new MirageProcess(['node', 'start', '--config', config, '--json'])
    processes.push(second)
    await second.jsonLine('peerId')
    await waitFor('the install after the restart', async () => (await status(config))?.apps[0]?.releases[0]?.state === 'installed', { timeoutMs: 180_000, intervalMs: 500 })
    expect(await treeDigest(join(work, 'a1-install', 'current'))).toEqual(await treeDigest(artifact))

    // The seed was the only source: what it uploaded in all is what the node fetched in all.
    const seedStatus = await status(seedConfig)
    const total = partial.chunksTotal
    const chunk = 256 * 1024
    const uploadedChunks = (seedStatus?.uploaded.chunks ?? 0)
    // Chunks in flight when the node was killed may be sent twice; nothing else.
    expect(uploadedChunks).toBeGreaterThanOrEqual(total)
    expect(uploadedChunks).toBeLessThanOrEqual(total + 8)
    expect(seedStatus?.uploaded.bytes ?? 0).toBeLessThanOrEqual(size + 8 * chunk + 64 * 1024)
  })
})
