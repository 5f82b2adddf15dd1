import { CID } from 'multiformats/cid'
import * as semver from 'semver'
import { z } from 'zod'
import { MAX_ARTIFACT_CHUNKS, artifactRoot, checkLayout } from '../content/index.ts'
import { APP_NAME_PATTERN, CanonicalEncodingError, decodeCanonical, encodeCanonical } from '../trust/index.ts'
import {
  CLUSTER_NAME_PATTERN, MANIFEST_FORMAT, MAX_MANIFEST_BYTES, MAX_PLAN_CLUSTERS, MAX_RELEASE_LIFETIME_MS, MAX_TEST_ARG_LENGTH,
  MAX_TEST_ARGS, MAX_TEST_TIMEOUT_MS, MAX_VERSION_LENGTH, MIN_TEST_TIMEOUT_MS
} from './constants.ts'
import { ManifestInvalidError, PlanInvalidError } from './errors.ts'
import { ruleForCluster, validatePlan } from './rollout-plan.ts'
import { firstIssue } from './schema-issues.ts'
import { checkEnvSpec } from '../env/index.ts'
import { reportPublicKeyFromText, reportPublicKeyToText } from '../report/index.ts'
import type { RolloutPlan } from './rollout-plan.ts'
import type { ResourceSpec } from '../env/index.ts'

/** The artifact: a deterministic archive cut into fixed-size chunks. */
export interface ArtifactDescriptor {
  /** Archive size in bytes. */
  size: number
  /** Every chunk is this long but the last. */
  chunkSize: number
  /** SHA-256 of each chunk, in order: every chunk is checked against it before it is stored or served. */
  chunks: Uint8Array[]
  /** Names the whole artifact: derived from size, chunk size and the digests (see content's `artifactRoot`). */
  root: CID
}

/** The test a machine runs on the staged upgrade (Mirage §3: test on the user machine). */
export interface ReleaseTest {
  /** argv; the first element is a path relative to the artifact root. */
  command: string[]
  timeoutMs: number
}

/** A release, as the vendor signs it. */
export interface ReleaseManifest {
  format: typeof MANIFEST_FORMAT
  app: string
  /** Semver, in its canonical form. */
  version: string
  /** Grows with every release of the app; a machine refuses one not above what it runs (rollback). */
  sequence: number
  /** Milliseconds since the epoch. */
  createdAt: number
  /** After this, the release is refused (freeze). */
  expiresAt: number
  artifact: ArtifactDescriptor
  test: ReleaseTest
  plan: RolloutPlan
  /**
   * The environmental resources that matter to this release (Mirage §4.1),
   * shipped and signed with it: machines fingerprint them (with their
   * owners' additions) to find their cluster for this release.
   */
  envSpec?: ShippedEnvSpec
  /**
   * The vendor's report public key, text form (`mirage-report-key:…`):
   * a machine whose test or health check of this release fails seals its
   * problem report to it (Mirage §3, integrated problem reporting). Signed
   * with the release, so a peer cannot swap in a key of its own.
   */
  reportKey?: string
  /**
   * The only clusters this release is for (a fix for some clusters), sorted
   * and unique; absent: every machine. A targeted cluster's plan rule may
   * only come `after` targeted clusters (see `checkTargets`).
   */
  targets?: string[]
}

/** An env spec as a release carries it: the app is the release's. */
export interface ShippedEnvSpec {
  salt?: string
  resources: ResourceSpec[]
}

/** Longer than the text form (`mirage-report-key:` + 43 characters) is never a report key; bounds the work before parsing. */
const REPORT_KEY_TEXT_MAX_CHARS = 128

const safeCount = (what: string) => z.int(`${what} must be an integer`).min(0, `${what} must not be negative`)
const testArg = z.string().min(1, 'a test argument must not be empty').max(MAX_TEST_ARG_LENGTH, `a test argument must be at most ${MAX_TEST_ARG_LENGTH} characters`)
  .refine(arg => !arg.includes('\0'), 'a test argument must not contain NUL')

const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT, `format must be ${MANIFEST_FORMAT}; this build reads no other`),
  app: z.string().regex(APP_NAME_PATTERN, 'app must be 1-64 lowercase letters, digits, ".", "_" or "-"'),
  version: z.string().max(MAX_VERSION_LENGTH),
  sequence: safeCount('sequence').min(1, 'sequence must be at least 1'),
  createdAt: safeCount('createdAt'),
  expiresAt: safeCount('expiresAt'),
  artifact: z.strictObject({
    size: safeCount('size').min(1, 'an artifact is never empty'),
    chunkSize: safeCount('chunkSize'),
    chunks: z.array(z.instanceof(Uint8Array, { message: 'a chunk digest must be bytes' })).max(MAX_ARTIFACT_CHUNKS, `an artifact has at most ${MAX_ARTIFACT_CHUNKS} chunks`),
    root: z.custom<CID>(value => CID.asCID(value) !== null, 'root must be a CID')
  }),
  test: z.strictObject({
    command: z.array(testArg).min(1, 'the test command must not be empty').max(MAX_TEST_ARGS),
    timeoutMs: z.int('timeoutMs must be an integer').min(MIN_TEST_TIMEOUT_MS, `timeoutMs must be at least ${MIN_TEST_TIMEOUT_MS}`).max(MAX_TEST_TIMEOUT_MS, `timeoutMs must be at most ${MAX_TEST_TIMEOUT_MS}`)
  }),
  plan: z.unknown(),
  envSpec: z.unknown().optional(),
  reportKey: z.string().max(REPORT_KEY_TEXT_MAX_CHARS, 'reportKey is not a report public key').optional(),
  targets: z.array(z.string().regex(CLUSTER_NAME_PATTERN, 'a target must be a cluster name: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'))
    .min(1, 'targets, when present, names at least one cluster (absent means every machine)')
    .max(MAX_PLAN_CLUSTERS, `targets names at most ${MAX_PLAN_CLUSTERS} clusters`)
    .optional()
})



/** Validates a manifest value: the schema, then every rule that ties fields together. */
export function validateManifest (value: unknown): ReleaseManifest {
  const parsed = manifestSchema.safeParse(value)
  if (!parsed.success) {
    const { path, message } = firstIssue(parsed.error)
    throw new ManifestInvalidError(path === 'format' ? 'format' : 'schema', path, message)
  }
  const m = parsed.data
  if (semver.valid(m.version) !== m.version) {
    throw new ManifestInvalidError('version', 'version', `"${m.version}" is not a semantic version in canonical form (e.g. 1.4.2)`)
  }
  if (m.expiresAt <= m.createdAt) {
    throw new ManifestInvalidError('times', 'expiresAt', 'the release expires before it was created')
  }
  if (m.expiresAt - m.createdAt > MAX_RELEASE_LIFETIME_MS) {
    throw new ManifestInvalidError('times', 'expiresAt', `a release may live at most ${MAX_RELEASE_LIFETIME_MS / 86_400_000} days`)
  }
  checkTestCommand(m.test.command[0] as string)
  const layout = { size: m.artifact.size, chunkSize: m.artifact.chunkSize, chunks: m.artifact.chunks }
  try {
    checkLayout(layout)
  } catch (err) {
    throw new ManifestInvalidError('layout', 'artifact', (err as Error).message, { cause: err })
  }
  if (!artifactRoot(layout).equals(m.artifact.root)) {
    throw new ManifestInvalidError('root-mismatch', 'artifact.root', 'the root does not match the chunk digests')
  }
  let plan: RolloutPlan
  try {
    plan = validatePlan(m.plan)
  } catch (err) {
    if (!(err instanceof PlanInvalidError)) throw err
    throw new ManifestInvalidError('plan', err.path === '' ? 'plan' : `plan.${err.path}`, err.detail, { cause: err })
  }
  const { envSpec: rawEnvSpec, reportKey, targets, ...rest } = m
  const manifest: ReleaseManifest = { ...rest, artifact: { ...m.artifact, root: CID.asCID(m.artifact.root) as CID }, plan }
  if (rawEnvSpec !== undefined) manifest.envSpec = validateShippedEnvSpec(m.app, rawEnvSpec)
  // Absent stays absent (never `undefined`): a manifest without these fields encodes as it always did.
  if (reportKey !== undefined) manifest.reportKey = checkReportKeyText(reportKey)
  if (targets !== undefined) {
    checkTargets(plan, targets)
    checkTargetsOrder(targets)
    manifest.targets = targets
  }
  return manifest
}

/** The report key must be the canonical text of an X25519 public key: one key, one text, one manifest. */
function checkReportKeyText (text: string): string {
  let canonical: string
  try {
    canonical = reportPublicKeyToText(reportPublicKeyFromText(text))
  } catch (err) {
    if ((err as Error).name !== 'ReportKeyFormatError') throw err
    throw new ManifestInvalidError('report-key', 'reportKey', (err as Error).message, { cause: err })
  }
  if (canonical !== text) throw new ManifestInvalidError('report-key', 'reportKey', 'must be the report key\'s text exactly, without surrounding space')
  return text
}

/** Sorted (and so, with `checkTargets`, unique): one set of targets has one encoding. */
function checkTargetsOrder (targets: readonly string[]): void {
  for (let i = 1; i < targets.length; i++) {
    if ((targets[i] as string) < (targets[i - 1] as string)) throw new ManifestInvalidError('targets', `targets[${i}]`, 'targets must be sorted by name')
  }
}

/**
 * The rules of a target list, in any order (the publisher checks before it
 * sorts): 1 to MAX_PLAN_CLUSTERS cluster names, none twice; and a targeted
 * cluster may come only after targeted clusters: a cluster the release does
 * not target never tests it, so a cluster waiting for one would wait
 * forever. The `after` rule is checked on each target's own plan rule, or
 * the plan's default rule for a target the plan does not name; a chain of
 * targets is therefore checked link by link. Throws ManifestInvalidError
 * (reason `targets`) naming both clusters.
 */
export function checkTargets (plan: RolloutPlan, targets: readonly string[]): void {
  if (targets.length === 0) throw new ManifestInvalidError('targets', 'targets', 'targets, when present, names at least one cluster (absent means every machine)')
  if (targets.length > MAX_PLAN_CLUSTERS) throw new ManifestInvalidError('targets', 'targets', `targets names at most ${MAX_PLAN_CLUSTERS} clusters`)
  const targeted = new Set<string>()
  targets.forEach((target, index) => {
    if (!CLUSTER_NAME_PATTERN.test(target)) throw new ManifestInvalidError('targets', `targets[${index}]`, `"${target.slice(0, 70)}" is not a cluster name`)
    if (targeted.has(target)) throw new ManifestInvalidError('targets', `targets[${index}]`, `cluster "${target}" is listed twice`)
    targeted.add(target)
  })
  targets.forEach((target, index) => {
    const named = plan.clusters.some(rule => rule.name === target)
    for (const prerequisite of ruleForCluster(plan, target).after) {
      if (targeted.has(prerequisite)) continue
      throw new ManifestInvalidError('targets', `targets[${index}]`,
        `cluster "${target}" is targeted, but ${named ? 'its plan rule' : 'the plan\'s default rule, which applies to it,'} comes after cluster "${prerequisite}", ` +
        `which is not targeted: "${target}" would wait forever for "${prerequisite}" to test this release (target "${prerequisite}" too, or change the plan)`)
    }
  })
}

/** The shipped spec must be exactly what `checkEnvSpec` accepts, defaults written out (so it signs canonically). */
function validateShippedEnvSpec (app: string, value: unknown): ShippedEnvSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ManifestInvalidError('env-spec', 'envSpec', 'must be a map of salt and resources')
  try {
    const spec = checkEnvSpec({ format: 1, app, ...value }, 'envSpec')
    return { ...(spec.salt === undefined ? {} : { salt: spec.salt }), resources: spec.resources }
  } catch (err) {
    if ((err as Error).name !== 'EnvSpecError') throw err
    throw new ManifestInvalidError('env-spec', 'envSpec', (err as Error).message.replace(/^envSpec: /, ''), { cause: err })
  }
}

/** The test program must live inside the artifact: a plain relative path. */
export function checkTestCommand (program: string): void {
  const parts = program.split('/')
  if (program.startsWith('/') || parts.some(part => part === '..' || part === '')) {
    throw new ManifestInvalidError('test', 'test.command[0]', `"${program}" must be a relative path inside the artifact, without ".." or empty parts`)
  }
}

export function encodeManifest (manifest: ReleaseManifest): Uint8Array {
  // Never sign something this build would refuse to read.
  const valid = validateManifest(manifest)
  return encodeCanonical(valid)
}

/** Decodes a manifest payload: bounded, canonical, and validated. Throws ManifestInvalidError. */
export function decodeManifest (bytes: Uint8Array): ReleaseManifest {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_MANIFEST_BYTES, 'manifest')
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new ManifestInvalidError('encoding', '', err.message, { cause: err })
  }
  return validateManifest(value)
}
