/**
 * Kademlia on a Mirage-only protocol id, so a Mirage swarm never mixes with
 * the public IPFS DHT (`/ipfs/kad/1.0.0`).
 */
export const DHT_PROTOCOL = '/mirage/kad/1.0.0'

/** Request/response catch-up of releases, overrides, test starts and outcomes (see docs/PROTOCOL.md). */
export const SYNC_PROTOCOL = '/mirage/sync/1.0.0'

/** Chunk transfer (see docs/PROTOCOL.md). */
export const CHUNKS_PROTOCOL = '/mirage/chunks/1.0.0'

/** Sealed problem reports on their way to the vendor, directly or through custodians (see docs/PROTOCOL.md). */
export const REPORT_PROTOCOL = '/mirage/report/1.0.0'

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
 * Inbound connections accepted per second from one host (libp2p's default
 * is 5). Every machine of a local swarm (tests, scenarios, benchmarks) is
 * the same host, 127.0.0.1: with the default, 20+ nodes joining at once were
 * refused with ECONNRESET (bench/fetch.bench.ts). Still a bound, so one host
 * cannot flood a node with handshakes.
 */
export const INBOUND_CONNECTIONS_PER_HOST_PER_SECOND = 64

/**
 * Lookup width of the DHT: Kademlia's α = 3 requests in flight on each of
 * S/Kademlia's d = 3 disjoint paths. js-libp2p's defaults (α = 10, d = α)
 * are sized for the public IPFS network, where most contacts are dead:
 * 100 requests in flight per lookup, and every peer named in an answer is
 * dialled and pinged before it may enter the routing table. In a Mirage
 * swarm the contacts are live machines, and that width made every lookup
 * touch most of a 200-machine swarm: of 13,125 dials in 150 s (100
 * machines on one thread), 9,337 were routing-table pings and 3,108 lookup
 * requests, and 10,049 of them timed out in the handshake on the loaded
 * machine, to be redone by the next lookup (counted, scenario
 * `quickstart` at 200 machines, the swarm never formed).
 */
export const DHT_ALPHA = 3
export const DHT_DISJOINT_PATHS = 3

/**
 * The DHT's routing table holds at most K × 2^prefixLength contacts, and
 * js-libp2p verifies each with a ping over a connection before adding it.
 * Its default depth (6: 1,280 contacts) makes a node want every machine of
 * a swarm of a few hundred; with a connection cap below that, each verified
 * contact's connection is pruned or refused at the other end, and the next
 * lookup that names the contact dials it again. At 200 machines in one
 * process (cap 49, lookups already at α = d = 3) that loop had not ended
 * after 18 minutes: of one thread's 50,578 dials, 34,767 were routing-table
 * pings and half of all were aborted mid-handshake. So the table is sized
 * to fit in this share of the connection cap, leaving the rest for gossip
 * meshes, chunk transfers and lookups.
 */
export const DHT_K_BUCKET_SIZE = 20
export const DHT_ROUTING_TABLE_CONNECTION_SHARE = 0.5

/**
 * Dead peers are found by the kernel's TCP keepalive, not by libp2p's
 * connection monitor: after this long without traffic the kernel probes
 * the connection (libuv then sets 1 s between probes and 10 probes), so a
 * vanished peer's connection closes within about 25 s of going quiet, at no
 * JavaScript cost. The monitor pinged every connection from both ends on a
 * timer, each ping a new stream with a protocol negotiation; every node of
 * a local swarm started together, so the pings came in bursts: 3,000
 * streams within 15 s every minute at 50 machines in one process, as many
 * as the DHT's busiest moment (counted, paper-staging), and a full mesh of
 * n machines pings n² times a minute. Yamux's own keepalive (a ping frame
 * each way on every connection every 30 s) is off for the same reason:
 * 1.3 s of the socket writes of 200 idle machines over 110 s (profiled). A
 * live but slow peer is never cut:
 * on a loaded 2-core machine pings over busy connections took longer than
 * the monitor's timeout and live transfers were cut (bench/fetch.bench.ts).
 */
export const TCP_KEEPALIVE_INITIAL_DELAY_MS = 15_000

/**
 * Source addresses exempt from gossipsub's IP-colocation penalty. The
 * penalty (more than 10 peers from one IP: -5 × surplus², a sybil defence)
 * stays for real addresses; but every machine of a local swarm is
 * 127.0.0.1, and from 11 nodes up every peer fell below the graylist
 * threshold and gossip stopped altogether (seen in bench/overlay.bench.ts:
 * with 21 machines, releases and outcomes arrived only through sync).
 */
export const GOSSIP_COLOCATION_WHITELIST = ['127.0.0.1', '::1']

/**
 * Largest gossip message: signed envelopes of releases (≤ 2 MiB with a
 * 16,384-chunk manifest) plus gossipsub framing.
 */
export const MAX_GOSSIP_MESSAGE_BYTES = 3 * 1024 * 1024

/**
 * The census: a machine that opted in sends its salted fingerprint to the
 * vendor's seed, which the vendor clusters (issue 4 item 5; see
 * docs/PROTOCOL.md).
 */
export const CENSUS_PROTOCOL = '/mirage/census/1.0.0'
