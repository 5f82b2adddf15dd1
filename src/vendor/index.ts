/**
 * The vendor: its key and records (`vendor init`), seeding releases
 * (`vendor publish`), the census its seed collected (`vendor census`) and
 * its clustering into a signed cluster map (`vendor cluster`, Mirage §4.1);
 * closing the loop (Mirage §3): the report key and the inbox of sealed
 * problem reports (`vendor reports`), halt and clear overrides
 * (`vendor halt`, `vendor clear`), and fixes that target some clusters
 * (`vendor publish --targets`).
 */
export { VendorDirError } from './errors.ts'
export {
  initVendorDir, openVendorDir, vendorReportsDir, VENDOR_KEY_FILE, VENDOR_PUBLIC_KEY_FILE, VENDOR_REPORT_KEY_FILE, VENDOR_REPORT_PUBLIC_KEY_FILE,
  VENDOR_REPORTS_DIR, PUBLISHED_FILE
} from './vendor-dir.ts'
export type { VendorDir, PublishedEntry } from './vendor-dir.ts'
export { vendorPublish } from './vendor-publish.ts'
export type { VendorPublishInit } from './vendor-publish.ts'
export { CensusFileError, VendorClusterError, VendorOverrideError } from './errors.ts'
export { readCensusFile, saveCensus, summarizeCensus, MAX_WHOLE_CENSUS_FILE_BYTES, MAX_CENSUS_LINE_BYTES, MAX_CENSUS_FILE_ENTRIES } from './census-file.ts'
export type { CensusFileEntry, CensusSummary, ReadCensusOptions } from './census-file.ts'
export { readClusterMapLog, recordClusterMap, CLUSTER_MAP_LOG_FILE } from './cluster-map-log.ts'
export type { ClusterMapLogEntry } from './cluster-map-log.ts'
export { vendorCluster, CLUSTER_MAPS_DIR } from './vendor-cluster.ts'
export type { VendorClusterInit, VendorClusterResult } from './vendor-cluster.ts'
export { issueOverride, readOverrideLog, resolveReleaseRef, OVERRIDE_LOG_FILE, OVERRIDES_DIR } from './vendor-overrides.ts'
export type { IssueOverrideInit, IssuedOverride, OverrideLogEntry, ReleaseRef } from './vendor-overrides.ts'
export { readReportInbox, DEFAULT_MAX_INBOX_REPORTS, REPORT_FILE_SUFFIX } from './vendor-reports.ts'
export type { InboxGroup, InboxReport, ReadInboxOptions, ReportInbox, UnreadableReport } from './vendor-reports.ts'
