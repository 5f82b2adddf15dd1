/**
 * The machine's environment for an app and the cluster it puts the machine
 * in (Mirage §4.1: machines with the same relevant environment form a
 * cluster). Environmental resources are named in a spec (files of several
 * kinds parsed into items, environment variables, command outputs,
 * installed packages), read, and reduced to a fingerprint of salted value
 * hashes that can be shared without revealing the values; its relevant
 * part digests into the cluster id. Discovery by tracing proposes a spec.
 */
export { clusterResources, computeClusterId, fingerprintCluster } from './cluster-id.ts'
export type { ClusterSpec } from './cluster-id.ts'
export { checkEnvSpec, checkResources, mergeResources, parseEnvSpec, readEnvSpec, MAX_SPEC_BYTES, MAX_SPEC_RESOURCES } from './spec.ts'
export type { EnvSpec, ResourceSpec, ResourceSpecInput } from './spec.ts'
export { checkFingerprint, clusterIdOf, factsDigest, fingerprintDigest, fingerprintEnvironment, relevantFacts, MAX_FINGERPRINT_FACTS } from './fingerprint.ts'
export type { Fingerprint, FingerprintSpec, ResourceInfo } from './fingerprint.ts'
export { diffFingerprints, formatFingerprintDiff } from './fingerprint-diff.ts'
export type { FingerprintDiff, ResourceDifference } from './fingerprint-diff.ts'
export { readResourceItems, fileSha256, MISSING } from './resource-items.ts'
export type { ReadEnvironmentOptions, ResourceItems } from './resource-items.ts'
export { parseDpkgStatus, packageMatches, DPKG_STATUS_PATH } from './dpkg-status.ts'
export type { InstalledPackage } from './dpkg-status.ts'
export { defaultSalt, hashValue } from './value-hash.ts'
export { ConfigParseError, EnvSpecError, FingerprintError } from './errors.ts'
export { RESOURCE_KINDS, CONFIG_KINDS } from './types.ts'
export { discoverSpec, proposeSpec, runTrace, parseStrace, tracingUnavailableReason, writeSpecFile } from './trace/index.ts'
export type { ConfigItems, ConfigKind, Fact, ResourceKind } from './types.ts'
