import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { sha256 } from 'multiformats/hashes/sha2'
import { createLibp2p } from 'libp2p'
import {
  DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_MAX_PARALLEL_DIALS, DHT_ALPHA, DHT_DISJOINT_PATHS, DHT_K_BUCKET_SIZE, DHT_ROUTING_TABLE_CONNECTION_SHARE, DEFAULT_UPGRADE_TIMEOUT_MS, DHT_PROTOCOL, GOSSIP_COLOCATION_WHITELIST,
  INBOUND_CONNECTIONS_PER_HOST_PER_SECOND, MAX_GOSSIP_MESSAGE_BYTES, TCP_KEEPALIVE_INITIAL_DELAY_MS
} from './constants.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { Ed25519PrivateKey, Libp2p } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'

// A type alias, not an interface: libp2p's ServiceMap needs an index signature.
export type OverlayServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

export type OverlayLibp2p = Libp2p<OverlayServices>

export interface OverlayLibp2pInit {
  /** The node's persistent identity. */
  privateKey: Ed25519PrivateKey
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. */
  listen: string[]
  dialTimeoutMs?: number
  upgradeTimeoutMs?: number
  /** Connections kept open at most (libp2p's default, 300, when absent). */
  maxConnections?: number
}

/** libp2p's own connection cap, used when the config sets none. */
const LIBP2P_DEFAULT_MAX_CONNECTIONS = 300

/** kad-dht's default depth; deeper tries only matter for swarms far larger than any connection cap. */
const DHT_MAX_PREFIX_LENGTH = 6

/**
 * The depth of the DHT's routing-table trie for a node keeping at most
 * `maxConnections` connections: the deepest (at most 6, kad-dht's default)
 * whose K × 2^depth contacts fit in DHT_ROUTING_TABLE_CONNECTION_SHARE of
 * the cap, and 0 (one bucket of K) when even that does not fit.
 */
export function dhtPrefixLength (maxConnections: number): number {
  if (!(maxConnections > 0)) throw new RangeError(`maxConnections must be positive, got ${maxConnections}`)
  const buckets = DHT_ROUTING_TABLE_CONNECTION_SHARE * maxConnections / DHT_K_BUCKET_SIZE
  return buckets < 2 ? 0 : Math.min(DHT_MAX_PREFIX_LENGTH, Math.floor(Math.log2(buckets)))
}

/**
 * The libp2p node every Mirage machine runs: TCP, Noise, Yamux, identify,
 * ping, Kademlia (server mode, Mirage protocol) and gossipsub.
 */
export async function createOverlayLibp2p (init: OverlayLibp2pInit): Promise<OverlayLibp2p> {
  return createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp({
      dialOpts: { keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_INITIAL_DELAY_MS },
      listenOpts: { keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_INITIAL_DELAY_MS }
    })],
    connectionEncrypters: [noise()],
    // Liveness is TCP keepalive's job (TCP_KEEPALIVE_INITIAL_DELAY_MS), as for the connection monitor below.
    streamMuxers: [yamux({ enableKeepAlive: false })],
    connectionManager: {
      dialTimeout: init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
      inboundUpgradeTimeout: init.upgradeTimeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS,
      maxParallelDials: DEFAULT_MAX_PARALLEL_DIALS,
      ...(init.maxConnections === undefined ? {} : { maxConnections: init.maxConnections }),
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND
    },
    // Liveness is TCP keepalive's job (TCP_KEEPALIVE_INITIAL_DELAY_MS); the
    // ping service stays, to answer peers that do ping.
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        alpha: DHT_ALPHA,
        disjointPaths: DHT_DISJOINT_PATHS,
        kBucketSize: DHT_K_BUCKET_SIZE,
        prefixLength: dhtPrefixLength(init.maxConnections ?? LIBP2P_DEFAULT_MAX_CONNECTIONS),
        // The default mapper drops private and loopback addresses, which
        // silently breaks every local swarm (DESIGN.md, measured).
        peerInfoMapper: passthroughMapper
      }),
      pubsub: gossipsub({
        // Every message is our own signed envelope: gossipsub's signature
        // would be a second one, so ids are content hashes instead.
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: async (message) => (await sha256.digest(message.data)).bytes,
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        maxInboundDataLength: MAX_GOSSIP_MESSAGE_BYTES,
        scoreParams: { IPColocationFactorWhitelist: new Set(GOSSIP_COLOCATION_WHITELIST) }
      })
    }
  })
}
