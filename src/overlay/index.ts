/**
 * The overlay: the libp2p node every machine runs (TCP, Noise, Yamux,
 * identify, ping, Kademlia on a Mirage protocol, gossipsub), the gossip
 * topics, the DHT keys of cluster membership, and the wire protocols (sync,
 * chunks, census). docs/PROTOCOL.md is the specification of everything here.
 */
export { DHT_PROTOCOL, SYNC_PROTOCOL, CHUNKS_PROTOCOL, CENSUS_PROTOCOL } from './constants.ts'
export { createOverlayLibp2p } from './create-libp2p.ts'
export type { OverlayLibp2p, OverlayLibp2pInit, OverlayServices } from './create-libp2p.ts'
export { TOPIC_KINDS, topicName, parseTopicName } from './topics.ts'
export type { TopicKind } from './topics.ts'
export { MEMBER_ROLES, membershipKeyCid } from './dht-keys.ts'
export type { MemberRole } from './dht-keys.ts'
export {
  MAX_ROLLOUT_MESSAGE_BYTES, RolloutMessageError, encodeMemberAnnouncement, decodeMemberAnnouncement, encodeTestStart, decodeTestStart, encodeTestOutcome, decodeTestOutcome
} from './rollout-messages.ts'
export type { MemberAnnouncement, TestStart, TestOutcome } from './rollout-messages.ts'
export {
  SYNC_ITEM_KINDS, MAX_SYNC_ITEMS, SyncProtocolError, SyncServer, syncFromPeer,
  encodeSyncRequest, decodeSyncRequest, encodeSyncFrame, decodeSyncFrame
} from './sync-protocol.ts'
export type { SyncItem, SyncItemKind, SyncRequest, SyncSource, SyncFrame } from './sync-protocol.ts'
export { createChunkServer } from './chunk-server.ts'
export type { ChunkSource, ChunkServer, ChunkServerInit, ChunkServerStats } from './chunk-server.ts'
export { ChunkProtocolError } from './chunk-protocol.ts'
export {
  CENSUS_REFUSALS, CENSUS_TIMEOUT_MS, MAX_CENSUS_ANSWER_BYTES, MAX_CENSUS_FRAME_BYTES, MAX_CENSUS_PAYLOAD_BYTES, CensusProtocolError,
  decodeCensusAnswer, decodeCensusReport, encodeCensusAnswer, encodeCensusReport, openCensus, refusalOf, sealCensus, sendCensus, serveCensusStream
} from './census-protocol.ts'
export type {
  CensusAnswer, CensusDialer, CensusIntake, CensusProtocolErrorReason, CensusRefusal, CensusReport, CensusStreamOptions, OpenedCensus
} from './census-protocol.ts'
export {
  MAX_OVERRIDE_ENVELOPE_BYTES, MAX_OVERRIDE_PAYLOAD_BYTES, MAX_OVERRIDE_REASON_CHARS, OVERRIDE_ACTIONS, OVERRIDE_REJECTION_VERDICTS,
  OverrideMessageError, decodeOverride, encodeOverride, signOverride, validateOverride
} from './override-message.ts'
export type { Override, OverrideAction, OverrideIntakeContext, OverrideRejection, OverrideValidation } from './override-message.ts'
