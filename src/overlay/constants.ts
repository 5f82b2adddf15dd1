/**
 * Kademlia on a Mirage-only protocol id, so a Mirage swarm never mixes with
 * the public IPFS DHT (`/ipfs/kad/1.0.0`).
 */
export const DHT_PROTOCOL = '/mirage/kad/1.0.0'

/** Request/response catch-up of releases, overrides, test starts and outcomes (see docs/PROTOCOL.md). */
export const SYNC_PROTOCOL = '/mirage/sync/1.0.0'

/** Chunk transfer (see docs/PROTOCOL.md). */
export const CHUNKS_PROTOCOL = '/mirage/chunks/1.0.0'

/**
 * Dial and upgrade budgets sized for a loaded 2-core machine: DESIGN.md
 * measured handshake timeouts with the 5 s defaults when many peers pull
 * from one busy peer.
 */
export const DEFAULT_DIAL_TIMEOUT_MS = 30_000
export const DEFAULT_UPGRADE_TIMEOUT_MS = 30_000

/** Bounded concurrent dials: a burst of dials to one busy peer is what times out. */
export const DEFAULT_MAX_PARALLEL_DIALS = 16

/**
 * Largest gossip message: signed envelopes of releases (≤ 2 MiB with a
 * 16,384-chunk manifest) plus gossipsub framing.
 */
export const MAX_GOSSIP_MESSAGE_BYTES = 3 * 1024 * 1024
