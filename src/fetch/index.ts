/**
 * Fetch: the multi-peer chunk download of a release's artifact.
 *
 * Mirage's followers pull an upgrade from the peers that already have it
 * (SOSP 2007, staged deployment; DESIGN.md, "The shape"): a download asks
 * many peers at once over the chunks protocol (src/overlay/chunk-protocol.ts),
 * takes rare chunks first, verifies every chunk against the signed layout
 * before storing it, retries elsewhere on timeouts and bad bytes, resumes
 * from what the store holds, and asks the vendor's seed only for chunks no
 * one else has, so the seed uploads about one copy.
 */
export {
  CHUNK_RETRY_BACKOFF_MAX_MS,
  CHUNK_RETRY_BACKOFF_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_HAVE_REFRESH_MS,
  DEFAULT_MAX_ATTEMPTS_PER_CHUNK,
  DEFAULT_JOIN_GRACE_MS,
  DEFAULT_MAX_IN_FLIGHT_BYTES,
  DEFAULT_MAX_IN_FLIGHT_LAST_RESORT,
  DEFAULT_MAX_IN_FLIGHT_PER_PEER,
  DEFAULT_MAX_PEERS,
  DEFAULT_PEER_REFRESH_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SHARE_GRACE_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  DEFAULT_STREAMS_PER_PEER,
  MAX_PEER_STRIKES
} from './constants.ts'
export { ChunkAttemptsExhaustedError, ChunkChannelError, DownloadInitError, DownloadStalledError } from './errors.ts'
export type { ChunkChannelErrorReason } from './errors.ts'
export { ChunkScheduler, shareOwner } from './chunk-scheduler.ts'
export type { AssignResult, Assignment, ChunkSchedulerInit, ChunkState, FailResult, Share } from './chunk-scheduler.ts'
export { ChunkChannel } from './chunk-channel.ts'
export type { ChunkChannelInit, ChunkDialer } from './chunk-channel.ts'
export { downloadArtifact } from './download-artifact.ts'
export type { ChunkFailureReason, DownloadInit, DownloadProgress, DownloadResult, PeerDropReason, PeersHint } from './download-artifact.ts'
export { libp2pChunkDialer } from './libp2p-chunk-dialer.ts'
