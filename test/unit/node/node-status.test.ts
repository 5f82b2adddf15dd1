import { describe, expect, it } from 'vitest'
import { connectedPeerCount } from '../../../src/node/node-status.ts'

/** Connections as libp2p lists them: one per socket, so a peer may appear more than once. */
function connections (...peers: string[]): { getConnections: () => any[] } {
  return { getConnections: () => peers.map(peer => ({ remotePeer: { toString: () => peer } })) }
}

describe('connectedPeerCount', () => {
  it('counts each connected peer once, however many connections it has', () => {
    expect(connectedPeerCount(connections())).toBe(0)
    expect(connectedPeerCount(connections('a'))).toBe(1)
    expect(connectedPeerCount(connections('a', 'b', 'a', 'c', 'b'))).toBe(3)
  })
})
