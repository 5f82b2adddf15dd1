/** Reads the report's charts back out of its markup, for tests: each `<svg data-chart>` with its data marks. */
export interface ChartMarkup { chart: string, attributes: string, marks: number, markup: string }

export function chartsIn (html: string): ChartMarkup[] {
  const charts: ChartMarkup[] = []
  for (const match of html.matchAll(/<svg ([^>]*)>([\s\S]*?)<\/svg>/g)) {
    const attributes = match[1] ?? ''
    const chart = /data-chart="([^"]*)"/.exec(attributes)?.[1]
    if (chart === undefined) continue
    charts.push({ chart, attributes, marks: (match[2] ?? '').match(/class="mark"/g)?.length ?? 0, markup: match[0] })
  }
  return charts
}
