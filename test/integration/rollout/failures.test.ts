import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeTestOutcome, decodeTestStart, membershipKeyCid } from '../../../src/overlay/index.ts'
import { openStore, outcomeKey, rolloutKey } from '../../../src/store/index.ts'
import { SIGNATURE_DOMAINS, openEnvelope } from '../../../src/trust/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import { APP, Swarm } from './swarm.ts'

const SHORT_TIMEOUTS = { startTimeoutMs: 3_000, reportGraceMs: 1_000 }

let swarm: Swarm | undefined
afterEach(async () => { await swarm?.teardown(); swarm = undefined })

async function allIn (s: Swarm, names: string[], states: string[]): Promise<boolean> {
  for (const name of names) {
    if (!states.includes((await s.releaseStatus(name))?.state ?? '')) return false
  }
  return true
}

describe('silence, replacement and catch-up', () => {
  it('a representative killed after announcing its test blocks its cluster once the timeout passes', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    await s.seedRelease({
      clusters: [{ name: 'A', k: 1, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }],
      default: { k: 1, q: 1 },
      ...SHORT_TIMEOUTS,
      // a1 announces its start once it holds the artifact: time enough to download on a loaded machine.
      startTimeoutMs: 30_000
    }, { testTimeoutMs: 4_000 })
    // a1 volunteers, so it is elected; its test hangs (the upgrade froze the machine).
    await Promise.all([
      s.start({ name: 'a1', cluster: 'A', role: 'representative', testEnv: { HANG: '1' } }),
      s.start({ name: 'a2', cluster: 'A' }),
      s.start({ name: 'b1', cluster: 'B' })
    ])
    await waitFor('a1 to start its test', async () => (await s.releaseStatus('a1'))?.state === 'testing', { timeoutMs: 60_000, describe: async () => s.describe() })
    await s.stop('a1')

    await waitFor('A blocked for a2 and B blocked for b1', async () => allIn(s, ['a2', 'b1'], ['blocked']), { timeoutMs: 60_000, describe: async () => s.describe() })
    const a2 = await s.releaseStatus('a2')
    expect(a2?.clusters.find(c => c.clusterId === 'A')?.state).toBe('failed')
    expect(a2?.reason).toMatch(/A/)
    expect(a2?.at.installed).toBeUndefined()
    expect((await s.releaseStatus('b1'))?.at.installed).toBeUndefined()
  })

  it('a representative offline from the start is replaced by the next in rank and the rollout completes', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    await s.startSeed()
    await Promise.all([
      s.start({ name: 'a1', cluster: 'A', role: 'representative' }),
      s.start({ name: 'a2', cluster: 'A' }),
      s.start({ name: 'a3', cluster: 'A' }),
      s.start({ name: 'b1', cluster: 'B' })
    ])
    // a1 announced itself (its record is on the DHT), then its machine went away before the release.
    const key = await membershipKeyCid('webshop', 'A', 'representative')
    const a1 = s.machines.get('a1')?.node?.peerId.toString()
    // Its announcement must have reached the swarm, not only the peers it knew at its start.
    await waitFor('a1 announced with most of the swarm connected', async () => ((await s.machines.get('a1')?.node?.status())?.announced?.peers ?? 0) >= 3, { timeoutMs: 60_000 })
    await waitFor('a1 findable as a member of A', async () => {
      for await (const provider of s.machines.get('a2')?.node?.libp2p.contentRouting.findProviders(key, { signal: AbortSignal.timeout(5_000) }) ?? []) {
        if (provider.id.toString() === a1) return true
      }
      return false
    }, { timeoutMs: 60_000 })
    await s.stop('a1')
    await s.seedRelease({
      clusters: [{ name: 'A', k: 1, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }],
      default: { k: 1, q: 1 },
      // Long enough that the next in rank, once elected, surely starts in time on a loaded machine.
      startTimeoutMs: 8_000,
      reportGraceMs: 1_000
    })

    await waitFor('everyone but a1 installed', async () => allIn(s, ['a2', 'a3', 'b1'], ['installed']), { timeoutMs: 120_000, describe: async () => s.describe() })
    const view = (await s.releaseStatus('a2'))?.clusters.find(c => c.clusterId === 'A')
    expect(view?.state).toBe('passed')
    expect(view?.representatives).not.toContain(a1)
    expect(view?.replaced).toContain(a1)
    const roles = [(await s.releaseStatus('a2'))?.role, (await s.releaseStatus('a3'))?.role].sort()
    expect(roles).toEqual(['follower', 'representative'])
  })

  it('a node that starts after the release and all outcomes catches up through sync and installs', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    await s.seedRelease({ clusters: [{ name: 'A', k: 1, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }], default: { k: 1, q: 1 } })
    await Promise.all([s.start({ name: 'a1', cluster: 'A' }), s.start({ name: 'a2', cluster: 'A' }), s.start({ name: 'b1', cluster: 'B' })])
    await waitFor('the first three installed', async () => allIn(s, ['a1', 'a2', 'b1'], ['installed']), { timeoutMs: 120_000, describe: async () => s.describe() })

    // Everything was gossiped before b2 existed: only sync can tell it.
    await s.start({ name: 'b2', cluster: 'B' })
    await waitFor('the late node installed', async () => allIn(s, ['b2'], ['installed']), { timeoutMs: 120_000, describe: async () => s.describe() })
    const late = await s.releaseStatus('b2')
    expect(late?.role).toBe('follower')
    expect(late?.clusters.find(c => c.clusterId === 'A')?.state).toBe('passed')
    expect(late?.clusters.find(c => c.clusterId === 'B')?.state).toBe('passed')
  })

  it('a representative stopped between its install and its announcement announces the pass it owes when it restarts', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    const release = await s.seedRelease({ clusters: [{ name: 'A', k: 1, q: 1 }], default: { k: 1, q: 1 } })
    await s.start({ name: 'a1', cluster: 'A', role: 'representative' })
    await waitFor('a1 installed', async () => allIn(s, ['a1'], ['installed']), { timeoutMs: 120_000, describe: async () => s.describe() })
    await s.stop('a1')
    await s.stopSeed()

    // Put a1 back to the moment after its test passed and before its outcome left: nobody else is up to hand the outcome back.
    const a1 = s.machines.get('a1')
    const dir = join(a1?.config.dataDir ?? '', 'store')
    const owed = { exitCode: 0 as const, durationMs: 1234, logDigest: 'ab'.repeat(32) }
    const store = await openStore({ dir })
    let peerId = ''
    try {
      const key = rolloutKey({ app: APP, releaseId: release.id })
      const record = await store.rollouts.get(key)
      expect(record?.role).toBe('representative')
      if (record === undefined) return
      await store.rollouts.put(key, { ...record, state: 'installing', unannouncedPass: owed })
      for await (const [outcome, value] of store.outcomes.entries({ prefix: `${release.id}/` })) {
        peerId = value.peerId
        await store.outcomes.delete(outcome)
      }
    } finally {
      await store.close()
    }
    expect(peerId).not.toBe('')

    await s.start({ name: 'a1', cluster: 'A', role: 'representative' })
    await waitFor('a1 counts its own pass again', async () => {
      const status = await s.releaseStatus('a1')
      return status?.state === 'installed' && status.clusters.find(c => c.clusterId === 'A')?.state === 'passed'
    }, { timeoutMs: 60_000, describe: async () => s.describe() })
    await s.stop('a1')

    const after = await openStore({ dir })
    try {
      const record = await after.rollouts.get(rolloutKey({ app: APP, releaseId: release.id }))
      expect(record?.state).toBe('installed')
      expect(record?.unannouncedPass, 'the owed pass is dropped once announced').toBeUndefined()
      const stored = await after.outcomes.get(outcomeKey({ releaseId: release.id, clusterId: 'A', peerId }))
      expect(stored, 'a1 signed and stored the outcome it owed').toBeDefined()
      const outcome = decodeTestOutcome((await openEnvelope(stored?.envelope ?? new Uint8Array(), SIGNATURE_DOMAINS.outcome)).payload)
      expect(outcome).toMatchObject({ pass: true, exitCode: 0, durationMs: 1234 })
      expect(Buffer.from(outcome.logDigest).toString('hex')).toBe(owed.logDigest)
    } finally {
      await after.close()
    }
  })

  it('a representative whose install outlasts the silence deadline still passes its cluster: its pass is dated when its test ended', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    const testTimeoutMs = 2_000
    const release = await s.seedRelease({ clusters: [{ name: 'A', k: 1, q: 1 }], default: { k: 1, q: 1 }, startTimeoutMs: 30_000, reportGraceMs: 1_000 }, { testTimeoutMs })
    await s.start({ name: 'a1', cluster: 'A', role: 'representative' })
    await waitFor('a1 installed', async () => allIn(s, ['a1'], ['installed']), { timeoutMs: 120_000, describe: async () => s.describe() })
    await s.stop('a1')
    await s.stopSeed()

    // Put a1 back to the moment its test passed, one second after it
    // started, and let its install run past the deadline: the pass it owes
    // goes out only now, long after start + test timeout + grace. Nobody
    // keeps the pass it sent the first time.
    const a1Dir = join(s.machines.get('a1')?.config.dataDir ?? '', 'store')
    let startedAt = 0
    for (const dir of [a1Dir, join(s.work, 'seed', 'data', 'store')]) {
      const store = await openStore({ dir })
      try {
        for await (const [, value] of store.testStarts.entries({ prefix: `${release.id}/` })) {
          startedAt = decodeTestStart((await openEnvelope(value.envelope, SIGNATURE_DOMAINS.testStart)).payload).at
        }
        for await (const [outcome] of store.outcomes.entries({ prefix: `${release.id}/` })) await store.outcomes.delete(outcome)
        if (dir !== a1Dir) continue
        const key = rolloutKey({ app: APP, releaseId: release.id })
        const record = await store.rollouts.get(key)
        if (record === undefined) throw new Error('a1 has no rollout record')
        await store.rollouts.put(key, { ...record, state: 'installing', unannouncedPass: { exitCode: 0, durationMs: 1_000, logDigest: 'cd'.repeat(32), at: startedAt + 1_000 } })
      } finally {
        await store.close()
      }
    }
    expect(startedAt).toBeGreaterThan(0)
    const deadline = startedAt + testTimeoutMs + 1_000
    await waitFor('the silence deadline passed', async () => Date.now() > deadline, { timeoutMs: 10_000 })

    await s.startSeed()
    await s.start({ name: 'a2', cluster: 'A' })
    await s.start({ name: 'a1', cluster: 'A', role: 'representative' })
    await waitFor('a2 installed after a1 announced its pass', async () => allIn(s, ['a2'], ['installed']), { timeoutMs: 120_000, describe: async () => s.describe() })
    expect((await s.releaseStatus('a2'))?.clusters.find(c => c.clusterId === 'A')).toMatchObject({ state: 'passed', passes: 1 })
    expect((await s.releaseStatus('a1'))?.state).toBe('installed')
    await s.stop('a2')

    // What a2 counted is the pass a1 owed, signed with its test's time.
    const a2Store = await openStore({ dir: join(s.machines.get('a2')?.config.dataDir ?? '', 'store') })
    try {
      const passes = []
      for await (const [, value] of a2Store.outcomes.entries({ prefix: `${release.id}/` })) {
        passes.push(decodeTestOutcome((await openEnvelope(value.envelope, SIGNATURE_DOMAINS.outcome)).payload))
      }
      expect(passes).toMatchObject([{ pass: true, durationMs: 1_000, at: startedAt + 1_000 }])
    } finally {
      await a2Store.close()
    }
  })
})
