/**
 * Sizes and limits of the content area. Every limit here bounds something a
 * peer or a vendor archive could otherwise make unbounded (memory, disk,
 * inodes, time).
 */

/**
 * Chunk size used when a publisher does not choose one. DESIGN.md measured
 * the JS libp2p stack, not hashing or TCP, as the bottleneck (≈ 230–290 MB/s
 * per stream), so per-chunk overhead must stay small: 1 MiB chunks mean one
 * request per MiB and 32 bytes of manifest per MiB, while a lost or bad chunk
 * still costs only a 1 MiB retry.
 */
export const DEFAULT_CHUNK_SIZE_BYTES = 1024 * 1024

/**
 * Below 64 KiB the per-request cost of the chunk protocol dominates transfer
 * time and the manifest (one digest per chunk) grows past what is reasonable
 * to sign and sync.
 */
export const MIN_CHUNK_SIZE_BYTES = 64 * 1024

/**
 * A chunk is held whole in memory and verified before it is stored or served,
 * once per concurrent download: 16 MiB bounds that memory and the size of one
 * chunk-protocol frame.
 */
export const MAX_CHUNK_SIZE_BYTES = 16 * 1024 * 1024

/**
 * A layout lists one 32-byte digest per chunk inside the signed manifest, so
 * this bounds the manifest at 512 KiB of digests (16 GiB of artifact at the
 * default chunk size). Decoders can refuse larger layouts before allocating.
 */
export const MAX_ARTIFACT_CHUNKS = 16_384

/** SHA-256 digests are 32 bytes; anything else is not a chunk digest. */
export const DIGEST_LENGTH_BYTES = 32

/**
 * Size of each read of a file while packing. 1 MiB keeps memory flat for
 * files of any size while making the number of fs round trips (each one a
 * hop through the libuv thread pool) negligible next to hashing.
 */
export const PACK_READ_SIZE_BYTES = 1024 * 1024

/**
 * File system calls kept in flight while packing (lstat during the walk,
 * whole reads of small files while earlier entries are written). One at a
 * time, each call is a libuv thread-pool round trip (≈ 40 µs measured), so a
 * tree of 10k small files took seconds; 16 keeps the pool's 4 threads busy
 * while bounding read-ahead memory at 16 × PACK_READ_SIZE_BYTES.
 */
export const PACK_CONCURRENT_READS = 16

/**
 * Most entries an archive may hold, enforced by both pack and unpack. Large
 * real applications (a full `node_modules`) have tens of thousands of files;
 * far beyond that is an inode-exhaustion bomb, not a release.
 */
export const MAX_ARCHIVE_ENTRIES = 100_000

/**
 * Most file bytes an archive may unpack to, enforced by both pack and unpack.
 * Our archives are not compressed, so this mostly guards against a mistaken
 * publish filling the disk of every follower; it matches the largest layout
 * at the default chunk size (MAX_ARTIFACT_CHUNKS × 1 MiB).
 */
export const MAX_UNPACKED_SIZE_BYTES = 16 * 1024 * 1024 * 1024

/**
 * Most symlinks followed while checking where an archived symlink points.
 * Same value as Linux's MAXSYMLINKS, past which the kernel answers ELOOP.
 */
export const MAX_SYMLINK_HOPS = 40
