import { z } from 'zod'
import {
  CLUSTER_NAME_PATTERN, DEFAULT_REPORT_GRACE_MS, DEFAULT_START_TIMEOUT_MS, MAX_PLAN_CLUSTERS,
  MAX_REPRESENTATIVES, MAX_TEST_TIMEOUT_MS
} from './constants.ts'
import { PlanInvalidError } from './errors.ts'
import { firstIssue } from './schema-issues.ts'

/**
 * How representatives are scheduled (Mirage §4):
 * - `staged`: a cluster's representatives test only after its prerequisite
 *   clusters passed; followers wait for their cluster and its prerequisites.
 * - `front-loading`: every cluster's representatives test at once; followers
 *   still wait for their cluster and its prerequisites.
 * - `all-at-once`: no gating at all: every machine installs immediately. Kept
 *   so that experiments can compare against it.
 */
export const PLAN_STYLES = ['staged', 'front-loading', 'all-at-once'] as const
export type PlanStyle = typeof PLAN_STYLES[number]

/** The rule for one named cluster. */
export interface ClusterRule {
  /** Cluster id as machines compute it, or as a vendor cluster map names it. */
  name: string
  /** Clusters that must have succeeded before this one proceeds. */
  after: string[]
  /** Number of representatives that test first. */
  k: number
  /** Passing outcomes from distinct members needed before followers install. */
  q: number
}

/** The rule for every cluster the plan does not name. */
export interface DefaultRule {
  after: string[]
  k: number
  q: number
}

export interface RolloutPlan {
  style: PlanStyle
  /** Sorted by name; names unique. */
  clusters: ClusterRule[]
  default: DefaultRule
  /** An elected representative that has not announced its start by then is replaced. */
  startTimeoutMs: number
  /** A started representative silent past test timeout + this counts as a failure. */
  reportGraceMs: number
}

const clusterName = z.string().regex(CLUSTER_NAME_PATTERN, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit')
const count = (what: string, max: number) => z.int(`${what} must be an integer`).min(1, `${what} must be at least 1`).max(max, `${what} must be at most ${max}`)
const duration = (what: string) => z.int(`${what} must be an integer number of milliseconds`).min(1_000, `${what} must be at least 1000 ms`).max(MAX_TEST_TIMEOUT_MS, `${what} must be at most ${MAX_TEST_TIMEOUT_MS} ms`)
const afterList = z.array(clusterName).max(MAX_PLAN_CLUSTERS)

/** The canonical plan, as signed inside a manifest: every field present. */
const canonicalPlanSchema = z.strictObject({
  style: z.enum(PLAN_STYLES),
  clusters: z.array(z.strictObject({ name: clusterName, after: afterList, k: count('k', MAX_REPRESENTATIVES), q: count('q', MAX_REPRESENTATIVES) })).max(MAX_PLAN_CLUSTERS),
  default: z.strictObject({ after: afterList, k: count('k', MAX_REPRESENTATIVES), q: count('q', MAX_REPRESENTATIVES) }),
  startTimeoutMs: duration('startTimeoutMs'),
  reportGraceMs: duration('reportGraceMs')
})

/** The plan file a vendor writes: defaults allowed, so small plans stay small. */
const planFileSchema = z.strictObject({
  style: z.enum(PLAN_STYLES).default('staged'),
  clusters: z.array(z.strictObject({ name: clusterName, after: afterList.default([]), k: count('k', MAX_REPRESENTATIVES), q: count('q', MAX_REPRESENTATIVES) })).max(MAX_PLAN_CLUSTERS).default([]),
  default: z.strictObject({ after: afterList.default([]), k: count('k', MAX_REPRESENTATIVES), q: count('q', MAX_REPRESENTATIVES) }),
  startTimeoutMs: duration('startTimeoutMs').default(DEFAULT_START_TIMEOUT_MS),
  reportGraceMs: duration('reportGraceMs').default(DEFAULT_REPORT_GRACE_MS)
})

/** Parses and validates a vendor's plan file (JSON), filling defaults and sorting into canonical order. */
export function parsePlanJson (text: string): RolloutPlan {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new PlanInvalidError('not-json', '', `not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  const parsed = planFileSchema.safeParse(raw)
  if (!parsed.success) {
    const { path, message } = firstIssue(parsed.error)
    throw new PlanInvalidError('schema', path, message)
  }
  checkPlanRules(parsed.data)
  return normalizePlan(parsed.data)
}

/**
 * Validates a plan decoded from a signed manifest: the canonical schema, the
 * rules, and canonical order (so one plan has one encoding).
 */
export function validatePlan (value: unknown): RolloutPlan {
  const parsed = canonicalPlanSchema.safeParse(value)
  if (!parsed.success) {
    const { path, message } = firstIssue(parsed.error)
    throw new PlanInvalidError('schema', path, message)
  }
  checkPlanRules(parsed.data)
  const plan = parsed.data
  const normal = normalizePlan(plan)
  if (JSON.stringify(normal) !== JSON.stringify(plan)) {
    throw new PlanInvalidError('schema', 'clusters', 'clusters and prerequisites must be sorted by name')
  }
  return plan
}

/** The rule that applies to a cluster: its own, or the plan's default. */
export function ruleForCluster (plan: RolloutPlan, cluster: string): DefaultRule {
  return plan.clusters.find(rule => rule.name === cluster) ?? plan.default
}

function normalizePlan (plan: RolloutPlan): RolloutPlan {
  return {
    style: plan.style,
    clusters: plan.clusters
      .map(rule => ({ name: rule.name, after: [...rule.after].sort(compareNames), k: rule.k, q: rule.q }))
      .sort((a, b) => compareNames(a.name, b.name)),
    default: { after: [...plan.default.after].sort(compareNames), k: plan.default.k, q: plan.default.q },
    startTimeoutMs: plan.startTimeoutMs,
    reportGraceMs: plan.reportGraceMs
  }
}

function compareNames (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The rules a schema cannot express: references, cycles, q ≤ k. */
function checkPlanRules (plan: RolloutPlan): void {
  const names = new Map<string, number>()
  plan.clusters.forEach((rule, index) => {
    const earlier = names.get(rule.name)
    if (earlier !== undefined) {
      throw new PlanInvalidError('duplicate-cluster', `clusters[${index}].name`, `cluster "${rule.name}" is already defined at clusters[${earlier}]`)
    }
    names.set(rule.name, index)
  })

  const checkRule = (rule: DefaultRule, path: string, self?: string): void => {
    if (rule.q > rule.k) {
      throw new PlanInvalidError('quorum-exceeds-representatives', `${path}.q`, `quorum q=${rule.q} exceeds the number of representatives k=${rule.k}; it could never be reached`)
    }
    const seen = new Set<string>()
    rule.after.forEach((prerequisite, index) => {
      const where = `${path}.after[${index}]`
      if (prerequisite === self) {
        throw new PlanInvalidError('self-prerequisite', where, `cluster "${self}" cannot come after itself`)
      }
      if (!names.has(prerequisite)) {
        throw new PlanInvalidError('unknown-prerequisite', where, `prerequisite "${prerequisite}" is not a cluster of this plan`)
      }
      if (seen.has(prerequisite)) {
        throw new PlanInvalidError('duplicate-prerequisite', where, `prerequisite "${prerequisite}" is listed twice`)
      }
      seen.add(prerequisite)
    })
  }
  plan.clusters.forEach((rule, index) => { checkRule(rule, `clusters[${index}]`, rule.name) })
  checkRule(plan.default, 'default')

  const cycle = findCycle(plan.clusters)
  if (cycle !== undefined) {
    const index = names.get(cycle[0] ?? '') ?? 0
    throw new PlanInvalidError('cycle', `clusters[${index}].after`, `prerequisites form a cycle: ${cycle.join(' → ')}; no cluster in it could ever start`)
  }
}

/** Depth-first search with an explicit stack, so a long chain cannot overflow the call stack. */
function findCycle (rules: readonly ClusterRule[]): string[] | undefined {
  const after = new Map(rules.map(rule => [rule.name, rule.after]))
  const state = new Map<string, 'visiting' | 'done'>()
  for (const start of after.keys()) {
    if (state.has(start)) continue
    const path: string[] = [start]
    const next: number[] = [0]
    state.set(start, 'visiting')
    while (path.length > 0) {
      const top = path.length - 1
      const node = path[top] as string
      const edges = after.get(node) ?? []
      const i = next[top] as number
      if (i >= edges.length) {
        state.set(node, 'done')
        path.pop()
        next.pop()
        continue
      }
      next[top] = i + 1
      const child = edges[i] as string
      const seen = state.get(child)
      if (seen === 'visiting') return [...path.slice(path.indexOf(child)), child]
      if (seen === undefined) {
        state.set(child, 'visiting')
        path.push(child)
        next.push(0)
      }
    }
  }
  return undefined
}
