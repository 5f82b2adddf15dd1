/**
 * The content of a problem report (Mirage §3, "integrated testing and
 * problem reporting"): which release failed on which machine, in which
 * phase, which test and how, the tail of its output, and how this machine's
 * environment differs from its cluster's representatives.
 *
 * A report is built on the machine (`buildProblemReport`), where every free
 * text is redacted first (redact.ts), then encoded as canonical DAG-CBOR and
 * signed with the machine's key (seal.ts). Every decoded report is checked
 * against the schema below, whose errors name the field.
 */
import { CID } from 'multiformats/cid'
import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { hashValue } from '../env/index.ts'
import { CLUSTER_NAME_PATTERN } from '../release/index.ts'
import { APP_NAME_PATTERN, CanonicalEncodingError, decodeCanonical, encodeCanonical } from '../trust/index.ts'
import {
  MAX_PARTIAL_LINE_DROP_CHARS, MAX_REPORT_DIFF_ATTRIBUTES, MAX_REPORT_DIFF_ITEMS, MAX_REPORT_DIFF_NAME_CHARS, MAX_REPORT_DIFF_RESOURCES,
  MAX_REPORT_OUTPUT_TAIL_BYTES, MAX_REPORT_PAYLOAD_BYTES, MAX_REPORT_TEST_NAME_CHARS
} from './constants.ts'
import { ReportError } from './errors.ts'
import { REDACTION_KINDS, mergeRedactionCounts } from './redact.ts'
import type { RedactionCounts, Redactor } from './redact.ts'
import type { FingerprintDiff, ResourceDifference } from '../env/index.ts'

export const REPORT_ROLES = ['representative', 'follower'] as const
export type ReportRole = typeof REPORT_ROLES[number]

/** `test`: the release's test failed before install; `health-check`: the installed release failed its check. */
export const REPORT_PHASES = ['test', 'health-check'] as const
export type ReportPhase = typeof REPORT_PHASES[number]

/** What the failed run used, when the runner measured it. */
export interface ResourceUse {
  userCpuMs: number
  systemCpuMs: number
}

/** Which test failed and how. */
export interface FailedTest {
  /** The test's name (its command or title), redacted. */
  name: string
  /** null when the test was killed by a signal or could not start. */
  exitCode: number | null
  /** The signal that ended it (`SIGKILL`), or null. */
  signal: string | null
  timedOut: boolean
  durationMs: number
  resourceUse: ResourceUse | null
}

export interface ReportOutput {
  /** The redacted end of the output, at most MAX_REPORT_OUTPUT_TAIL_BYTES of UTF-8. */
  tail: string
  /** Bytes the test wrote in all (what the runner counted). */
  bytes: number
  /** Whether `tail` is less than the whole output (then its first, partial line was dropped). */
  truncated: boolean
}

/** Epoch milliseconds. */
export interface ReportTimings {
  testStartedAt: number
  testEndedAt: number
  /** When the release was installed on this machine; null before install (phase `test`). */
  installedAt: number | null
}

/**
 * How this machine's environment differs from its cluster's representatives.
 * The diff names resources and items, never values (those are salted hashes
 * in a fingerprint and do not appear in a diff at all); item names that ARE
 * content (the lines of a `text` resource) are replaced by their salted hash.
 */
export interface ReportEnvironment {
  diff: FingerprintDiff
  /** Item names and resources left out to keep the report within its limits. */
  omitted: number
}

export interface ProblemReport {
  v: 1
  app: string
  /** The release's CIDv1 (src/release `releaseIdOf`). */
  releaseId: string
  releaseVersion: string
  clusterId: string
  /** The reporting machine's peer id (`12D3KooW…`); must be the signer's. */
  machine: string
  role: ReportRole
  phase: ReportPhase
  failure: FailedTest
  output: ReportOutput
  timings: ReportTimings
  environment: ReportEnvironment | null
  /** How many redactions of each kind the machine made (never what). */
  redactions: RedactionCounts
  /** When the report was made, epoch ms. */
  at: number
}

// ---------------------------------------------------------------------------
// Schema

const time = z.int().min(0).max(Number.MAX_SAFE_INTEGER)
const count = z.int().min(0).max(Number.MAX_SAFE_INTEGER)
const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8')

const releaseIdSchema = z.string().max(128).refine(text => { try { return CID.parse(text).version === 1 } catch { return false } }, 'must be a CIDv1 string')
const machineSchema = z.string().max(128).refine(text => {
  try {
    const id = peerIdFromString(text)
    return id.type === 'Ed25519' && id.toString() === text
  } catch { return false }
}, 'must be an Ed25519 peer id (12D3KooW…)')
const diffName = z.string().max(MAX_REPORT_DIFF_NAME_CHARS)

const resourceDifferenceSchema = z.strictObject({
  resource: diffName.min(1),
  kind: z.enum(['only-a', 'only-b', 'items', 'attributes']),
  changed: z.array(diffName).max(MAX_REPORT_DIFF_ITEMS),
  onlyA: z.array(diffName).max(MAX_REPORT_DIFF_ITEMS),
  onlyB: z.array(diffName).max(MAX_REPORT_DIFF_ITEMS),
  attributes: z.array(diffName).max(MAX_REPORT_DIFF_ATTRIBUTES),
  relevant: z.boolean()
})

const environmentSchema = z.strictObject({
  diff: z.strictObject({
    app: z.string().max(2 * 64 + 3),
    same: z.boolean(),
    sameCluster: z.boolean(),
    resources: z.array(resourceDifferenceSchema).max(MAX_REPORT_DIFF_RESOURCES)
  }),
  omitted: count
}).refine(env => itemCount(env.diff.resources) <= MAX_REPORT_DIFF_ITEMS, { message: `more than ${MAX_REPORT_DIFF_ITEMS} item names in all`, path: ['diff', 'resources'] })

const failureSchema = z.strictObject({
  name: z.string().min(1).max(MAX_REPORT_TEST_NAME_CHARS),
  exitCode: z.int().min(-1_000_000).max(1_000_000).nullable(),
  signal: z.string().regex(/^SIG[A-Z0-9]{1,12}$/, 'must be a signal name such as SIGKILL').nullable(),
  timedOut: z.boolean(),
  durationMs: time,
  // No peak memory: the runner cannot measure it (see src/testing/resource-use.ts).
  resourceUse: z.strictObject({ userCpuMs: count, systemCpuMs: count }).nullable()
}).refine(f => !(f.exitCode === 0 && f.signal === null && !f.timedOut), 'exit code 0 without signal or timeout is a pass, not a failure')

const reportSchema = z.strictObject({
  v: z.literal(1),
  app: z.string().regex(APP_NAME_PATTERN, 'must be an app name'),
  releaseId: releaseIdSchema,
  // As long as a manifest's version may be (src/release), so every release can be reported on.
  releaseVersion: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]{0,127}$/, 'must be a version (1-128 of letters, digits, ".", "+", "-")'),
  clusterId: z.string().regex(CLUSTER_NAME_PATTERN, 'must be a cluster name'),
  machine: machineSchema,
  role: z.enum(REPORT_ROLES),
  phase: z.enum(REPORT_PHASES),
  failure: failureSchema,
  output: z.strictObject({
    tail: z.string().refine(text => utf8Bytes(text) <= MAX_REPORT_OUTPUT_TAIL_BYTES, `must be at most ${MAX_REPORT_OUTPUT_TAIL_BYTES} bytes of UTF-8`),
    bytes: count,
    truncated: z.boolean()
  }),
  timings: z.strictObject({ testStartedAt: time, testEndedAt: time, installedAt: time.nullable() }),
  environment: environmentSchema.nullable(),
  redactions: z.partialRecord(z.enum(REDACTION_KINDS), z.int().min(1).max(Number.MAX_SAFE_INTEGER)),
  at: time
}).superRefine((report, ctx) => {
  if (report.timings.testEndedAt < report.timings.testStartedAt) {
    ctx.addIssue({ code: 'custom', path: ['timings', 'testEndedAt'], message: 'must not be before testStartedAt' })
  }
  if (report.phase === 'health-check' && report.timings.installedAt === null) {
    ctx.addIssue({ code: 'custom', path: ['timings', 'installedAt'], message: 'a health-check failure happens after an install, so installedAt is required' })
  }
})

function itemCount (resources: readonly ResourceDifference[]): number {
  let n = 0
  for (const r of resources) n += r.changed.length + r.onlyA.length + r.onlyB.length
  return n
}

/** Checks a value against the report schema; ReportError 'invalid' naming the first failing field. */
export function checkProblemReport (value: unknown): ProblemReport {
  const parsed = reportSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue === undefined ? '' : issueField(issue.path)
    const message = issue === undefined
      ? 'invalid'
      : issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map(k => JSON.stringify(k.slice(0, 40))).join(', ')}` : issue.message
    throw new ReportError('invalid', `problem report: ${field === '' ? '' : `${field}: `}${message}`, field)
  }
  return parsed.data as ProblemReport
}

/** `['environment', 'diff', 'resources', 2, 'changed']` → `environment.diff.resources[2].changed`. */
function issueField (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out
}

/** The canonical payload that is signed; checked first, so nothing is sent a vendor would refuse. */
export function encodeProblemReport (report: ProblemReport): Uint8Array {
  const bytes = encodeCanonical(checkProblemReport(report))
  if (bytes.byteLength > MAX_REPORT_PAYLOAD_BYTES) {
    throw new ReportError('oversized', `problem report is ${bytes.byteLength} bytes, more than the limit of ${MAX_REPORT_PAYLOAD_BYTES}`)
  }
  return bytes
}

/** Parses and checks a payload: oversized before parsing, then canonical CBOR, then the schema. */
export function decodeProblemReport (bytes: Uint8Array): ProblemReport {
  let value: unknown
  try {
    value = decodeCanonical(bytes, MAX_REPORT_PAYLOAD_BYTES, 'problem report')
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new ReportError(err.reason === 'oversized' ? 'oversized' : 'invalid', err.message, '', { cause: err })
  }
  return checkProblemReport(value)
}

// ---------------------------------------------------------------------------
// Building a report on the machine

/** What the node knows when a test or health check failed. */
export interface ProblemReportInput {
  app: string
  releaseId: string
  releaseVersion: string
  clusterId: string
  /** This machine's peer id as text. */
  machine: string
  role: ReportRole
  phase: ReportPhase
  test: {
    name: string
    exitCode: number | null
    signal: string | null
    timedOut: boolean
    durationMs: number
    resourceUse?: ResourceUse | null
  }
  /** The runner's tail (`TestResult.outputTail`) and byte count (`TestResult.outputBytes`). */
  output: { tail: string, bytes: number }
  timings: { testStartedAt: number, testEndedAt: number, installedAt?: number | null }
  /**
   * The diff of this machine's fingerprint (a) against a representative's
   * (b), with what is needed to hide content-bearing item names: the kind
   * of each of this machine's resources (src/env `Fingerprint.resources`)
   * and the app's salt.
   */
  environment?: {
    diff: FingerprintDiff
    resourceKinds: Readonly<Record<string, string>>
    salt: string
  } | null
  at: number
}

/**
 * Builds the report a machine sends: the output tail bounded (and its
 * partial first line dropped when the output was cut), content-bearing diff
 * item names hashed, every free-text field redacted, the diff bounded, and
 * the result checked against the schema. The redaction counts go into the
 * report. Throws ReportError 'invalid' if the input cannot make a valid report.
 */
export function buildProblemReport (input: ProblemReportInput, redactor: Redactor): ProblemReport {
  const redactions: RedactionCounts = {}
  const scrub = (text: string): string => {
    const { text: out, counts } = redactor.redact(text)
    mergeRedactionCounts(redactions, counts)
    return out
  }
  const bounded = boundTail(input.output.tail, input.output.bytes)
  const tail = keepLastBytes(scrub(bounded.text), MAX_REPORT_OUTPUT_TAIL_BYTES)
  const name = cut(scrub(input.test.name), MAX_REPORT_TEST_NAME_CHARS)
  const environment = input.environment == null
    ? null
    : boundEnvironment(scrubDiff(hideContentItems(input.environment.diff, input.environment.resourceKinds, input.environment.salt), scrub))
  return checkProblemReport({
    v: 1,
    app: input.app,
    releaseId: input.releaseId,
    releaseVersion: input.releaseVersion,
    clusterId: input.clusterId,
    machine: input.machine,
    role: input.role,
    phase: input.phase,
    failure: {
      name: name === '' ? '(unnamed)' : name,
      exitCode: input.test.exitCode,
      signal: input.test.signal,
      timedOut: input.test.timedOut,
      durationMs: input.test.durationMs,
      resourceUse: input.test.resourceUse ?? null
    },
    output: { tail, bytes: input.output.bytes, truncated: bounded.truncated },
    timings: { testStartedAt: input.timings.testStartedAt, testEndedAt: input.timings.testEndedAt, installedAt: input.timings.installedAt ?? null },
    environment,
    redactions: sortedCounts(redactions),
    at: input.at
  })
}

/**
 * The last MAX_REPORT_OUTPUT_TAIL_BYTES of the output. When the tail is not
 * the whole output it starts mid-line, where a secret or a `password=` may
 * have been cut so that redaction no longer recognises it: that partial
 * line is dropped (up to MAX_PARTIAL_LINE_DROP_CHARS of it).
 */
export function boundTail (tail: string, totalBytes: number): { text: string, truncated: boolean } {
  const tailBytes = utf8Bytes(tail)
  let truncated = totalBytes > tailBytes
  let text = tail
  if (tailBytes > MAX_REPORT_OUTPUT_TAIL_BYTES) {
    text = keepLastBytes(tail, MAX_REPORT_OUTPUT_TAIL_BYTES)
    truncated = true
  }
  if (truncated) {
    const newline = text.indexOf('\n')
    text = newline !== -1 && newline < MAX_PARTIAL_LINE_DROP_CHARS ? text.slice(newline + 1) : text.slice(MAX_PARTIAL_LINE_DROP_CHARS)
  }
  return { text, truncated }
}

/** The longest suffix of `text` that is at most `max` bytes of UTF-8, cut at a character boundary. */
function keepLastBytes (text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.byteLength <= max) return text
  let start = bytes.byteLength - max
  while (start < bytes.byteLength && ((bytes[start] as number) & 0xc0) === 0x80) start++
  return bytes.subarray(start).toString('utf8')
}

function cut (text: string, max: number): string {
  if (text.length <= max) return text
  // Do not split a surrogate pair: the half left would not encode as UTF-8.
  let end = max - 1
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return `${text.slice(0, end)}…`
}

/**
 * Kinds whose item names are names (keys, directives, package names), not
 * content. Every other kind (`text`, whose items are the file's lines, and
 * any kind we do not know) has its item names replaced by salted hashes.
 */
const NAME_ITEM_KINDS = new Set(['binary', 'ini', 'mycnf', 'apache', 'json', 'yaml', 'env', 'command', 'packages'])

/** Prefix of an item name replaced by its salted hash. */
export const HASHED_ITEM_PREFIX = 'hmac:'

/** The diff with content-bearing item names replaced by `hmac:<salted hash>`. */
export function hideContentItems (diff: FingerprintDiff, resourceKinds: Readonly<Record<string, string>>, salt: string): FingerprintDiff {
  const hide = (resource: string) => (item: string): string =>
    Object.hasOwn(resourceKinds, resource) && NAME_ITEM_KINDS.has(resourceKinds[resource] as string) ? item : `${HASHED_ITEM_PREFIX}${hashValue(salt, item)}`
  return {
    app: diff.app,
    same: diff.same,
    sameCluster: diff.sameCluster,
    resources: diff.resources.map(r => ({
      resource: r.resource,
      kind: r.kind,
      changed: r.changed.map(hide(r.resource)),
      onlyA: r.onlyA.map(hide(r.resource)),
      onlyB: r.onlyB.map(hide(r.resource)),
      attributes: [...r.attributes],
      relevant: r.relevant
    }))
  }
}

function scrubDiff (diff: FingerprintDiff, scrub: (text: string) => string): FingerprintDiff {
  return {
    app: scrub(diff.app),
    same: diff.same,
    sameCluster: diff.sameCluster,
    resources: diff.resources.map(r => ({
      resource: scrub(r.resource),
      kind: r.kind,
      changed: r.changed.map(scrub),
      onlyA: r.onlyA.map(scrub),
      onlyB: r.onlyB.map(scrub),
      attributes: r.attributes.map(scrub),
      relevant: r.relevant
    }))
  }
}

/**
 * The diff within the report's limits: relevant resources first (they are
 * why the machine is in another cluster), at most MAX_REPORT_DIFF_RESOURCES
 * resources and MAX_REPORT_DIFF_ITEMS item names, names cut to
 * MAX_REPORT_DIFF_NAME_CHARS. Whatever is left out is counted.
 */
function boundEnvironment (diff: FingerprintDiff): ReportEnvironment {
  const ordered = [...diff.resources].sort((a, b) => Number(b.relevant) - Number(a.relevant))
  let omitted = Math.max(0, ordered.length - MAX_REPORT_DIFF_RESOURCES)
  let budget = MAX_REPORT_DIFF_ITEMS
  const take = (items: string[]): string[] => {
    const kept = items.slice(0, budget).map(item => cut(item, MAX_REPORT_DIFF_NAME_CHARS))
    omitted += items.length - kept.length
    budget -= kept.length
    return kept
  }
  const resources = ordered.slice(0, MAX_REPORT_DIFF_RESOURCES).map(r => ({
    resource: cut(r.resource, MAX_REPORT_DIFF_NAME_CHARS),
    kind: r.kind,
    changed: take(r.changed),
    onlyA: take(r.onlyA),
    onlyB: take(r.onlyB),
    attributes: r.attributes.slice(0, MAX_REPORT_DIFF_ATTRIBUTES).map(a => cut(a, MAX_REPORT_DIFF_NAME_CHARS)),
    relevant: r.relevant
  }))
  return { diff: { app: cut(diff.app, 2 * 64 + 3), same: diff.same, sameCluster: diff.sameCluster, resources }, omitted }
}

function sortedCounts (counts: RedactionCounts): RedactionCounts {
  const out: RedactionCounts = {}
  for (const kind of REDACTION_KINDS) {
    const n = counts[kind]
    if (n !== undefined && n > 0) out[kind] = n
  }
  return out
}
