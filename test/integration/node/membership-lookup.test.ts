/**
 * Member lookups on real libp2p nodes with kad-dht: a cluster of more than
 * 20 members, whose records this node holds itself, is found whole
 * (kad-dht's findProviders alone stops at 20 of its own records).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { Membership, localProviders } from '../../../src/node/membership.ts'
import { DHT_PROTOCOL, createOverlayLibp2p, membershipKeyCid } from '../../../src/overlay/index.ts'
import type { OverlayLibp2p } from '../../../src/overlay/index.ts'
import { openStore } from '../../../src/store/index.ts'
import type { Store } from '../../../src/store/index.ts'
import { generateSigningKey } from '../../../src/trust/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const MEMBERS = 25
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function node (): Promise<OverlayLibp2p> {
  const libp2p = await createOverlayLibp2p({ privateKey: await generateSigningKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
  cleanups.push(async () => { await libp2p.stop() })
  return libp2p
}

async function store (): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'mirage-membership-'))
  const opened = await openStore({ dir })
  cleanups.push(async () => { await opened.close(); await rm(dir, { recursive: true, force: true }) })
  return opened
}

/** Plants provider records in the node's own kad-dht store, as ADD_PROVIDER messages from these peers would. */
async function plantRecords (libp2p: OverlayLibp2p, key: CID, count: number): Promise<PeerId[]> {
  const records = (libp2p.services.dht as unknown as { providers: { addProvider: (key: CID, peer: PeerId) => Promise<void> } }).providers
  const peers: PeerId[] = []
  for (let i = 0; i < count; i++) {
    const peer = peerIdFromPrivateKey(await generateSigningKey())
    await records.addProvider(key, peer)
    peers.push(peer)
  }
  return peers
}

describe('member lookups of a cluster over 20 machines', () => {
  it('finds every member whose record this node holds, and finds the 25th signer without a query', async () => {
    const [a, b] = await Promise.all([node(), node()])
    await a.dial(b.getMultiaddrs())
    // The walk after the local records needs a peer in the routing table, or kad-dht holds the query.
    await waitFor('b to be known as a DHT peer', async () => (await a.peerStore.get(b.peerId)).protocols.includes(DHT_PROTOCOL), { timeoutMs: 20_000 })

    const key = await membershipKeyCid('webshop', 'big', 'auto')
    const members = await plantRecords(a, key, MEMBERS)
    expect(await localProviders(a, key)).toHaveLength(MEMBERS)

    const seen: string[] = []
    const membership = new Membership({
      libp2p: a,
      store: await store(),
      own: [],
      announceIntervalMs: 300_000,
      onMember: member => { seen.push(member.peerId) }
    })
    cleanups.push(async () => { await membership.stop() })

    const result = await membership.lookup('webshop', 'big')
    expect(result.found).toBe(MEMBERS)
    expect(new Set(seen)).toEqual(new Set(members.map(String)))

    // A signer beyond kad-dht's 20: known now, and known to a fresh store through its local records alone.
    const last = members.at(-1)?.toString() ?? ''
    const fresh = new Membership({ libp2p: a, store: await store(), own: [], announceIntervalMs: 300_000, onMember: () => {} })
    cleanups.push(async () => { await fresh.stop() })
    expect(await fresh.isMember('webshop', 'big', last)).toBe(true)
    expect(await fresh.isMember('webshop', 'big', peerIdFromPrivateKey(await generateSigningKey()).toString())).toBe(false)
  }, 60_000)

  it('checks of signers that arrive together share one search, which ends once all of them are met', async () => {
    const [a, b] = await Promise.all([node(), node()])
    await a.dial(b.getMultiaddrs())
    await waitFor('b to be known as a DHT peer', async () => (await a.peerStore.get(b.peerId)).protocols.includes(DHT_PROTOCOL), { timeoutMs: 20_000 })
    const members = await plantRecords(a, await membershipKeyCid('webshop', 'small', 'auto'), 3)

    // Counts the DHT walks the membership makes through this node.
    let walks = 0
    const routing = a.contentRouting
    const findProviders = routing.findProviders.bind(routing)
    routing.findProviders = (...args) => { walks++; return findProviders(...args) }

    const membership = new Membership({ libp2p: a, store: await store(), own: [], announceIntervalMs: 300_000, onMember: () => {} })
    cleanups.push(async () => { await membership.stop() })

    // Members whose records this node holds: found without a walk.
    const checks = await Promise.all(members.map(async peer => membership.isMember('webshop', 'small', peer.toString())))
    expect(checks).toEqual([true, true, true])
    expect(walks).toBe(0)

    // A member that announced under a less likely role key, whose record this node holds: still no walk
    // (the records of every role key are read before any key is walked).
    const [representative] = await plantRecords(a, await membershipKeyCid('webshop', 'small', 'representative'), 1)
    expect(await membership.isMember('webshop', 'small', representative?.toString() ?? '')).toBe(true)
    expect(walks).toBe(0)

    // Five strangers at once: one search walks each role key once (not once per stranger), and none is taken for a member.
    const strangers = await Promise.all(Array.from({ length: 5 }, async () => peerIdFromPrivateKey(await generateSigningKey()).toString()))
    const verdicts = await Promise.all(strangers.map(async peer => membership.isMember('webshop', 'small', peer)))
    expect(verdicts).toEqual([false, false, false, false, false])
    expect(walks).toBe(3)

    // An election's lookup walks the keys of electable members only: no election seats a follower.
    await membership.lookup('webshop', 'small')
    expect(walks).toBe(5)
  }, 60_000)
})
