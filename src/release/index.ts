/**
 * Releases: the signed manifest (app, semver version, growing sequence,
 * expiry, chunked artifact, test, rollout plan), its one canonical encoding,
 * publishing a directory as a release, and verifying one.
 *
 * The rollout plan is Mirage's staging policy (§4): named clusters with
 * their prerequisites (`after`), `k` representatives and a quorum `q`, plus a
 * default rule for clusters the plan does not name. A manifest may also
 * carry the vendor's report key (where machines seal problem reports) and
 * the clusters a fix is for (`targets`).
 */
export {
  MANIFEST_FORMAT, MAX_MANIFEST_BYTES, DEFAULT_RELEASE_LIFETIME_MS, DEFAULT_TEST_TIMEOUT_MS,
  DEFAULT_START_TIMEOUT_MS, DEFAULT_REPORT_GRACE_MS, CLUSTER_NAME_PATTERN, MAX_PLAN_CLUSTERS
} from './constants.ts'
export { PlanInvalidError, ManifestInvalidError, ReleaseRefusedError, PublishError } from './errors.ts'
export { PLAN_STYLES, parsePlanJson, validatePlan, ruleForCluster } from './rollout-plan.ts'
export type { PlanStyle, ClusterRule, DefaultRule, RolloutPlan } from './rollout-plan.ts'
export { validateManifest, encodeManifest, decodeManifest, checkTargets } from './release-manifest.ts'
export type { ReleaseManifest, ShippedEnvSpec, ArtifactDescriptor, ReleaseTest } from './release-manifest.ts'
export { releaseIdOf } from './release-id.ts'
export { signRelease, openRelease, readSignedRelease, inspectSignedRelease, checkReleaseFreshness } from './signed-release.ts'
export type { VerifiedRelease, OpenReleaseOptions } from './signed-release.ts'
export { publishRelease } from './publish-release.ts'
export type { PublishInit, PublishProgress } from './publish-release.ts'
export { verifyReleaseDir } from './verify-release.ts'
export type { ReleaseDefect, ReleaseDirCheck } from './verify-release.ts'
export { MANIFEST_FILE, CHUNKS_DIR, manifestPath, chunksPath } from './release-dir.ts'
