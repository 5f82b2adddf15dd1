/**
 * The vendor: its key and records (`vendor init`), and seeding releases
 * (`vendor publish`). Later: census, clustering, reports, halt/clear/fix.
 */
export { VendorDirError } from './errors.ts'
export { initVendorDir, openVendorDir, VENDOR_KEY_FILE, VENDOR_PUBLIC_KEY_FILE, PUBLISHED_FILE } from './vendor-dir.ts'
export type { VendorDir, PublishedEntry } from './vendor-dir.ts'
export { vendorPublish } from './vendor-publish.ts'
export type { VendorPublishInit } from './vendor-publish.ts'
