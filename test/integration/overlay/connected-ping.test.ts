/**
 * The overlay's ping service (src/overlay/connected-ping.ts) pings a peer id
 * only over a connection that is already open: the DHT's contact checks must
 * never dial. Real overlay nodes on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { NotConnectedError } from '../../../src/overlay/connected-ping.ts'
import { createOverlayLibp2p } from '../../../src/overlay/index.ts'
import type { OverlayLibp2p } from '../../../src/overlay/index.ts'
import { generateSigningKey } from '../../../src/trust/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'

const nodes: OverlayLibp2p[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async node => { await node.stop() })) })

/** DHT contacts of a node: with two nodes, a table of one holds exactly the other. */
function contacts (node: OverlayLibp2p): number {
  return (node.services.dht as SingleKadDHT).routingTable.size
}

async function startNodes (count: number): Promise<OverlayLibp2p[]> {
  for (let i = 0; i < count; i++) nodes.push(await createOverlayLibp2p({ privateKey: await generateSigningKey(), listen: ['/ip4/127.0.0.1/tcp/0'] }))
  return nodes
}

describe('overlay ping', () => {
  it('refuses to ping a peer it is not connected to, and dials nothing, although it knows the address', async () => {
    const [a, b] = await startNodes(2) as [OverlayLibp2p, OverlayLibp2p]
    await a.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })

    await expect(a.services.ping.ping(b.peerId)).rejects.toBeInstanceOf(NotConnectedError)
    expect(a.getConnections(b.peerId)).toHaveLength(0)
    expect(b.getConnections(a.peerId)).toHaveLength(0)
  })

  it('lets a connected peer into the DHT routing table, and pings it over the open connection either way', async () => {
    const [a, b] = await startNodes(2) as [OverlayLibp2p, OverlayLibp2p]
    await a.dial(b.getMultiaddrs())
    // Each DHT pings the new peer first, and ping allows one outbound stream
    // per connection: let those finish, so that ours are not refused.
    await waitFor('both DHTs to check the other', () => contacts(a) === 1 && contacts(b) === 1, { timeoutMs: 30_000 })

    expect(await a.services.ping.ping(b.peerId)).toBeGreaterThanOrEqual(0)
    // b's side of the connection is inbound: b answers pings and sends its own over it.
    expect(await b.services.ping.ping(a.peerId)).toBeGreaterThanOrEqual(0)
    expect(a.getConnections(b.peerId)).toHaveLength(1)
  }, 60_000)

  it('still dials an address it is given explicitly', async () => {
    const [a, b] = await startNodes(2) as [OverlayLibp2p, OverlayLibp2p]
    expect(await a.services.ping.ping(b.getMultiaddrs())).toBeGreaterThanOrEqual(0)
  })
})
