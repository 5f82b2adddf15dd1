import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import * as semver from 'semver'
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml'
import type { Document, Node as YamlNode } from 'yaml'
import { z } from 'zod'
import { PLAN_STYLES, parsePlanJson } from '../release/index.ts'
import type { ClusterRule, DefaultRule, PlanStyle, RolloutPlan } from '../release/index.ts'
import { APP_NAME_PATTERN } from '../trust/index.ts'
import {
  DEFAULT_ELECTION_SETTLE_MS, DEFAULT_GOSSIP_DELAY_MS, DEFAULT_REPORT_DELAY_MS, DEFAULT_SCENARIO_TEST_TIMEOUT_MS,
  DEFAULT_TEST_DURATION_MS, DEFAULT_TIMING_JITTER, DEFAULT_TRANSFER_BYTES_PER_SECOND, MAX_SCENARIO_RELEASES, MAX_SHARED_HOST_CORES
} from './constants.ts'
import { ScenarioInvalidError } from './errors.ts'

/**
 * A scenario file: the population (clusters of machines, each machine's
 * environment generated from a template), the release test that decides
 * where an upgrade really breaks, the releases the vendor publishes (and the
 * fix it ships after the first problem report), the plan styles to compare,
 * and the faults: churn, late joiners, the vendor offline, network
 * conditions. The real runner (`mirage scenario run`) and the simulator
 * (`mirage scenario simulate`) read the same file.
 */
export interface Scenario {
  name: string
  description: string
  app: string
  /** Size of the generated payload that gives the artifact its size. */
  artifactBytes: number
  clusters: ScenarioCluster[]
  test: { script: string, timeoutMs: number }
  /** The cluster rules every compared plan shares (Mirage §4: prerequisites `after`, k representatives, quorum q). */
  rules: ScenarioRules
  /** In publication order (by `atMs`). */
  releases: ScenarioRelease[]
  plans: PlanStyle[]
  churn: ChurnSpec[]
  lateJoiners: LateJoinerSpec[]
  vendorOffline: VendorOfflineSpec[]
  network?: NetworkSpec
  repetitions: number
  seed: number
  timing: TimingModel
  /** Where the scenario came from: a file name, or '<text>'. */
  source: string
}

export interface ScenarioCluster {
  name: string
  machines: number
  /** `{{name}}` substitutions for the files, besides `{{machine}}`, `{{index}}` and `{{cluster}}`. */
  vars: Record<string, string>
  /** Relative path → template, written into each machine's own environment dir. */
  files: Record<string, string>
}

export interface ScenarioRules {
  default: DefaultRule
  clusters: ClusterRule[]
  startTimeoutMs: number
  reportGraceMs: number
}

export interface ScenarioRelease {
  version: string
  atMs: number
  /** Only these clusters get the release; absent: every machine. */
  targets?: string[]
  /** What the vendor publishes once it holds the first problem report about this release. */
  fix?: { version: string, afterFirstReportMs: number, targets?: string[] }
}

/** `machines` machines (of `cluster`, or of the whole population) are killed at `atMs` and restarted `downForMs` later. */
export interface ChurnSpec { cluster?: string, machines: number, atMs: number, downForMs: number }
/** The last `machines` machines of `cluster` start only at `atMs`. */
export interface LateJoinerSpec { cluster: string, machines: number, atMs: number }
/** The vendor (its seed: publishing, serving chunks, receiving reports) is offline from `atMs` for `forMs`. */
export interface VendorOfflineSpec { atMs: number, forMs: number }
export interface NetworkSpec { delayMs?: number, lossPercent?: number, rateBytesPerSecond?: number }

/** The simulator's timing model (defaults in constants.ts, each with its reason). */
export interface TimingModel {
  transferBytesPerSecond: number
  testDurationMs: number
  reportDelayMs: number
  gossipDelayMs: number
  electionSettleMs: number
  /** ± fraction of per-machine spread of transfer and test times. */
  jitter: number
  /**
   * Every machine runs on one host with this many cores, as in a local
   * real run (SharedHost): downloads, tests and health checks running at
   * once share them. Absent: each machine has a host of its own, as on
   * the internet.
   */
  sharedHostCores?: number
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const NAME_RULE = 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'
const UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const UNITS_BYTES: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }
/** Network rates as tc writes them. */
const UNITS_BITS: Record<string, number> = { bit: 1 / 8, kbit: 1e3 / 8, mbit: 1e6 / 8, gbit: 1e9 / 8 }
/** Anything longer is a typo: a scenario spans hours at most. */
const MAX_SCENARIO_DURATION_MS = 30 * 86_400_000
const MAX_MACHINES_PER_CLUSTER = 10_000_000
const MAX_ARTIFACT_BYTES = 16 * 1024 ** 3
const MAX_TEMPLATE_CHARS = 65_536
const MAX_SCRIPT_CHARS = 65_536

/** `500ms`, `20s`, `1.5m`, `2h`, or a number of milliseconds. */
export function parseDuration (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined
  if (typeof value !== 'string') return undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value)
  if (match === null) return undefined
  return Math.round(Number(match[1]) * (UNITS_MS[match[2] as string] as number))
}

/** `4MiB`, `512KB`, `1048576`: bytes. */
export function parseBytes (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$/.exec(value)
  if (match === null) return undefined
  return Math.round(Number(match[1]) * (UNITS_BYTES[match[2] ?? 'B'] as number))
}

/** `10MiB/s`, `100mbit`, or a number of bytes per second. */
export function parseRate (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const bits = /^\s*(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)\s*$/i.exec(value)
  if (bits !== null) return Number(bits[1]) * (UNITS_BITS[(bits[2] as string).toLowerCase()] as number)
  const perSecond = /^\s*(.+?)\s*\/\s*s\s*$/.exec(value)
  const bytes = parseBytes(perSecond === null ? value : perSecond[1])
  return bytes === undefined || bytes <= 0 ? undefined : bytes
}

const converted = <T>(parse: (value: unknown) => T | undefined, rule: string, max?: number) =>
  z.unknown().transform((value, ctx): T => {
    const parsed = parse(value)
    if (parsed === undefined || (max !== undefined && typeof parsed === 'number' && parsed > max)) {
      ctx.addIssue({ code: 'custom', message: rule })
      return z.NEVER
    }
    return parsed
  })
const duration = converted(parseDuration, 'must be a duration such as 500ms, 20s or 5m (or a number of milliseconds)', MAX_SCENARIO_DURATION_MS)
const positiveDuration = duration.refine(ms => ms > 0, 'must be longer than 0')
const name = z.string(`must be a name (${NAME_RULE})`).regex(NAME_PATTERN, NAME_RULE)
const positiveInt = (max: number) => z.int('must be a positive integer').min(1, 'must be a positive integer').max(max, `must be at most ${max}`)
const version = z.string('must be a version string').max(64, 'must be at most 64 characters')
  .refine(v => semver.valid(v) === v, 'must be a semantic version such as 2.0.1')
const targets = z.array(name, 'must be a list of cluster names').min(1, 'must name at least one cluster (leave it out for every machine)').max(1000)
const scalarText = z.union([z.string(), z.number(), z.boolean()], 'must be a string, number or boolean').transform(v => String(v))
const ruleSchema = z.strictObject({
  after: z.array(name, 'must be a list of cluster names').max(1000).default([]),
  k: positiveInt(100),
  q: positiveInt(100)
})

const scenarioSchema = z.strictObject({
  name: name,
  description: z.string('must be text').max(4000, 'must be at most 4000 characters').default(''),
  app: z.string('must be an app name').regex(APP_NAME_PATTERN, 'must be 1-64 lowercase letters, digits, ".", "_" or "-"'),
  artifactBytes: converted(parseBytes, 'must be a size such as 4MiB or a number of bytes', MAX_ARTIFACT_BYTES).refine(b => b > 0, 'must be more than 0 bytes'),
  population: z.strictObject({
    clusters: z.array(z.strictObject({
      name,
      machines: positiveInt(MAX_MACHINES_PER_CLUSTER),
      vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names are letters, digits and "_"'), scalarText).default({}),
      files: z.record(
        z.string().min(1).max(256).refine(p => !p.startsWith('/') && !p.split('/').includes('..'), 'file paths must be relative and stay inside the machine\'s dir'),
        z.string('must be the file\'s text').max(MAX_TEMPLATE_CHARS)
      ).default({})
    }), 'must be a list of clusters').min(1, 'must list at least one cluster').max(1000)
  }),
  test: z.strictObject({
    script: z.string('must be a POSIX sh script').min(1).max(MAX_SCRIPT_CHARS),
    timeout: positiveDuration.default(DEFAULT_SCENARIO_TEST_TIMEOUT_MS)
  }),
  rules: z.strictObject({
    default: ruleSchema,
    clusters: z.array(ruleSchema.extend({ name }), 'must be a list of cluster rules').max(1000).default([]),
    startTimeout: duration.optional(),
    reportGrace: duration.optional()
  }),
  releases: z.array(z.strictObject({
    version,
    at: duration.default(0),
    targets: targets.optional(),
    fix: z.strictObject({ version, afterFirstReport: duration, targets: targets.optional() }).optional()
  }), 'must be a list of releases').min(1, 'must list at least one release').max(MAX_SCENARIO_RELEASES),
  plans: z.array(z.enum(PLAN_STYLES, `must be one of ${PLAN_STYLES.join(', ')}`), 'must be a list of plan styles').min(1).max(3).default(['staged'])
    .refine(list => new Set(list).size === list.length, 'lists a plan style twice'),
  churn: z.array(z.strictObject({ cluster: name.optional(), machines: positiveInt(MAX_MACHINES_PER_CLUSTER), at: duration, downFor: positiveDuration })).max(1000).default([]),
  lateJoiners: z.array(z.strictObject({ cluster: name, machines: positiveInt(MAX_MACHINES_PER_CLUSTER), at: positiveDuration })).max(1000).default([]),
  vendorOffline: z.array(z.strictObject({ at: duration, for: positiveDuration })).max(1000).default([]),
  network: z.strictObject({
    delayMs: z.number('must be a number of milliseconds').nonnegative('must not be negative').max(60_000).optional(),
    lossPercent: z.number('must be a percentage').min(0, 'must be from 0 to 100').max(100, 'must be from 0 to 100').optional(),
    rate: converted(parseRate, 'must be a rate such as 100mbit or 10MiB/s').optional()
  }).optional(),
  repetitions: positiveInt(1000).default(1),
  seed: z.int('must be an integer').min(0, 'must not be negative').max(2 ** 31 - 1).default(1),
  timing: z.strictObject({
    transferRate: converted(parseRate, 'must be a rate such as 10MiB/s or 100mbit').default(DEFAULT_TRANSFER_BYTES_PER_SECOND),
    testDuration: duration.default(DEFAULT_TEST_DURATION_MS),
    reportDelay: duration.default(DEFAULT_REPORT_DELAY_MS),
    gossipDelay: duration.default(DEFAULT_GOSSIP_DELAY_MS),
    electionSettle: duration.default(DEFAULT_ELECTION_SETTLE_MS),
    jitter: z.number('must be a fraction from 0 to 0.9').min(0, 'must be a fraction from 0 to 0.9').max(0.9, 'must be a fraction from 0 to 0.9').default(DEFAULT_TIMING_JITTER),
    sharedHostCores: positiveInt(MAX_SHARED_HOST_CORES).optional()
  }).default({
    transferRate: DEFAULT_TRANSFER_BYTES_PER_SECOND,
    testDuration: DEFAULT_TEST_DURATION_MS,
    reportDelay: DEFAULT_REPORT_DELAY_MS,
    gossipDelay: DEFAULT_GOSSIP_DELAY_MS,
    electionSettle: DEFAULT_ELECTION_SETTLE_MS,
    jitter: DEFAULT_TIMING_JITTER
  })
})
type ScenarioFile = z.output<typeof scenarioSchema>

/**
 * Reads and validates a scenario file. Every error names the file, the line
 * and the field: `paper-staging.yaml:14: population.clusters[1].machines:
 * must be a positive integer`.
 */
export async function loadScenario (source: string | { text: string, file?: string }): Promise<Scenario> {
  if (typeof source !== 'string') return parseScenario(source.text, source.file ?? '<text>')
  let text: string
  try {
    text = await readFile(source, 'utf8')
  } catch (err) {
    throw new ScenarioInvalidError('not-found', basename(source), 0, '', `cannot read the scenario file: ${(err as Error).message}`, { cause: err })
  }
  return parseScenario(text, basename(source))
}

/** Validates a scenario's YAML text; `file` names it in errors. */
export function parseScenario (text: string, file = '<text>'): Scenario {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true })
  const yamlError = doc.errors[0]
  if (yamlError !== undefined) {
    const line = yamlError.linePos?.[0]?.line ?? 0
    throw new ScenarioInvalidError('yaml', file, line, '', `not valid YAML: ${yamlError.message.split('\n')[0] ?? ''}`)
  }
  const where = (path: ReadonlyArray<PropertyKey>): number => lineOf(doc, lineCounter, path)
  const raw: unknown = doc.toJS()
  const parsed = scenarioSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = [...(issue?.path ?? [])]
    let message = issue?.message ?? 'invalid'
    if (issue?.code === 'unrecognized_keys') {
      path.push(issue.keys[0] ?? '')
      message = 'unknown field'
    } else if (issue?.code === 'invalid_type' && valueAt(raw, path) === undefined) {
      message = 'is required'
    }
    throw new ScenarioInvalidError('schema', file, where(path), formatPath(path), message)
  }
  return checkScenario(parsed.data, file, where)
}

/** The rules a schema cannot express: references between sections, template variables, the plan rules. */
function checkScenario (data: ScenarioFile, file: string, where: (path: ReadonlyArray<PropertyKey>) => number): Scenario {
  const fail = (reason: 'reference' | 'plan' | 'schema', path: PropertyKey[], message: string): never => {
    throw new ScenarioInvalidError(reason, file, where(path), formatPath(path), message)
  }
  const clusters = new Map<string, number>()
  data.population.clusters.forEach((cluster, i) => {
    if (clusters.has(cluster.name)) fail('reference', ['population', 'clusters', i, 'name'], `cluster "${cluster.name}" is defined twice`)
    clusters.set(cluster.name, cluster.machines)
    for (const [path, template] of Object.entries(cluster.files)) {
      for (const variable of templateVariables(template)) {
        if (!['machine', 'index', 'cluster'].includes(variable) && !(variable in cluster.vars)) {
          fail('reference', ['population', 'clusters', i, 'files', path], `uses {{${variable}}}, which is neither in this cluster's vars nor one of machine, index, cluster`)
        }
      }
    }
  })
  const known = (cluster: string, path: PropertyKey[]): void => {
    if (!clusters.has(cluster)) fail('reference', path, `"${cluster}" is not a cluster of population.clusters`)
  }

  data.rules.clusters.forEach((rule, i) => { known(rule.name, ['rules', 'clusters', i, 'name']) })
  const rules: ScenarioRules = {
    default: data.rules.default,
    clusters: data.rules.clusters,
    startTimeoutMs: data.rules.startTimeout ?? 0,
    reportGraceMs: data.rules.reportGrace ?? 0
  }
  // The plan area owns the rules (references, cycles, q ≤ k, timeouts): ask it, per style, and map its field back.
  try {
    const plan = parsePlanJson(JSON.stringify(planFileOf(rules, 'staged')))
    rules.startTimeoutMs = plan.startTimeoutMs
    rules.reportGraceMs = plan.reportGraceMs
  } catch (err) {
    if ((err as Error).name !== 'PlanInvalidError') throw err
    const { path, detail } = err as Error & { path: string, detail: string }
    fail('plan', ['rules', ...parsePath(path.replace(/^startTimeoutMs/, 'startTimeout').replace(/^reportGraceMs/, 'reportGrace'))], detail)
  }

  const versions = new Set<string>()
  const releases: ScenarioRelease[] = data.releases.map((release, i) => {
    const seen = (v: string, path: PropertyKey[]): void => {
      if (versions.has(v)) fail('reference', path, `version ${v} is published twice`)
      versions.add(v)
    }
    seen(release.version, ['releases', i, 'version'])
    release.targets?.forEach((t, j) => { known(t, ['releases', i, 'targets', j]) })
    const out: ScenarioRelease = { version: release.version, atMs: release.at }
    if (release.targets !== undefined) out.targets = release.targets
    if (release.fix !== undefined) {
      seen(release.fix.version, ['releases', i, 'fix', 'version'])
      release.fix.targets?.forEach((t, j) => { known(t, ['releases', i, 'fix', 'targets', j]) })
      out.fix = { version: release.fix.version, afterFirstReportMs: release.fix.afterFirstReport }
      if (release.fix.targets !== undefined) out.fix.targets = release.fix.targets
      if (semver.lte(release.fix.version, release.version)) fail('reference', ['releases', i, 'fix', 'version'], `the fix must have a higher version than ${release.version}`)
    }
    if (i > 0 && release.at < (data.releases[i - 1]?.at ?? 0)) fail('reference', ['releases', i, 'at'], 'releases must be listed in publication order')
    if (i > 0 && semver.lte(release.version, data.releases[i - 1]?.version ?? '0.0.0')) fail('reference', ['releases', i, 'version'], 'each release must have a higher version than the one before')
    return out
  })
  if (versions.size > MAX_SCENARIO_RELEASES) fail('schema', ['releases'], `at most ${MAX_SCENARIO_RELEASES} versions, fixes included`)

  const late = new Map<string, number>()
  data.lateJoiners.forEach((spec, i) => {
    known(spec.cluster, ['lateJoiners', i, 'cluster'])
    late.set(spec.cluster, (late.get(spec.cluster) ?? 0) + spec.machines)
    if ((late.get(spec.cluster) ?? 0) >= (clusters.get(spec.cluster) ?? 0)) {
      fail('reference', ['lateJoiners', i, 'machines'], `cluster "${spec.cluster}" has ${clusters.get(spec.cluster) ?? 0} machines; at least one must be there from the start`)
    }
  })
  const total = [...clusters.values()].reduce((a, b) => a + b, 0)
  data.churn.forEach((spec, i) => {
    if (spec.cluster !== undefined) known(spec.cluster, ['churn', i, 'cluster'])
    const pool = spec.cluster === undefined ? total : clusters.get(spec.cluster) ?? 0
    if (spec.machines > pool) fail('reference', ['churn', i, 'machines'], `only ${pool} machines to choose from`)
  })

  const scenario: Scenario = {
    name: data.name,
    description: data.description,
    app: data.app,
    artifactBytes: data.artifactBytes,
    clusters: data.population.clusters.map(c => ({ name: c.name, machines: c.machines, vars: c.vars, files: c.files })),
    test: { script: data.test.script, timeoutMs: data.test.timeout },
    rules,
    releases,
    plans: data.plans,
    churn: data.churn.map(c => ({ ...(c.cluster === undefined ? {} : { cluster: c.cluster }), machines: c.machines, atMs: c.at, downForMs: c.downFor })),
    lateJoiners: data.lateJoiners.map(c => ({ cluster: c.cluster, machines: c.machines, atMs: c.at })),
    vendorOffline: data.vendorOffline.map(w => ({ atMs: w.at, forMs: w.for })).sort((a, b) => a.atMs - b.atMs),
    repetitions: data.repetitions,
    seed: data.seed,
    timing: {
      transferBytesPerSecond: data.timing.transferRate,
      testDurationMs: data.timing.testDuration,
      reportDelayMs: data.timing.reportDelay,
      gossipDelayMs: data.timing.gossipDelay,
      electionSettleMs: data.timing.electionSettle,
      jitter: data.timing.jitter,
      ...(data.timing.sharedHostCores === undefined ? {} : { sharedHostCores: data.timing.sharedHostCores })
    },
    source: file
  }
  if (data.network !== undefined) {
    scenario.network = {
      ...(data.network.delayMs === undefined ? {} : { delayMs: data.network.delayMs }),
      ...(data.network.lossPercent === undefined ? {} : { lossPercent: data.network.lossPercent }),
      ...(data.network.rate === undefined ? {} : { rateBytesPerSecond: data.network.rate })
    }
  }
  return scenario
}

/** The plan file the rules make for one style (input of `parsePlanJson`). */
function planFileOf (rules: ScenarioRules, style: PlanStyle, targets?: readonly string[]): Record<string, unknown> {
  const targeted = targets === undefined ? undefined : new Set(targets)
  const keep = (after: readonly string[]): string[] => targeted === undefined ? [...after] : after.filter(c => targeted.has(c))
  return {
    style,
    clusters: rules.clusters.filter(r => targeted === undefined || targeted.has(r.name)).map(r => ({ name: r.name, after: keep(r.after), k: r.k, q: r.q })),
    default: { after: keep(rules.default.after), k: rules.default.k, q: rules.default.q },
    ...(rules.startTimeoutMs > 0 ? { startTimeoutMs: rules.startTimeoutMs } : {}),
    ...(rules.reportGraceMs > 0 ? { reportGraceMs: rules.reportGraceMs } : {})
  }
}

/**
 * The rollout plan of one release under one plan style: the scenario's
 * shared cluster rules. A release with `targets` keeps only the targeted
 * clusters' rules and prerequisites among them (a fix for two clusters must
 * not wait for clusters it does not go to; see the release area's
 * `checkTargets`).
 */
export function planFor (scenario: Scenario, style: PlanStyle, targets?: readonly string[]): RolloutPlan {
  return parsePlanJson(JSON.stringify(planFileOf(scenario.rules, style, targets)))
}

/** `{{ name }}` occurrences of a template. */
export function templateVariables (template: string): string[] {
  return [...template.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map(m => m[1] as string)
}

function valueAt (value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let at = value
  for (const part of path) {
    if (typeof at !== 'object' || at === null) return undefined
    at = (at as Record<PropertyKey, unknown>)[part]
  }
  return at
}

function formatPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(part))) out += out === '' ? String(part) : `.${String(part)}`
    else out += `[${JSON.stringify(String(part))}]`
  }
  return out
}

/** `clusters[2].after[0]` → ['clusters', 2, 'after', 0]. */
function parsePath (path: string): PropertyKey[] {
  const out: PropertyKey[] = []
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(match[2] === undefined ? match[1] as string : Number(match[2]))
  return out
}

/** The 1-based line of the deepest node along `path` that exists (a missing field: its parent's line). */
function lineOf (doc: Document, counter: LineCounter, path: ReadonlyArray<PropertyKey>): number {
  let node: unknown = doc.contents
  const lineAt = (n: unknown): number | undefined => {
    const range = (n as YamlNode | null)?.range
    return range === undefined || range === null ? undefined : counter.linePos(range[0]).line
  }
  let line = lineAt(node) ?? 1
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find(p => (isScalar(p.key) ? p.key.value : p.key) === part)
      if (pair === undefined) break
      line = lineAt(pair.key) ?? line
      node = pair.value
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part]
      if (item === undefined) break
      line = lineAt(item) ?? line
      node = item
    } else {
      break
    }
  }
  return line
}
