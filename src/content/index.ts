/**
 * Content: how a release's bytes are packed, cut, named, stored and checked.
 *
 * A vendor's application directory becomes one deterministic tar archive
 * (same tree, same bytes), cut into fixed-size chunks. Each chunk is named by
 * its SHA-256 (a raw CID) and the whole artifact by a Merkle-style root CID
 * over its layout, which the signed release manifest carries. Chunks live in
 * a content-addressed folder that verifies bytes on every write and read, so
 * a node never stores or serves a chunk that does not match the manifest
 * (DESIGN.md, "Trust"). Followers reassemble the archive from chunks fetched
 * from many peers and extract it safely into a staging directory before
 * installing (Mirage's staged deployment, SOSP 2007).
 */
export {
  DEFAULT_CHUNK_SIZE_BYTES,
  DIGEST_LENGTH_BYTES,
  MAX_ARCHIVE_ENTRIES,
  MAX_ARTIFACT_CHUNKS,
  MAX_CHUNK_SIZE_BYTES,
  MAX_SYMLINK_HOPS,
  MAX_UNPACKED_SIZE_BYTES,
  MIN_CHUNK_SIZE_BYTES,
  PACK_CONCURRENT_READS,
  PACK_READ_SIZE_BYTES
} from './constants.ts'
export {
  ChunkCorruptError,
  ChunkMismatchError,
  ChunkMissingError,
  ContentError,
  DestinationNotEmptyError,
  PackError,
  UnsafeArchiveError
} from './errors.ts'
export type { ContentErrorReason, PackErrorReason, UnsafeArchiveReason } from './errors.ts'
export {
  artifactRoot,
  checkLayout,
  chunkCid,
  chunkDigestFromCid,
  digestFromHex,
  digestToHex,
  expectedChunkLength,
  sha256
} from './content-id.ts'
export type { ArtifactLayout } from './content-id.ts'
export { chunkStream } from './chunker.ts'
export { ATOMIC_TEMP_MARKER, writeFileAtomically } from './atomic-file.ts'
export { openChunkStore, readArtifact, verifyArtifactChunks } from './chunk-store.ts'
export type { ChunkProblem, ChunkPutOptions, ChunkStore } from './chunk-store.ts'
export { DEFAULT_RECENT_CHUNK_BYTES, withRecentChunks } from './recent-chunks.ts'
export { ChunkLru } from './chunk-lru.ts'
export { packDirectory } from './archive-pack.ts'
export type { PackOptions, PackProgress } from './archive-pack.ts'
export { unpackArchive } from './archive-unpack.ts'
export type { UnpackOptions, UnpackSummary } from './archive-unpack.ts'
