/**
 * The node daemon: wires store, identity, libp2p, gossip, sync, chunk
 * serving, DHT membership and the rollout engine for every configured app,
 * and the local control API (`mirage node start|status`, `vendor seed`).
 */
export { loadNodeConfig, parseNodeConfig, DEFAULT_ANNOUNCE_INTERVAL_MS, DEFAULT_SYNC_INTERVAL_MS } from './config.ts'
export type { NodeConfig, AppConfig } from './config.ts'
export { ConfigError, ControlError } from './errors.ts'
export { startMirageNode } from './mirage-node.ts'
export type { MirageNode, MirageNodeInit } from './mirage-node.ts'
export { callControl, controlSocketPath } from './control-server.ts'
export type { NodeStatus, AppStatus, ReleaseStatus, ClusterStatus } from './node-status.ts'
export { PEER_KEY_FILE } from './identity.ts'
