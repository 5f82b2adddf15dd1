/**
 * Member announcements between real nodes (PROTOCOL.md §9.4): a node that
 * is up learns another's membership from gossip, and a node that starts
 * later learns it from sync, each with the member's signed envelope, so
 * neither needs a DHT walk to check that member's messages.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { membershipKeyCid } from '../../../src/overlay/index.ts'
import { openStore } from '../../../src/store/index.ts'
import type { MembershipRecord } from '../../../src/store/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import { APP, Swarm } from '../rollout/swarm.ts'

let swarm: Swarm | undefined
afterEach(async () => {
  await swarm?.teardown()
  swarm = undefined
})

/** A stopped machine's memberships of the app, read from its store. */
async function membershipsOf (s: Swarm, name: string): Promise<MembershipRecord[]> {
  const dataDir = s.machines.get(name)?.config.dataDir
  if (dataDir === undefined) throw new Error(`no machine ${name}`)
  const store = await openStore({ dir: join(dataDir, 'store') })
  try {
    const records: MembershipRecord[] = []
    for await (const [, record] of store.memberships.entries({ prefix: `${APP}/` })) records.push(record)
    return records
  } finally {
    await store.close()
  }
}

/**
 * Runs machine `name` until it is connected to `peer`, stops it and reads
 * its store, until `wanted` holds of its records (a stop may cut a sync
 * short; the next start syncs again). Bounded by the timeout.
 */
async function runUntilKnown (s: Swarm, name: string, cluster: string, peer: string, wanted: (records: MembershipRecord[]) => boolean): Promise<MembershipRecord[]> {
  return waitFor(`${name} to hold the announcements wanted`, async () => {
    const machine = await s.start({ name, cluster })
    await waitFor(`${name} connected to ${peer}`, () => (machine.node?.libp2p.getPeers() ?? []).some(p => p.toString() === peer), { timeoutMs: 30_000 })
    await s.stop(name)
    const records = await membershipsOf(s, name)
    return wanted(records) ? records : false
  }, { timeoutMs: 90_000 })
}

describe('member announcements', () => {
  it('reach other nodes, and nodes that start later through sync, signed by the member', async () => {
    swarm = await Swarm.create(64 * 1024)
    const s = swarm
    await s.startSeed()
    const a1 = await s.start({ name: 'a1', cluster: 'A', role: 'representative' })
    const a1Id = a1.node?.peerId.toString() ?? ''
    // Only what came signed counts here: a record found on the DHT has no envelope.
    const signed = (records: MembershipRecord[], peerId: string): MembershipRecord | undefined => records.find(r => r.peerId === peerId && r.envelope !== undefined)

    const seenByB1 = await runUntilKnown(s, 'b1', 'B', a1Id, records => signed(records, a1Id) !== undefined)
    expect(signed(seenByB1, a1Id)).toMatchObject({ clusterId: 'A', role: 'representative' })
    const b1Id = seenByB1.find(r => r.clusterId === 'B')?.peerId ?? ''
    expect(b1Id).not.toBe('')

    // c1 starts after b1 has gone: b1's announcement can reach it only through sync with a1.
    const seenByC1 = await runUntilKnown(s, 'c1', 'C', a1Id, records => signed(records, b1Id) !== undefined)
    expect(signed(seenByC1, b1Id)).toMatchObject({ clusterId: 'B', role: 'auto' })
    expect(signed(seenByC1, a1Id)).toMatchObject({ clusterId: 'A', role: 'representative' })
  }, 200_000)

  it('let a node that has its members from peers elect with no DHT lookup', async () => {
    swarm = await Swarm.create(64 * 1024)
    const s = swarm
    await s.startSeed()
    const names = ['a1', 'a2', 'a3']
    for (const name of names) await s.start({ name, cluster: 'A' })
    await waitFor('every machine to have its members from a sync', async () => {
      for (const name of names) {
        if ((await s.machines.get(name)?.node?.status())?.apps[0]?.membersFromPeers !== true) return false
      }
      return true
    }, { timeoutMs: 60_000, describe: async () => s.describe() })

    // From here on, count the walks of cluster A's membership keys, on every machine.
    const keys = new Set(await Promise.all((['auto', 'representative', 'follower'] as const).map(async role => (await membershipKeyCid(APP, 'A', role)).toString())))
    let walks = 0
    for (const name of names) {
      const routing = s.machines.get(name)?.node?.libp2p.contentRouting
      if (routing === undefined) throw new Error(`${name} is not running`)
      const findProviders = routing.findProviders.bind(routing)
      routing.findProviders = (key, options) => {
        if (keys.has(key.toString())) walks++
        return findProviders(key, options)
      }
    }

    await s.seedRelease({ clusters: [{ name: 'A', k: 1, q: 1 }], default: { k: 1, q: 1 } })
    await waitFor('every machine installed', async () => {
      for (const name of names) if ((await s.releaseStatus(name))?.state !== 'installed') return false
      return true
    }, { timeoutMs: 90_000, describe: async () => s.describe() })
    // One representative tested (the election agreed), and nobody looked the cluster up for it.
    const roles = await Promise.all(names.map(async name => (await s.releaseStatus(name))?.role))
    expect(roles.filter(role => role === 'representative')).toHaveLength(1)
    expect(walks).toBe(0)
  }, 200_000)
})
