/**
 * The node daemon: wires store, identity, libp2p, gossip, sync, chunk
 * serving, DHT membership and the rollout engine for every configured app,
 * the census (machines report their fingerprints; the vendor's seed
 * collects them), and the local control API (`mirage node start|status`,
 * `vendor seed`, `vendor census`).
 */
export { loadNodeConfig, parseNodeConfig, DEFAULT_ANNOUNCE_INTERVAL_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_SYNC_INTERVAL_MS, MIN_MAX_CONNECTIONS } from './config.ts'
export type { NodeConfig, AppConfig } from './config.ts'
export { ConfigError, ControlError } from './errors.ts'
export { startMirageNode } from './mirage-node.ts'
export { GOSSIP_SPREAD_REACH, gossipAgainOnGrowth, swarmGrewSinceAnnounce } from './membership.ts'
export type { MirageNode, MirageNodeInit } from './mirage-node.ts'
export { callControl, controlSocketPath, openControlStream } from './control-server.ts'
export {
  createCensusCollector, DEFAULT_MAX_CENSUS_ENTRIES_PER_APP, DEFAULT_CENSUS_MIN_INTERVAL_PER_PEER_MS, DEFAULT_MAX_CONCURRENT_CENSUS
} from './census-collector.ts'
export type { CensusCollector, CensusCollectorInit, CensusCollectorComponents, CensusCollectorStats, CensusEntry } from './census-collector.ts'
export { createCensusReporter, censusApps, DEFAULT_CENSUS_INTERVAL_MS, DEFAULT_CENSUS_CHECK_INTERVAL_MS } from './census-reporter.ts'
export type { CensusApp, CensusReporter, CensusReporterInit, CensusReporterComponents, CensusReportEvent } from './census-reporter.ts'
export type { NodeProgress, NodeStatus, AppStatus, ReleaseStatus, ClusterStatus } from './node-status.ts'
export { PEER_KEY_FILE } from './identity.ts'
