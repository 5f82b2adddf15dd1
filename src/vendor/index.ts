/**
 * The vendor: its key and records (`vendor init`), seeding releases
 * (`vendor publish`), the census its seed collected (`vendor census`) and
 * its clustering into a signed cluster map (`vendor cluster`, Mirage §4.1).
 * Later: reports, halt/clear/fix.
 */
export { VendorDirError } from './errors.ts'
export { initVendorDir, openVendorDir, VENDOR_KEY_FILE, VENDOR_PUBLIC_KEY_FILE, PUBLISHED_FILE } from './vendor-dir.ts'
export type { VendorDir, PublishedEntry } from './vendor-dir.ts'
export { vendorPublish } from './vendor-publish.ts'
export type { VendorPublishInit } from './vendor-publish.ts'
export { CensusFileError, VendorClusterError } from './errors.ts'
export { readCensusFile, saveCensus, summarizeCensus, MAX_WHOLE_CENSUS_FILE_BYTES, MAX_CENSUS_LINE_BYTES, MAX_CENSUS_FILE_ENTRIES } from './census-file.ts'
export type { CensusFileEntry, CensusSummary, ReadCensusOptions } from './census-file.ts'
export { readClusterMapLog, recordClusterMap, CLUSTER_MAP_LOG_FILE } from './cluster-map-log.ts'
export type { ClusterMapLogEntry } from './cluster-map-log.ts'
export { vendorCluster, CLUSTER_MAPS_DIR } from './vendor-cluster.ts'
export type { VendorClusterInit, VendorClusterResult } from './vendor-cluster.ts'
