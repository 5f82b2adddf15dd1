import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeTestOutcome } from '../../../src/overlay/index.ts'
import { openStore } from '../../../src/store/index.ts'
import { SIGNATURE_DOMAINS, openEnvelope } from '../../../src/trust/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import { APP, Swarm, treeDigest } from './swarm.ts'
import type { MachineSpec } from './swarm.ts'

const STAGED_PLAN = {
  style: 'staged',
  clusters: [
    { name: 'A', k: 2, q: 2 },
    { name: 'B', after: ['A'], k: 1, q: 1 },
    { name: 'C', after: ['B'], k: 1, q: 1 }
  ],
  default: { after: ['C'], k: 1, q: 1 },
  startTimeoutMs: 20_000,
  reportGraceMs: 5_000
}

const MACHINES: MachineSpec[] = [
  { name: 'a1', cluster: 'A' }, { name: 'a2', cluster: 'A' }, { name: 'a3', cluster: 'A' },
  { name: 'b1', cluster: 'B' }, { name: 'b2', cluster: 'B' }, { name: 'b3', cluster: 'B' },
  { name: 'c1', cluster: 'C' }, { name: 'c2', cluster: 'C' }
]

let swarm: Swarm | undefined
afterEach(async () => { await swarm?.teardown(); swarm = undefined })

interface Persisted { name: string, cluster: string, role: string, state: string, at: Record<string, number>, bytesFrom: Record<string, number>, reason: string }

/** Reads what each machine persisted (after stopping it): the audit trail the assertions use. */
async function persistedRollouts (s: Swarm): Promise<Map<string, Persisted & { outcomes: Array<{ clusterId: string, peerId: string, receivedAt: number, pass: boolean }> }>> {
  const out = new Map()
  for (const [name, machine] of s.machines) {
    await s.stop(name)
    const store = await openStore({ dir: join(machine.config.dataDir, 'store') })
    try {
      const record = await store.rollouts.get(`${APP}/${s.release?.id ?? ''}`)
      const outcomes = []
      for await (const [, o] of store.outcomes.entries({ prefix: `${s.release?.id ?? ''}/` })) {
        const payload = decodeTestOutcome((await openEnvelope(o.envelope, SIGNATURE_DOMAINS.outcome)).payload)
        outcomes.push({ clusterId: o.clusterId, peerId: o.peerId, receivedAt: o.receivedAt, pass: payload.pass })
      }
      out.set(name, { name, cluster: machine.spec.cluster, role: record?.role ?? 'none', state: record?.state ?? 'none', at: record?.at ?? {}, bytesFrom: record?.bytesFrom ?? {}, reason: record?.reason ?? '', outcomes })
    } finally {
      await store.close()
    }
  }
  return out
}

describe('a staged rollout across real libp2p nodes', () => {
  it('installs everywhere in stage order, followers pulling mostly from peers', async () => {
    swarm = await Swarm.create()
    const s = swarm
    await s.seedRelease(STAGED_PLAN)
    await Promise.all(MACHINES.map(async spec => s.start(spec)))

    await waitFor('every machine to install', async () => {
      for (const spec of MACHINES) if ((await s.releaseStatus(spec.name))?.state !== 'installed') return false
      return true
    }, { timeoutMs: 180_000, intervalMs: 500, describe: async () => s.describe() })

    const published = await treeDigest(s.artifactDir)
    for (const machine of s.machines.values()) {
      expect(await treeDigest(join(machine.config.apps[APP]?.installDir ?? '', 'current'))).toEqual(published)
    }

    const vendorPeer = s.seed?.peerId.toString() ?? ''
    const size = s.release?.manifest.artifact.size ?? 0
    const records = await persistedRollouts(s)
    const requiredClusters: Record<string, string[]> = { A: ['A'], B: ['A', 'B'], C: ['A', 'B', 'C'] }
    const quorum: Record<string, number> = { A: 2, B: 1, C: 1 }
    for (const cluster of ['A', 'B', 'C']) {
      const members = [...records.values()].filter(r => r.cluster === cluster)
      const reps = members.filter(r => r.role === 'representative')
      const followers = members.filter(r => r.role === 'follower')
      expect(reps.length, `representatives of ${cluster}`).toBeGreaterThanOrEqual(quorum[cluster] ?? 1)
      expect(followers.length, `followers of ${cluster}`).toBeGreaterThanOrEqual(1)
      const lastRepInstall = Math.max(...reps.map(r => r.at.installed ?? Infinity))
      for (const follower of followers) {
        // Every representative installs before any follower of its cluster.
        expect(follower.at.installed ?? 0, `${follower.name} installed after the representatives of ${cluster}`).toBeGreaterThan(lastRepInstall)
        // The follower held the passing outcomes of its cluster and all its prerequisites before it started to download.
        const gateOpened = follower.at.downloading ?? follower.at.installing ?? Infinity
        for (const required of requiredClusters[cluster] ?? []) {
          const passes = follower.outcomes.filter(o => o.clusterId === required && o.pass && o.receivedAt <= gateOpened)
          expect(new Set(passes.map(p => p.peerId)).size, `${follower.name}: passes of ${required} before its gate opened`).toBeGreaterThanOrEqual(quorum[required] ?? 1)
        }
        // Followers get at least half of their bytes from peers other than the vendor.
        const total = Object.values(follower.bytesFrom).reduce((a, b) => a + b, 0)
        const fromVendor = follower.bytesFrom[vendorPeer] ?? 0
        expect(total, `${follower.name} downloaded the artifact`).toBeGreaterThanOrEqual(size)
        expect(fromVendor / total, `${follower.name}: share from the vendor`).toBeLessThanOrEqual(0.5)
      }
    }
  })

  it('stops a release whose test fails in B: A installs, B and C never do, every status says why', async () => {
    swarm = await Swarm.create()
    const s = swarm
    const legacy = join(s.work, 'legacy-php.ini')
    await mkdir(s.work, { recursive: true })
    await writeFile(legacy, '[php]\nlegacy = on\n')
    await s.seedRelease(STAGED_PLAN)
    await Promise.all(MACHINES.map(async spec => s.start(spec.cluster === 'B' ? { ...spec, testEnv: { PHP_INI: legacy } } : spec)))

    await waitFor('A installed, B failed, C blocked', async () => {
      for (const spec of MACHINES) {
        const state = (await s.releaseStatus(spec.name))?.state
        if (spec.cluster === 'A' && state !== 'installed') return false
        if (spec.cluster === 'B' && state !== 'failed' && state !== 'blocked') return false
        if (spec.cluster === 'C' && state !== 'blocked') return false
      }
      return true
    }, { timeoutMs: 180_000, intervalMs: 500, describe: async () => s.describe() })

    for (const spec of MACHINES.filter(m => m.cluster !== 'A')) {
      const status = await s.releaseStatus(spec.name)
      expect(status?.reason, `${spec.name} says why`).toMatch(/\bB\b|failed here/)
      expect(status?.at.installed).toBeUndefined()
    }
    // What a scenario runner polls agrees with the full status (the states are final here, so no race).
    for (const spec of MACHINES) {
      const node = s.machines.get(spec.name)?.node
      const status = await node?.status()
      const progress = await node?.progress()
      expect(progress?.apps[0]?.releases, `${spec.name}: progress has the status's states`).toEqual(status?.apps[0]?.releases.map(r => ({ version: r.version, state: r.state })))
      expect(progress?.apps[0]?.releases.length).toBe(1)
    }
    const records = await persistedRollouts(s)
    const bFailed = [...records.values()].filter(r => r.cluster === 'B' && r.state === 'failed')
    expect(bFailed.length).toBeGreaterThanOrEqual(1)
    for (const r of records.values()) {
      if (r.cluster !== 'A') expect(r.at.installed, `${r.name} never installs`).toBeUndefined()
    }
  })
})
