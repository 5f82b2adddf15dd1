/**
 * The self-contained `report.html` of a scenario run: inline CSS and inline
 * SVG charts generated here, no script, no font and no request (a
 * Content-Security-Policy of `default-src 'none'` says so to the browser).
 * It shows Mirage's two measures (§5) for each compared plan style, overhead
 * and latency side by side, the distribution of time to a working upgrade,
 * and machines per state over time by cluster for each plan run.
 */
import { MACHINE_STATES, RESULTS_FORMAT_VERSION } from '../scenario/results.ts'
import { MAX_CDF_POINTS, MAX_CLUSTER_CHARTS, MAX_CLUSTER_TABLE_ROWS, MAX_DETAILED_RUNS, MAX_NAMES_PER_CELL, MAX_STATE_CHARTS } from './constants.ts'
import { cdfSamples, groupByPlan, timeToWorking } from './plan-groups.ts'
import { runStateSeries } from './state-series.ts'
import { barPanelsChart, stackedAreaChart, stepChart, timeUnit } from './svg-charts.ts'
import { escapeHtml, formatBytes, formatCount, formatDuration, trim } from './text-format.ts'
import type { PlanStyle } from '../release/index.ts'
import type { MachineState, PlanRun, ScenarioResults } from '../scenario/results.ts'
import type { PlanGroup } from './plan-groups.ts'
import type { Bar } from './svg-charts.ts'

/** A colour per state, chosen so the story reads at a glance: green working, red faulty, greys idle. */
export const STATE_COLORS: Record<MachineState, string> = {
  offline: '#cbd5e0',
  seen: '#a0aec0',
  waiting: '#f6e05e',
  downloading: '#63b3ed',
  testing: '#9f7aea',
  installing: '#4fd1c5',
  installed: '#38a169',
  blocked: '#ed8936',
  halted: '#c05621',
  failed: '#e53e3e',
  'rolled-back': '#9b2c2c',
  superseded: '#718096',
  'not-targeted': '#e2e8f0'
}

/** Bottom to top: working machines at the bottom, so the rollout's progress is the area growing from the axis. */
const STACK_ORDER: readonly MachineState[] = [
  'installed', 'superseded', 'installing', 'testing', 'downloading', 'waiting', 'seen',
  'blocked', 'halted', 'failed', 'rolled-back', 'not-targeted', 'offline'
]

export const PLAN_COLORS: Record<PlanStyle, string> = {
  staged: '#2b6cb0',
  'front-loading': '#d69e2e',
  'all-at-once': '#c53030'
}

export interface ReportOptions {
  /** Shown in the footer, e.g. the results file's path. */
  source?: string
  /** Render time shown in the footer; defaults to now. Tests pin it. */
  generatedAt?: Date
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;margin:0;background:#f7fafc}
main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #cbd5e0;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
.meta{color:#4a5568;margin:0 0 12px}.meta span{margin-right:18px}
.notes{background:#fffbea;border:1px solid #f6e05e;padding:8px 12px 8px 28px;margin:8px 0}
table{border-collapse:collapse;background:#fff;margin:6px 0 10px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #e2e8f0;padding:3px 8px;text-align:left;vertical-align:top}th{background:#edf2f7;font-weight:600}
td.n{text-align:right;white-space:nowrap}
.charts{display:flex;flex-wrap:wrap;gap:10px}
svg.chart{background:#fff;border:1px solid #e2e8f0;max-width:100%;height:auto}
svg .grid{stroke:#edf2f7}svg .axis{stroke:#4a5568}svg .whisker{stroke:#1a202c;fill:none}
svg text{font:11px system-ui,sans-serif;fill:#2d3748}svg .chart-title,svg .panel-title{font-weight:600;font-size:12px}
svg .axis-label{fill:#4a5568}svg .bar-value{font-weight:600}svg .bar-value.none{fill:#9b2c2c}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 0 8px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border:1px solid #a0aec0}
.explain{color:#4a5568;max-width:900px}
footer{color:#718096;margin-top:32px;font-size:12px}
`

/** Renders results as one self-contained HTML page. Every string from the results is escaped. */
export function renderReport (results: ScenarioResults, options: ReportOptions = {}): string {
  const groups = groupByPlan(results)
  const machines = results.runs[0]?.metrics.machines ?? 0
  const parts: string[] = []
  parts.push('<!doctype html><html lang="en"><head><meta charset="utf-8">',
    // Nothing may load: the report must open offline and can carry hostile names.
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeHtml(`Mirage scenario ${results.scenario}`)}</title><style>${STYLE}</style></head><body><main>`,
    `<h1>Scenario <code>${escapeHtml(results.scenario)}</code></h1>`,
    '<p class="meta">',
    `<span>mode: <b>${escapeHtml(results.mode)}</b></span>`,
    `<span>runner: <b>${escapeHtml(results.runner)}</b></span>`,
    `<span>started: ${escapeHtml(results.startedAt)}</span>`,
    `<span>artifact: ${escapeHtml(formatBytes(results.artifactBytes))}</span>`,
    `<span>plan runs: ${results.runs.length}</span>`,
    `<span>machines per run: ${escapeHtml(formatCount(machines))}</span>`,
    '</p>')
  if (results.notes.length > 0) {
    parts.push('<ul class="notes">', ...results.notes.map(note => `<li>${escapeHtml(note)}</li>`), '</ul>')
  }
  parts.push('<h2>Plan styles compared</h2>',
    '<p class="explain"><b>Overhead</b>: machines on which a faulty release was tested or installed where it is faulty. ',
    '<b>Latency</b>: from the first publication until every machine runs a working version, fixes included. ',
    'With repetitions, bars show the mean and whiskers the range.</p>',
    '<div class="charts">', overheadLatencyChart(groups), timeToWorkingChart(groups), '</div>',
    '<h2>Summary per plan run</h2>', summaryTable(results.runs))
  const detailed = results.runs.slice(0, MAX_DETAILED_RUNS)
  if (results.runs.length > detailed.length) {
    parts.push(`<p class="notes">State charts and cluster tables are shown for the first ${detailed.length} of ${results.runs.length} plan runs; the summary above lists them all.</p>`)
  }
  const chartsPerRun = Math.max(2, Math.min(MAX_CLUSTER_CHARTS, Math.floor(MAX_STATE_CHARTS / Math.max(1, detailed.length))))
  detailed.forEach((run, index) => parts.push(runSection(run, index, chartsPerRun)))
  parts.push(`<footer>Mirage results format v${RESULTS_FORMAT_VERSION}`,
    options.source === undefined ? '' : ` · from ${escapeHtml(options.source)}`,
    ` · rendered ${escapeHtml((options.generatedAt ?? new Date()).toISOString())}</footer>`,
    '</main></body></html>\n')
  return parts.join('')
}

function mean (values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length
}

function range (values: number[]): [number, number] | undefined {
  return values.length < 2 ? undefined : [Math.min(...values), Math.max(...values)]
}

function overheadLatencyChart (groups: PlanGroup[]): string {
  const overheadBars: Bar[] = groups.map(group => {
    const values = group.runs.map(run => run.metrics.overhead)
    const machines = mean(group.runs.map(run => run.metrics.machines))
    const value = mean(values)
    const reps = group.runs.length
    const bar: Bar = {
      label: group.plan,
      color: PLAN_COLORS[group.plan],
      value,
      text: trim(value),
      detail: `${group.plan}: ${trim(value)} of ${trim(machines)} machines exposed to a faulty release${reps > 1 ? ` (mean of ${reps} runs: ${values.join(', ')})` : ''}`
    }
    const spread = range(values)
    if (spread !== undefined) bar.range = spread
    return bar
  })
  let maxLatency = 0
  const latencyBars: Bar[] = groups.map(group => {
    const values = group.runs.map(run => run.metrics.latencyMs)
    const done = values.filter((v): v is number => v !== null)
    const reps = group.runs.length
    if (done.length < values.length) {
      const text = reps === 1 ? 'never all working' : `never all working (${values.length - done.length}/${reps})`
      return { label: group.plan, color: PLAN_COLORS[group.plan], value: null, text, detail: `${group.plan}: some machines never ran a working version` }
    }
    const value = mean(done)
    maxLatency = Math.max(maxLatency, value, ...done)
    const bar: Bar = {
      label: group.plan,
      color: PLAN_COLORS[group.plan],
      value,
      text: formatDuration(value),
      detail: `${group.plan}: every machine working after ${formatDuration(value)}${reps > 1 ? ` (mean of ${reps} runs: ${done.map(formatDuration).join(', ')})` : ''}`
    }
    const spread = range(done)
    if (spread !== undefined) bar.range = spread
    return bar
  })
  const unit = timeUnit(maxLatency)
  return barPanelsChart({
    chart: 'overhead-latency',
    title: 'Overhead and latency by plan style',
    panels: [
      { title: 'Overhead', yLabel: 'machines exposed', bars: overheadBars },
      { title: 'Latency (until all working)', yLabel: `latency (${unit.label})`, bars: latencyBars, scale: unit.ms }
    ]
  })
}

function timeToWorkingChart (groups: PlanGroup[]): string {
  const pooled = groups.map(group => ({ group, ...timeToWorking(group.runs) }))
  let end = 0
  for (const p of pooled) end = Math.max(end, p.sorted[p.sorted.length - 1] ?? 0)
  // A little room after the last machine, so the lines' final step is visible.
  end = end * 1.05
  return stepChart({
    chart: 'time-to-working',
    title: 'Time to a working upgrade (CDF over machines)',
    xLabel: 'time since the first publication',
    yLabel: 'machines working',
    lines: pooled.map(p => {
      const { times, values } = cdfSamples(p.sorted, p.machines, end, MAX_CDF_POINTS)
      const working = p.machines === 0 ? 0 : p.sorted.length / p.machines
      const runs = p.group.runs.length
      return {
        label: `${p.group.plan}: ${trim(working * 100)}% of ${formatCount(p.machines)} machines${runs > 1 ? ` over ${runs} runs` : ''}`,
        color: PLAN_COLORS[p.group.plan],
        times,
        values
      }
    })
  })
}

function cell (value: string, numeric = false): string {
  return numeric ? `<td class="n">${escapeHtml(value)}</td>` : `<td>${escapeHtml(value)}</td>`
}

function summaryTable (runs: PlanRun[]): string {
  const head = ['plan', 'repetition', 'seed', 'machines', 'overhead', 'latency', 'time to working: median', 'p90', 'max',
    'never working', 'vendor upload (× artifact)', 'bytes per machine: median', 'max', 'messages per machine: median', 'max', 'duration']
  const rows = runs.map(run => {
    const m = run.metrics
    return '<tr>' + cell(run.plan) + cell(String(run.repetition), true) + cell(String(run.seed), true) +
      cell(formatCount(m.machines), true) + cell(formatCount(m.overhead), true) + cell(formatDuration(m.latencyMs), true) +
      cell(formatDuration(m.timeToWorkingMs.median), true) + cell(formatDuration(m.timeToWorkingMs.p90), true) + cell(formatDuration(m.timeToWorkingMs.max), true) +
      cell(formatCount(m.neverWorking), true) + cell(trim(m.vendorUploadMultiple), true) +
      cell(formatBytes(m.bytesPerMachine.median), true) + cell(formatBytes(m.bytesPerMachine.max), true) +
      cell(formatCount(m.messagesPerMachine.median), true) + cell(formatCount(m.messagesPerMachine.max), true) +
      cell(formatDuration(run.durationMs), true) + '</tr>'
  })
  return `<table><thead><tr>${head.map(h => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function runSection (run: PlanRun, index: number, maxClusterCharts: number): string {
  const parts: string[] = []
  parts.push(`<section data-run="${index}"><h2>${escapeHtml(`${run.plan} · repetition ${run.repetition} · seed ${run.seed}`)}</h2>`)
  if (run.releases.length > 0) {
    parts.push('<table><thead><tr><th>release</th><th>published</th><th>faulty</th><th>targets</th></tr></thead><tbody>',
      ...run.releases.map(rel => '<tr>' + cell(rel.version) + cell(formatDuration(rel.publishedAt), true) + cell(rel.faulty ? 'yes' : 'no') +
        cell(rel.targets === undefined ? 'all' : names(rel.targets)) + '</tr>'),
      '</tbody></table>')
  }
  const states = runStateSeries(run, { maxClusterCharts })
  const used = STACK_ORDER.filter(state => states.series.some(s => (s.counts[MACHINE_STATES.indexOf(state)] ?? []).some(v => v > 0)))
  parts.push('<h3>Machines per state over time, by cluster</h3>',
    `<div class="legend">${used.map(state => `<span><i style="background:${STATE_COLORS[state]}"></i>${escapeHtml(state)}</span>`).join('')}</div>`,
    '<div class="charts">')
  for (const series of states.series) {
    parts.push(stackedAreaChart({
      chart: 'states-by-cluster',
      data: { run: String(index), cluster: series.label },
      title: `${series.label} (${formatCount(series.machines)})`,
      times: states.times,
      layers: STACK_ORDER.map(state => ({ label: state, color: STATE_COLORS[state], values: series.counts[MACHINE_STATES.indexOf(state)] ?? [] })),
      total: series.machines,
      yLabel: 'machines'
    }))
  }
  parts.push('</div>')
  if (states.merged > 0) parts.push(`<p class="explain">${states.merged} clusters are summed in the last chart (clusters a release breaks, then the largest, have their own).</p>`)
  parts.push('<h3>Clusters</h3>', clusterTable(run), '</section>')
  return parts.join('')
}

/** A list of names for a table cell, the first few and how many more. */
function names (list: string[]): string {
  if (list.length <= MAX_NAMES_PER_CELL) return list.join(', ')
  return `${list.slice(0, MAX_NAMES_PER_CELL).join(', ')} and ${list.length - MAX_NAMES_PER_CELL} more`
}

function clusterTable (run: PlanRun): string {
  const rows = run.clusters.slice(0, MAX_CLUSTER_TABLE_ROWS).map(c => '<tr>' + cell(c.cluster) + cell(formatCount(c.machines), true) +
    cell(names(c.after)) + cell(names(c.breaksOn)) + cell(formatCount(c.exposed), true) + cell(formatDuration(c.workingAt), true) + '</tr>')
  const more = run.clusters.length > MAX_CLUSTER_TABLE_ROWS
    ? `<p class="explain">${run.clusters.length - MAX_CLUSTER_TABLE_ROWS} more clusters are in the results file.</p>`
    : ''
  return '<table><thead><tr><th>cluster</th><th>machines</th><th>after</th><th>breaks on</th><th>exposed</th><th>all working at</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table>${more}`
}
