/**
 * Announcement rounds as the swarm grows: every doubling of connections
 * renews the DHT record, while the gossip goes out again only until one
 * has spread (reached GOSSIP_SPREAD_REACH peers directly). A real store;
 * libp2p's connections and DHT are stand-ins counting what is asked.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { GOSSIP_SPREAD_REACH, GROWTH_CHECK_MS, Membership, gossipAgainOnGrowth } from '../../../src/node/membership.ts'
import type { OverlayLibp2p } from '../../../src/overlay/index.ts'
import { openStore } from '../../../src/store/index.ts'
import type { Store } from '../../../src/store/index.ts'
import { generateSigningKey } from '../../../src/trust/index.ts'

let dir: string
let store: Store
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirage-membership-growth-'))
  store = await openStore({ dir })
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
})
afterEach(async () => {
  vi.useRealTimers()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('gossipAgainOnGrowth', () => {
  it('gossips again until an announcement went to a mesh\'s worth of peers', () => {
    expect(gossipAgainOnGrowth(undefined)).toBe(true)
    expect(gossipAgainOnGrowth(0)).toBe(true)
    expect(gossipAgainOnGrowth(GOSSIP_SPREAD_REACH - 1)).toBe(true)
    expect(gossipAgainOnGrowth(GOSSIP_SPREAD_REACH)).toBe(false)
    expect(gossipAgainOnGrowth(40)).toBe(false)
  })
})

describe('announcement rounds as the swarm grows', () => {
  it('renews the DHT record at every doubling, and gossips only until the gossip has spread', async () => {
    const peerId = peerIdFromPrivateKey(await generateSigningKey())
    let connections = 1
    let provides = 0
    const libp2p = {
      peerId,
      getConnections: () => Array.from({ length: connections }),
      contentRouting: { provide: async () => { provides++ } }
    } as unknown as OverlayLibp2p
    // The gossip reaches every connection but the seed's.
    const reaches: number[] = []
    const membership = new Membership({
      libp2p,
      store,
      own: [{ app: 'webshop', clusterId: 'A', role: 'auto' }],
      announceIntervalMs: 3_600_000,
      onMember: () => {},
      publishAnnouncement: async () => { reaches.push(connections - 1); return connections - 1 }
    })
    const roundsDone = async (n: number): Promise<void> => {
      await vi.waitFor(() => { expect(provides).toBe(n) })
      await vi.waitFor(() => { expect(membership.lastAnnounce?.peers).toBe(connections) })
    }
    const growTo = async (peers: number, round: number): Promise<void> => {
      connections = peers
      await vi.advanceTimersByTimeAsync(GROWTH_CHECK_MS)
      await roundsDone(round)
    }
    try {
      await membership.start()
      await roundsDone(1)
      // 1 → 2 connections: the first gossip reached nobody, so it goes again.
      await growTo(2, 2)
      // 2 → 8: it reached one peer, so again; this one reaches seven.
      await growTo(8, 3)
      // 8 → 16 → 32: the DHT record is renewed each time, the gossip is not.
      await growTo(16, 4)
      await growTo(32, 5)
      expect(reaches).toEqual([0, 1, 7])
      // A full round (the periodic refresh, or a move to another cluster) gossips whatever the reach.
      await membership.moveTo('webshop', 'B')
      await roundsDone(6)
      expect(reaches).toEqual([0, 1, 7, 31])
    } finally {
      await membership.stop()
    }
  })
})
