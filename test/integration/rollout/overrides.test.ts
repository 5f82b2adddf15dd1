/**
 * The vendor's halt and clear on real nodes (issue 5, item 4): a halt stops
 * every install that has not happened yet, a clear lets the cluster go on,
 * and forged or replayed overrides change nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createOverlayLibp2p, signOverride, topicName } from '../../../src/overlay/index.ts'
import { generateSigningKey } from '../../../src/trust/index.ts'
import { issueOverride } from '../../../src/vendor/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import { APP, Swarm, scoreOf } from './swarm.ts'
import type { OverlayLibp2p } from '../../../src/overlay/index.ts'

let swarm: Swarm | undefined
let rogue: OverlayLibp2p | undefined
afterEach(async () => {
  await rogue?.stop()
  rogue = undefined
  await swarm?.teardown()
  swarm = undefined
})

const PLAN = { style: 'staged', clusters: [{ name: 'A', k: 1, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }], default: { k: 1, q: 1 } }
const WAIT = { timeoutMs: 120_000, intervalMs: 300 }

describe('halt and clear overrides', () => {
  it('halts a cluster, refuses forged and replayed overrides, and lets the cluster go on after a clear', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    const { release, dir } = await s.publish({ version: '2.0.0', sequence: 1, plan: PLAN })
    const seed = await s.startSeed()
    await seed.seedRelease(dir)
    // The vendor halts B before anything happened there.
    const halt = await issueOverride(s.vendor, { app: APP, releaseId: release.id, clusterId: 'B', action: 'halt', reason: 'bad reports from the field' })
    await seed.seedOverride(halt.file)
    await Promise.all([
      s.start({ name: 'a1', cluster: 'A', role: 'representative' }),
      s.start({ name: 'b1', cluster: 'B', role: 'representative' }),
      s.start({ name: 'b2', cluster: 'B', role: 'follower' })
    ])

    await waitFor('A installed, B halted', async () =>
      (await s.versionStatus('a1', '2.0.0'))?.state === 'installed' &&
      (await s.versionStatus('b1', '2.0.0'))?.state === 'halted' &&
      (await s.versionStatus('b2', '2.0.0'))?.state === 'halted', { ...WAIT, describe: async () => s.describe() })
    const halted = await s.versionStatus('b2', '2.0.0')
    expect(halted?.gate.haltedBy).toEqual(['B'])
    expect(halted?.reason).toMatch(/bad reports from the field/)
    expect(await s.currentVersion('b1')).toBeUndefined()

    // A rogue peer gossips a clear it signed itself, and a clear of another app signed by nobody trusted.
    const victim = s.machines.get('b2')?.node
    if (victim === undefined) throw new Error('b2 is not running')
    rogue = await createOverlayLibp2p({ privateKey: await generateSigningKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
    const rogueId = rogue.peerId.toString()
    const topic = topicName(APP, 'overrides')
    rogue.services.pubsub.subscribe(topic)
    const address = victim.libp2p.getMultiaddrs()[0]
    if (address === undefined) throw new Error('b2 listens nowhere')
    await rogue.dial(address)
    await waitFor('the rogue in b2\'s topic peers', () => victim.libp2p.services.pubsub.getSubscribers(topic).some(p => p.toString() === rogueId), { timeoutMs: 30_000 })
    const strangerKey = await generateSigningKey()
    const forgedClear = await signOverride({ v: 1, app: APP, releaseId: release.id, clusterId: 'B', action: 'clear', sequence: 99, issuedAt: Date.now() }, strangerKey)
    const otherApp = await signOverride({ v: 1, app: 'blog', releaseId: release.id, clusterId: 'B', action: 'clear', sequence: 100, issuedAt: Date.now() }, s.vendor.key)
    await rogue.services.pubsub.publish(topic, forgedClear)
    await rogue.services.pubsub.publish(topic, otherApp)
    await waitFor('the rogue scored down by b2', () => scoreOf(victim.libp2p, rogueId) < 0, { timeoutMs: 30_000 })
    expect((await s.versionStatus('b2', '2.0.0'))?.state, 'the forged clear changed nothing').toBe('halted')
    expect((await s.versionStatus('b1', '2.0.0'))?.state).toBe('halted')

    // The vendor clears B: its representative tests, its follower installs.
    const clear = await issueOverride(s.vendor, { app: APP, releaseId: release.id, clusterId: 'B', action: 'clear', reason: 'reports were from a broken mirror' })
    expect(clear.override.sequence).toBeGreaterThan(halt.override.sequence)
    await seed.seedOverride(clear.file)
    await waitFor('B installed after the clear', async () =>
      (await s.versionStatus('b1', '2.0.0'))?.state === 'installed' &&
      (await s.versionStatus('b2', '2.0.0'))?.state === 'installed', { ...WAIT, describe: async () => s.describe() })

    // The old halt, replayed, is refused as not newer than what its scope has (the seed checks it as any node does).
    await expect(seed.seedOverride(halt.file)).rejects.toThrow(/refused \(ignore\)/)
    for (const name of ['b1', 'b2']) {
      const status = await s.versionStatus(name, '2.0.0')
      expect(status?.state, `${name} stays installed`).toBe('installed')
      expect(status?.gate.action, `${name}'s engine is not halted by the replay`).not.toBe('halted')
    }
  })
})
