/**
 * Two runs side by side, per plan style: Mirage's measures (overhead,
 * latency), the time-to-working distribution, the vendor's upload and the
 * traffic per machine, with the difference. And the agreement check of
 * issue 6: a simulation and a real run of the same scenario must agree on
 * overhead exactly and on latency within a stated tolerance.
 */
import { groupByPlan } from './plan-groups.ts'
import { formatBytes, formatCount, formatDuration, trim } from './text-format.ts'
import type { PlanStyle } from '../release/index.ts'
import type { PlanRun, ScenarioResults } from '../scenario/results.ts'

/** One side of a plan style's comparison; with repetitions, each measure is the mean over the runs. */
export interface PlanSide {
  runs: number
  machines: number
  overhead: number
  /** null if in some run a machine never ran a working version. */
  latencyMs: number | null
  timeToWorkingMedianMs: number | null
  timeToWorkingP90Ms: number | null
  neverWorking: number
  vendorUploadMultiple: number
  bytesPerMachineMedian: number
  messagesPerMachineMedian: number
}

export const COMPARED_MEASURES = [
  'machines', 'overhead', 'latencyMs', 'timeToWorkingMedianMs', 'timeToWorkingP90Ms', 'neverWorking',
  'vendorUploadMultiple', 'bytesPerMachineMedian', 'messagesPerMachineMedian'
] as const
export type ComparedMeasure = typeof COMPARED_MEASURES[number]

export interface PlanComparison {
  plan: PlanStyle
  /** null when that run did not try this plan style. */
  a: PlanSide | null
  b: PlanSide | null
  /** b − a per measure; null where either side lacks the value. */
  difference: Record<ComparedMeasure, number | null>
}

/** What identifies a results file in a comparison. */
export interface RunIdentity {
  scenario: string
  mode: ScenarioResults['mode']
  runner: ScenarioResults['runner']
  startedAt: string
  runs: number
}

export interface ResultsComparison {
  a: RunIdentity
  b: RunIdentity
  /** Plan styles in order of first appearance in a, then those only in b. */
  plans: PlanComparison[]
}

function identity (results: ScenarioResults): RunIdentity {
  return { scenario: results.scenario, mode: results.mode, runner: results.runner, startedAt: results.startedAt, runs: results.runs.length }
}

function mean (values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((x, y) => x + y, 0) / values.length
}

/** Mean of values, or null if any is null (a measure some run never reached). */
function meanOrNull (values: Array<number | null>): number | null {
  if (values.some(v => v === null)) return null
  return mean(values as number[])
}

/** The measures of one plan style's runs (means over repetitions). */
export function planSide (runs: PlanRun[]): PlanSide {
  return {
    runs: runs.length,
    machines: mean(runs.map(r => r.metrics.machines)),
    overhead: mean(runs.map(r => r.metrics.overhead)),
    latencyMs: meanOrNull(runs.map(r => r.metrics.latencyMs)),
    timeToWorkingMedianMs: meanOrNull(runs.map(r => r.metrics.timeToWorkingMs.median)),
    timeToWorkingP90Ms: meanOrNull(runs.map(r => r.metrics.timeToWorkingMs.p90)),
    neverWorking: mean(runs.map(r => r.metrics.neverWorking)),
    vendorUploadMultiple: mean(runs.map(r => r.metrics.vendorUploadMultiple)),
    bytesPerMachineMedian: mean(runs.map(r => r.metrics.bytesPerMachine.median)),
    messagesPerMachineMedian: mean(runs.map(r => r.metrics.messagesPerMachine.median))
  }
}

/** Puts two results side by side per plan style. */
export function compareResults (a: ScenarioResults, b: ScenarioResults): ResultsComparison {
  const groupsA = new Map(groupByPlan(a).map(g => [g.plan, g.runs]))
  const groupsB = new Map(groupByPlan(b).map(g => [g.plan, g.runs]))
  const plans = [...new Set([...groupsA.keys(), ...groupsB.keys()])]
  return {
    a: identity(a),
    b: identity(b),
    plans: plans.map(plan => {
      const runsA = groupsA.get(plan)
      const runsB = groupsB.get(plan)
      const sideA = runsA === undefined ? null : planSide(runsA)
      const sideB = runsB === undefined ? null : planSide(runsB)
      const difference = Object.fromEntries(COMPARED_MEASURES.map(measure => {
        const x = sideA?.[measure] ?? null
        const y = sideB?.[measure] ?? null
        return [measure, x === null || y === null ? null : y - x]
      })) as Record<ComparedMeasure, number | null>
      return { plan, a: sideA, b: sideB, difference }
    })
  }
}

/** How one plan style's runs agree. */
export interface PlanAgreement {
  plan: PlanStyle
  /** Same number of machines on both sides (else nothing else can agree). */
  machinesAgree: boolean
  /** Overhead exactly equal (mean over repetitions, which for one run each is the count). */
  overheadAgrees: boolean
  overheadA: number | null
  overheadB: number | null
  /** Latency of b over latency of a; null when either is missing (never all working) or a's is 0 and b's is not. */
  latencyRatio: number | null
  /** |ratio − 1| ≤ tolerance, or both sides never had every machine working. */
  latencyAgrees: boolean
  agrees: boolean
  /** Why not, in words, when `agrees` is false. */
  reason: string
}

export interface Agreement {
  latencyTolerance: number
  /** Every plan style of either side agrees. */
  agrees: boolean
  plans: PlanAgreement[]
}

/**
 * Whether b reproduces a: per plan style, the same overhead exactly and a
 * latency within `latencyTolerance` (a fraction: 0.25 allows b's latency to
 * be from 0.75 to 1.25 times a's). A plan style present on one side only
 * does not agree.
 */
export function agreement (a: ScenarioResults, b: ScenarioResults, options: { latencyTolerance: number }): Agreement {
  const tolerance = options.latencyTolerance
  if (!(tolerance >= 0) || !Number.isFinite(tolerance)) throw new RangeError(`latencyTolerance must be a finite fraction ≥ 0, got ${tolerance}`)
  const plans = compareResults(a, b).plans.map((p): PlanAgreement => {
    if (p.a === null || p.b === null) {
      return {
        plan: p.plan, machinesAgree: false, overheadAgrees: false, overheadA: p.a?.overhead ?? null, overheadB: p.b?.overhead ?? null,
        latencyRatio: null, latencyAgrees: false, agrees: false, reason: `only in ${p.a === null ? 'B' : 'A'}`
      }
    }
    const machinesAgree = p.a.machines === p.b.machines
    const overheadAgrees = p.a.overhead === p.b.overhead
    const la = p.a.latencyMs
    const lb = p.b.latencyMs
    let latencyRatio: number | null = null
    let latencyAgrees: boolean
    if (la === null || lb === null) {
      latencyAgrees = la === null && lb === null
    } else if (la === 0) {
      latencyRatio = lb === 0 ? 1 : null
      latencyAgrees = lb === 0
    } else {
      latencyRatio = lb / la
      // A hair of slack so a tolerance of exactly the measured spread agrees despite float rounding.
      latencyAgrees = Math.abs(latencyRatio - 1) <= tolerance + 1e-12
    }
    const reasons: string[] = []
    if (!machinesAgree) reasons.push(`machines ${trim(p.a.machines)} ≠ ${trim(p.b.machines)}`)
    if (!overheadAgrees) reasons.push(`overhead ${trim(p.a.overhead)} ≠ ${trim(p.b.overhead)}`)
    if (!latencyAgrees) {
      reasons.push(latencyRatio === null
        ? `latency ${formatDuration(la)} vs ${formatDuration(lb)}`
        : `latency ×${trim(latencyRatio)} is outside ±${trim(tolerance * 100)}%`)
    }
    return {
      plan: p.plan, machinesAgree, overheadAgrees, overheadA: p.a.overhead, overheadB: p.b.overhead,
      latencyRatio, latencyAgrees, agrees: reasons.length === 0, reason: reasons.join('; ')
    }
  })
  return { latencyTolerance: tolerance, agrees: plans.every(p => p.agrees), plans }
}

const MEASURE_LABELS: Record<ComparedMeasure, string> = {
  machines: 'machines',
  overhead: 'overhead',
  latencyMs: 'latency',
  timeToWorkingMedianMs: 'time to working: median',
  timeToWorkingP90Ms: 'time to working: p90',
  neverWorking: 'never working',
  vendorUploadMultiple: 'vendor upload (× artifact)',
  bytesPerMachineMedian: 'bytes per machine: median',
  messagesPerMachineMedian: 'messages per machine: median'
}

function formatMeasure (measure: ComparedMeasure, value: number | null, signed = false): string {
  if (value === null) return '–'
  const sign = signed && value > 0 ? '+' : signed && value < 0 ? '-' : ''
  const abs = signed ? Math.abs(value) : value
  switch (measure) {
    case 'latencyMs': case 'timeToWorkingMedianMs': case 'timeToWorkingP90Ms': return sign + formatDuration(abs)
    case 'bytesPerMachineMedian': return sign + formatBytes(abs)
    case 'vendorUploadMultiple': return sign + trim(abs)
    default: return sign + (Number.isInteger(abs) ? formatCount(abs) : trim(abs))
  }
}

function describe (id: RunIdentity): string {
  return `${id.scenario} (${id.mode}, ${id.runner}, ${id.runs} plan run${id.runs === 1 ? '' : 's'}, started ${id.startedAt})`
}

/** The comparison as a text table, optionally followed by the agreement check. */
export function renderComparison (comparison: ResultsComparison, check?: Agreement): string {
  const lines: string[] = [`A: ${describe(comparison.a)}\n`, `B: ${describe(comparison.b)}\n`]
  const header = ['plan', 'measure', 'A', 'B', 'B - A', 'B / A']
  const rows: string[][] = []
  for (const p of comparison.plans) {
    COMPARED_MEASURES.forEach((measure, i) => {
      const x = p.a?.[measure] ?? null
      const y = p.b?.[measure] ?? null
      const ratio = x === null || y === null || x === 0 ? '' : `×${trim(y / x)}`
      rows.push([i === 0 ? p.plan : '', MEASURE_LABELS[measure], p.a === null ? '(not run)' : formatMeasure(measure, x),
        p.b === null ? '(not run)' : formatMeasure(measure, y), formatMeasure(measure, p.difference[measure], true), ratio])
    })
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => `  ${cells.map((c, i) => i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('  ').trimEnd()}\n`
  lines.push(line(header), ...rows.map(line))
  if (check !== undefined) {
    lines.push(`agreement (overhead exactly, latency within ±${trim(check.latencyTolerance * 100)}%): ${check.agrees ? 'yes' : 'NO'}\n`)
    for (const p of check.plans) {
      const ratio = p.latencyRatio === null ? '' : `, latency ×${trim(p.latencyRatio)}`
      lines.push(`  ${p.plan}: ${p.agrees ? `agrees (overhead ${trim(p.overheadA ?? 0)}${ratio})` : `differs: ${p.reason}`}\n`)
    }
  }
  return lines.join('')
}
