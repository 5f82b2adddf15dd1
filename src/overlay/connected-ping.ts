import { isPeerId, serviceCapabilities } from '@libp2p/interface'
import type { DialProtocolOptions, DialTarget, Startable } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import type { Ping, PingComponents, PingInit } from '@libp2p/ping'

/** A ping to a peer this node holds no connection to, refused without dialling it. */
export class NotConnectedError extends Error {
  override name = 'NotConnectedError'
}

/**
 * libp2p's ping service, but a ping addressed to a peer id goes only over a
 * connection the node already has: to any other peer it fails at once
 * instead of dialling. Peers still ping this node as before.
 *
 * The ping's one caller is kad-dht's routing table. It pings every peer named
 * in any DHT answer before adding it, and a full bucket's oldest contact
 * before keeping it. At 200 machines in one process (connection cap 49) the
 * dials for those pings were half of all dials, 60 % of them failed in the
 * handshake on the loaded machine, and the tables stayed at 8–14 of their 20
 * contacts, so they asked for more for the whole four-minute formation
 * (counted per thread every 30 s: 1,000–1,500 failed verifications, while
 * every verification over an existing connection passed). A peer reached over
 * an open connection is as alive as a ping can show; one that is not
 * connected is named again by later answers, and enters the table once a
 * lookup has connected to it. The price: a contact that is alive but no
 * longer connected loses its place, after kad-dht's 10-minute ping
 * threshold, to a connected newcomer.
 */
export function connectedPeersPing (init?: PingInit): (components: PingComponents) => Ping & Startable {
  const createPing = ping(init)
  return (components) => new ConnectedPeersPing(createPing(components) as Ping & Startable, components)
}

class ConnectedPeersPing implements Ping, Startable {
  // What kad-dht's service dependency on '@libp2p/ping' looks for.
  readonly [Symbol.toStringTag] = '@libp2p/ping'
  readonly [serviceCapabilities]: string[] = ['@libp2p/ping']
  readonly #inner: Ping & Startable
  readonly #components: PingComponents

  constructor (inner: Ping & Startable, components: PingComponents) {
    this.#inner = inner
    this.#components = components
  }

  async start (): Promise<void> {
    await this.#inner.start()
  }

  async stop (): Promise<void> {
    await this.#inner.stop()
  }

  async ping (peer: DialTarget, options?: DialProtocolOptions): Promise<number> {
    if (isPeerId(peer) && this.#components.connectionManager.getConnections(peer).length === 0) {
      throw new NotConnectedError(`not connected to ${peer.toString()}: pinging it would dial`)
    }
    return await this.#inner.ping(peer, options)
  }
}
