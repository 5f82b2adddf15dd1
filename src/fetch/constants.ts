/**
 * Limits and defaults of the multi-peer chunk download. Every queue, retry
 * and wait of a download is bounded by one of these.
 */

/**
 * Chunk requests kept outstanding per peer (pipelined on its stream). One
 * at a time leaves a peer's link idle for a round trip and a disk read per
 * chunk; measured on loopback (one stream, 1 MiB chunks, the server reading
 * ahead), 2, 4 and 8 in flight all reach the per-stream ceiling DESIGN.md
 * reports. 4 leaves room for higher-latency links and smaller chunks; the
 * total per download is capped by DEFAULT_MAX_IN_FLIGHT_BYTES.
 */
export const DEFAULT_MAX_IN_FLIGHT_PER_PEER = 4

/**
 * Chunk bytes requested and not yet received, over all peers of a download
 * (at least one chunk). A link needs only its bandwidth-delay product in
 * flight (≈ 1 MB for 20 MB/s at 50 ms); more only queues behind other
 * traffic on the same connections. In bench/fetch.bench.ts, with 20
 * followers each keeping 4 chunks in flight to each of 20 peers, queues grew
 * until libp2p's connection monitor (5 s minimum ping timeout) aborted
 * connections and followers dropped each other.
 */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024

/**
 * Chunk requests outstanding to one last-resort peer (the vendor/seed). Kept
 * at one: the seed is asked only for chunks nobody else holds, and every
 * request it answers while other followers could have picked the same chunk
 * is a copy the swarm did not need from it (bench/fetch.bench.ts measures
 * the seed's upload in multiples of the artifact).
 */
export const DEFAULT_MAX_IN_FLIGHT_LAST_RESORT = 1

/**
 * Streams opened per peer, the requests spread over them. One pipelined
 * stream matched two or four streams in bench/fetch.bench.ts, and each
 * stream costs the server a handler and a read timer.
 */
export const DEFAULT_STREAMS_PER_PEER = 1

/**
 * How long a peer may take to answer the oldest request outstanding on its
 * stream before the stream is abandoned and its chunks retried elsewhere.
 * Generous: a 16 MiB chunk from a busy peer on a loaded 2-core machine, or
 * from a peer under a tight upload limit, takes seconds.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 20_000

/**
 * How long a download may make no progress (nothing in flight, nothing
 * assignable: some chunk has no reachable holder) before it fails naming the
 * missing chunks. Peers are re-asked throughout; a minute covers a DHT
 * lookup and a late seed.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 60_000

/**
 * How often each peer is re-asked for its bitfield. Followers that are
 * downloading gain chunks all the time, and a fresh bitfield is what lets
 * them take those chunks from each other: measured (4 followers, 8 MiB in
 * 256 KiB chunks, one process) 250 ms took half the time of 1 s, with the
 * same seed upload; for 10 followers of 16 MiB the two were even. A `have`
 * exchange is ≈ 100 bytes each way, so 4 per second per peer is cheap for a
 * node, though it grows as peers × peers when one process runs a swarm.
 */
export const DEFAULT_HAVE_REFRESH_MS = 250

/**
 * Longest wait before a peer is re-asked for its bitfield: the wait doubles
 * from DEFAULT_HAVE_REFRESH_MS while the peer's bitfield stays the same, and
 * drops back at its first change. Without it every download asked each of
 * up to 32 peers four times a second (ten times when starved) whatever they
 * held: 50 machines downloading at once in one process (paper-staging,
 * all-at-once) made thousands of `have` exchanges a second, the chunk
 * requests queued behind them past their timeout, and the seed sent 70
 * copies of the artifact. Half of DEFAULT_SHARE_GRACE_MS: a follower still
 * sees a quiet peer's first new chunk before it stops waiting for that peer
 * and asks the seed.
 */
export const MAX_HAVE_REFRESH_MS = 1_000

/**
 * Soonest a peer is re-asked for its bitfield when the download has nothing
 * to do (then at half its current wait, never sooner than this).
 */
export const MIN_HAVE_REFRESH_MS = 100

/** How often the candidate peer list (DHT providers + connected peers) is asked again. */
export const DEFAULT_PEER_REFRESH_MS = 5_000

/** Soonest the candidate list is asked again when the download has nothing to do. */
export const MIN_PEER_REFRESH_MS = 1_000

/**
 * How long a follower with nothing in flight to other followers, seeing no
 * peer advertise a new chunk, waits for the owner of a seed-only chunk (see
 * ChunkScheduler `self`) before asking the seed for it itself. Owners fetch
 * their share at full depth from the start, so while the swarm makes
 * progress waiting is rewarded; two quiet seconds bound the cost of an
 * owner that died. Also how long after its first chunk a follower that has
 * seen no other follower gain any decides it is alone and pulls from the
 * seed at full depth.
 */
export const DEFAULT_SHARE_GRACE_MS = 2_000

/**
 * How long after a download first makes progress a peer that knows the
 * artifact but has not been seen gaining a chunk still counts as a follower
 * that will fetch its share of the seed's chunks. In bench/fetch.bench.ts
 * (20 followers, one worker thread each on 2 cores) some followers' first
 * chunk came 3 s after the first follower's; with 2 s their shares were
 * handed to others and the seed sent about two copies. A node that knows a
 * release but is not downloading it (its stage has not come) delays the
 * others' use of the seed by this much at most.
 */
export const DEFAULT_JOIN_GRACE_MS = 10_000

/** Failed attempts (timeout, stream error, bad bytes) after which one chunk fails the download. */
export const DEFAULT_MAX_ATTEMPTS_PER_CHUNK = 8

/**
 * Wait before a chunk is retried once every holder has failed it, doubled
 * per further failure up to CHUNK_RETRY_BACKOFF_MAX_MS.
 */
export const CHUNK_RETRY_BACKOFF_MS = 250
export const CHUNK_RETRY_BACKOFF_MAX_MS = 5_000

/**
 * Wait before a peer whose stream failed (timeout, reset, dial error) gets
 * new requests, doubled per consecutive failure up to PEER_BACKOFF_MAX_MS.
 */
export const PEER_BACKOFF_MS = 500
export const PEER_BACKOFF_MAX_MS = 10_000

/**
 * Stream or dial failures in a row (at most one counted per backoff period,
 * any good answer resets the count) after which a peer is dropped from the
 * download: with PEER_BACKOFF_MS doubling to PEER_BACKOFF_MAX_MS, at least
 * 35 s of trying. On an overloaded machine libp2p's connection monitor
 * aborts connections whose ping is slow and the inbound-connection rate
 * limit refuses the redials (both seen in bench/fetch.bench.ts at load
 * average 40–80, where 5 strikes dropped a hundred live peers and sent
 * their chunks to the seed), so failures in a row are weak proof a peer
 * is gone.
 */
export const MAX_PEER_STRIKES = 8

/**
 * `missing` answers for chunks a peer advertised, after which it is dropped:
 * a peer whose bitfield keeps lying would otherwise be asked forever.
 */
export const MAX_MISSING_ANSWERS_PER_PEER = 16

/** Candidate peers one download talks to (last-resort peers come on top). */
export const DEFAULT_MAX_PEERS = 32

/** Dials in progress at once for one download (DESIGN.md: bursts of dials to a busy peer time out). */
export const MAX_CONCURRENT_DIALS = 8

/** Budget for opening a chunks stream, sized like the overlay's dial timeout for a loaded machine. */
export const DEFAULT_DIAL_TIMEOUT_MS = 30_000

/**
 * Bytes of chunks requested but not yet stored, over all peers: bounds a
 * download's memory when the disk is slower than the network.
 */
export const MAX_BUFFERED_CHUNK_BYTES = 64 * 1024 * 1024

/** Chunks of a resumed download read back and verified at once. */
export const RESUME_CHECK_CONCURRENCY = 4

/** How long a finished download waits for its streams to close gracefully. */
export const CLOSE_TIMEOUT_MS = 5_000
