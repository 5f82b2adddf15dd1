/**
 * Inline SVG charts, generated as strings at render time: no script, no
 * font and no request is needed to show them. Every chart is one `<svg>`
 * with a `data-chart` attribute, and every drawn data mark has the class
 * `mark`, so a test (or a reader of the markup) can tell a chart with data
 * from an empty frame. Tooltips are SVG `<title>` elements.
 */
import { escapeHtml, trim } from './text-format.ts'

/** The plotting area inside a chart, in SVG user units. */
interface Plot { left: number, top: number, width: number, height: number }

/** A tick: where it sits on its axis (in data units) and what it reads. */
interface Tick { value: number, label: string }

/** Rounds a coordinate to 0.1 unit: sharp enough on screen, and keeps the file small. */
function r (value: number): string {
  return String(Math.round(value * 10) / 10)
}

/** `data-chart="…"` plus further `data-*` attributes, escaped. */
function dataAttributes (chart: string, data: Record<string, string>): string {
  const extra = Object.entries(data).map(([k, v]) => ` data-${k}="${escapeHtml(v)}"`).join('')
  return `data-chart="${escapeHtml(chart)}"${extra}`
}

/**
 * Evenly spaced round ticks from 0 covering `max` (steps of 1, 2 or 5 × 10^k),
 * and the axis end (the last tick, at or above `max`).
 */
export function niceTicks (max: number, target = 5, integer = false): { ticks: number[], end: number } {
  if (!(max > 0)) return { ticks: [0, 1], end: 1 }
  const raw = max / target
  const power = 10 ** Math.floor(Math.log10(raw))
  const fraction = raw / power
  let step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power
  if (integer) step = Math.max(1, Math.round(step))
  const count = Math.ceil(max / step - 1e-9)
  const ticks: number[] = []
  for (let i = 0; i <= count; i++) ticks.push(Number((i * step).toPrecision(12)))
  return { ticks, end: count * step }
}

/** The unit a time axis reads in, from its longest time. */
export function timeUnit (maxMs: number): { label: string, ms: number } {
  if (maxMs < 2_000) return { label: 'ms', ms: 1 }
  if (maxMs < 120_000) return { label: 's', ms: 1000 }
  if (maxMs < 7_200_000) return { label: 'min', ms: 60_000 }
  return { label: 'h', ms: 3_600_000 }
}

/** Time ticks in ms, labelled in the axis unit. */
function timeTicks (maxMs: number, target: number): { ticks: Tick[], end: number, unit: string } {
  const unit = timeUnit(maxMs)
  const { ticks, end } = niceTicks(maxMs / unit.ms, target)
  return { ticks: ticks.map(t => ({ value: t * unit.ms, label: trim(t) })), end: end * unit.ms, unit: unit.label }
}

function axes (plot: Plot, x: { ticks: Tick[], end: number, label: string } | null, y: { ticks: Tick[], end: number, label: string }): string {
  const parts: string[] = []
  const bottom = plot.top + plot.height
  for (const tick of y.ticks) {
    const py = bottom - (tick.value / y.end) * plot.height
    parts.push(`<line class="grid" x1="${r(plot.left)}" x2="${r(plot.left + plot.width)}" y1="${r(py)}" y2="${r(py)}"/>`,
      `<text class="tick" x="${r(plot.left - 4)}" y="${r(py + 3.5)}" text-anchor="end">${escapeHtml(tick.label)}</text>`)
  }
  if (x !== null) {
    for (const tick of x.ticks) {
      const px = plot.left + (tick.value / x.end) * plot.width
      parts.push(`<line class="axis" x1="${r(px)}" x2="${r(px)}" y1="${r(bottom)}" y2="${r(bottom + 4)}"/>`,
        `<text class="tick" x="${r(px)}" y="${r(bottom + 15)}" text-anchor="middle">${escapeHtml(tick.label)}</text>`)
    }
    parts.push(`<text class="axis-label" x="${r(plot.left + plot.width / 2)}" y="${r(bottom + 30)}" text-anchor="middle">${escapeHtml(x.label)}</text>`)
  }
  parts.push(`<line class="axis" x1="${r(plot.left)}" x2="${r(plot.left + plot.width)}" y1="${r(bottom)}" y2="${r(bottom)}"/>`,
    `<line class="axis" x1="${r(plot.left)}" x2="${r(plot.left)}" y1="${r(plot.top)}" y2="${r(bottom)}"/>`,
    `<text class="axis-label" transform="translate(${r(plot.left - 34)} ${r(plot.top + plot.height / 2)}) rotate(-90)" text-anchor="middle">${escapeHtml(y.label)}</text>`)
  return parts.join('')
}

/** One layer of a stacked area chart: a value per time sample. */
export interface StackLayer {
  label: string
  color: string
  values: ArrayLike<number>
}

export interface StackedAreaInit {
  chart: string
  data?: Record<string, string>
  title: string
  /** Sample times, ms since the start, ascending. */
  times: ArrayLike<number>
  /** Bottom layer first. Layers that are zero throughout are not drawn. */
  layers: StackLayer[]
  /** Height of the full stack (the y axis end), e.g. the cluster's machines. */
  total: number
  yLabel: string
  width?: number
  height?: number
}

/** A stacked area chart over time (machines per state), one small multiple. */
export function stackedAreaChart (init: StackedAreaInit): string {
  const width = init.width ?? 300
  const height = init.height ?? 180
  const plot: Plot = { left: 46, top: 22, width: width - 56, height: height - 22 - 38 }
  const n = init.times.length
  const lastTime = n === 0 ? 0 : init.times[n - 1] ?? 0
  const x = timeTicks(lastTime, 4)
  const y = niceTicks(init.total, 4, true)
  const px = (t: number): number => plot.left + (t / x.end) * plot.width
  const py = (v: number): number => plot.top + plot.height - (v / y.end) * plot.height
  // Each layer is drawn as the area from the axis up to its cumulative top,
  // topmost first, so the layers below paint over the rest: one line per
  // layer instead of two, which halves the report's size.
  const cumulative = new Float64Array(n)
  const drawn: string[] = []
  for (const layer of init.layers) {
    let peak = 0
    for (let i = 0; i < n; i++) peak = Math.max(peak, layer.values[i] ?? 0)
    if (peak === 0) continue
    const top: string[] = []
    for (let i = 0; i < n; i++) {
      cumulative[i] = (cumulative[i] ?? 0) + (layer.values[i] ?? 0)
      const c = cumulative[i] ?? 0
      // A point between two of the same height adds nothing to a flat stretch: leave it out.
      if (i > 0 && i < n - 1 && c === cumulative[i - 1] && c === (cumulative[i + 1] ?? 0) + (layer.values[i + 1] ?? 0)) continue
      top.push(`${r(px(init.times[i] ?? 0))},${r(py(c))}`)
    }
    const base = r(py(0))
    const first = r(px(init.times[0] ?? 0))
    const last = r(px(init.times[n - 1] ?? 0))
    drawn.push(`<path class="mark" fill="${escapeHtml(layer.color)}" d="M${first},${base}L${top.join('L')}L${last},${base}Z"><title>${escapeHtml(`${layer.label}: up to ${peak}`)}</title></path>`)
  }
  const marks = drawn.reverse()
  return `<svg ${dataAttributes(init.chart, init.data ?? {})} class="chart small" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(init.title)}">` +
    `<text class="chart-title" x="${r(plot.left)}" y="14">${escapeHtml(init.title)}</text>` +
    // Axes first: grid lines stay behind the data.
    axes(plot, { ticks: x.ticks, end: x.end, label: `time since start (${x.unit})` }, { ticks: y.ticks.map(t => ({ value: t, label: String(t) })), end: y.end, label: init.yLabel }) +
    marks.join('') +
    '</svg>'
}

/** One line of a step chart: y values (0..1) at the given times. */
export interface StepLine {
  label: string
  color: string
  /** ms, ascending. */
  times: ArrayLike<number>
  values: ArrayLike<number>
}

export interface StepChartInit {
  chart: string
  data?: Record<string, string>
  title: string
  lines: StepLine[]
  xLabel: string
  yLabel: string
  width?: number
  height?: number
}

/** Step lines of fractions over time (a CDF), with a legend. */
export function stepChart (init: StepChartInit): string {
  const width = init.width ?? 560
  const height = init.height ?? 300
  const legendHeight = 16 * init.lines.length
  const plot: Plot = { left: 52, top: 34 + legendHeight, width: width - 70, height: height - 34 - legendHeight - 40 }
  let maxTime = 0
  for (const line of init.lines) maxTime = Math.max(maxTime, line.times[line.times.length - 1] ?? 0)
  const x = timeTicks(maxTime, 6)
  const px = (t: number): number => plot.left + (t / x.end) * plot.width
  const py = (v: number): number => plot.top + plot.height - v * plot.height
  const marks: string[] = []
  const legend: string[] = []
  init.lines.forEach((line, index) => {
    const ly = 34 + index * 16
    legend.push(`<rect x="${r(plot.left + 8)}" y="${r(ly - 8)}" width="14" height="4" fill="${escapeHtml(line.color)}"/>`,
      `<text class="legend" x="${r(plot.left + 28)}" y="${r(ly - 2)}">${escapeHtml(line.label)}</text>`)
    if (line.times.length === 0) return
    let d = `M${r(px(line.times[0] ?? 0))},${r(py(line.values[0] ?? 0))}`
    // Steps only where the value changes; flat stretches are one segment.
    for (let i = 1; i < line.times.length; i++) {
      if (line.values[i] !== line.values[i - 1]) d += `H${r(px(line.times[i] ?? 0))}V${r(py(line.values[i] ?? 0))}`
    }
    d += `H${r(px(line.times[line.times.length - 1] ?? 0))}`
    marks.push(`<path class="mark" fill="none" stroke="${escapeHtml(line.color)}" stroke-width="2" d="${d}"><title>${escapeHtml(line.label)}</title></path>`)
  })
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map(v => ({ value: v, label: `${v * 100}%` }))
  return `<svg ${dataAttributes(init.chart, init.data ?? {})} class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(init.title)}">` +
    `<text class="chart-title" x="${r(plot.left)}" y="14">${escapeHtml(init.title)}</text>` +
    axes(plot, { ticks: x.ticks, end: x.end, label: `${init.xLabel} (${x.unit})` }, { ticks: yTicks, end: 1, label: init.yLabel }) +
    legend.join('') + marks.join('') +
    '</svg>'
}

/** One bar: a value (or null, drawn as a labelled gap), an optional range across repetitions, and its printed text. */
export interface Bar {
  label: string
  color: string
  value: number | null
  /** Smallest and largest value across repetitions; drawn as a whisker when they differ. */
  range?: [number, number]
  /** Printed above the bar: the number itself, with its unit. */
  text: string
  /** Tooltip. */
  detail: string
}

/** One panel of bars with its own y axis. */
export interface BarPanel {
  title: string
  yLabel: string
  bars: Bar[]
  /** Formats y tick values (in the bars' unit). */
  tick?: (value: number) => string
  /** Divide values by this for the axis (e.g. 1000 for seconds). */
  scale?: number
}

/** Panels of bars side by side in one chart (overhead beside latency). */
export function barPanelsChart (init: { chart: string, data?: Record<string, string>, title: string, panels: BarPanel[], panelWidth?: number, height?: number }): string {
  const panelWidth = init.panelWidth ?? 320
  const height = init.height ?? 280
  const width = panelWidth * init.panels.length
  const parts: string[] = []
  init.panels.forEach((panel, index) => {
    const plot: Plot = { left: index * panelWidth + 60, top: 52, width: panelWidth - 76, height: height - 52 - 44 }
    const scale = panel.scale ?? 1
    let max = 0
    for (const bar of panel.bars) max = Math.max(max, bar.value ?? 0, bar.range?.[1] ?? 0)
    const y = niceTicks(max / scale, 4)
    const end = y.end * scale
    const py = (v: number): number => plot.top + plot.height - (v / end) * plot.height
    const tick = panel.tick ?? ((v: number) => trim(v))
    // Axes first: grid lines stay behind the bars.
    parts.push(axes(plot, null, { ticks: y.ticks.map(t => ({ value: t * scale, label: tick(t) })), end, label: panel.yLabel }))
    parts.push(`<text class="panel-title" x="${r(plot.left)}" y="36">${escapeHtml(panel.title)}</text>`)
    const slot = plot.width / Math.max(1, panel.bars.length)
    const barWidth = Math.min(56, slot * 0.6)
    panel.bars.forEach((bar, i) => {
      const cx = plot.left + slot * (i + 0.5)
      const bottom = plot.top + plot.height
      if (bar.value === null) {
        parts.push(`<text class="bar-value none" x="${r(cx)}" y="${r(bottom - 6)}" text-anchor="middle">${escapeHtml(bar.text)}<title>${escapeHtml(bar.detail)}</title></text>`)
      } else {
        const top = py(bar.value)
        // A zero still gets a hairline, so "0" reads as measured, not missing.
        const h = Math.max(1, bottom - top)
        parts.push(`<rect class="mark" x="${r(cx - barWidth / 2)}" y="${r(bottom - h)}" width="${r(barWidth)}" height="${r(h)}" fill="${escapeHtml(bar.color)}"><title>${escapeHtml(bar.detail)}</title></rect>`)
        if (bar.range !== undefined && bar.range[0] !== bar.range[1]) {
          const [lo, hi] = bar.range
          parts.push(`<path class="whisker" d="M${r(cx)},${r(py(lo))}V${r(py(hi))}M${r(cx - 6)},${r(py(lo))}H${r(cx + 6)}M${r(cx - 6)},${r(py(hi))}H${r(cx + 6)}"/>`)
        }
        const textY = Math.min(bottom - h, bar.range === undefined ? Infinity : py(bar.range[1])) - 5
        parts.push(`<text class="bar-value" x="${r(cx)}" y="${r(textY)}" text-anchor="middle">${escapeHtml(bar.text)}</text>`)
      }
      parts.push(`<text class="tick" x="${r(cx)}" y="${r(bottom + 15)}" text-anchor="middle">${escapeHtml(bar.label)}</text>`)
    })
    parts.push(`<text class="axis-label" x="${r(plot.left + plot.width / 2)}" y="${r(plot.top + plot.height + 32)}" text-anchor="middle">plan style</text>`)
  })
  return `<svg ${dataAttributes(init.chart, init.data ?? {})} class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(init.title)}">` +
    `<text class="chart-title" x="60" y="14">${escapeHtml(init.title)}</text>` +
    parts.join('') + '</svg>'
}
