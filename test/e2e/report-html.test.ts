import { access, constants, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderReport } from '../../src/results-report/index.ts'
import { makeResults } from '../unit/results-report/fixtures.ts'

/**
 * report.html in a real browser: Debian's Chromium (installed by .ci/run,
 * never downloaded by a test tool), driven by playwright-core. Skipped, saying
 * why, only where that browser is missing.
 */
const CHROMIUM = process.env.MIRAGE_CHROMIUM ?? '/usr/bin/chromium'
const unavailable = await access(CHROMIUM, constants.X_OK).then(() => undefined, () => `no Chromium at ${CHROMIUM} (apt-get install chromium, as .ci/run does)`)
const skipped = unavailable === undefined ? '' : ` (skipped: ${unavailable})`
if (unavailable !== undefined) console.warn(`e2e/report-html: ${unavailable}; the browser check of report.html is skipped`)

/** Where the screenshot is kept for a person to look at (git-ignored). */
const SCREENSHOT = fileURLToPath(new URL('../../test-output/report-html.png', import.meta.url))
const CHART_KINDS = ['overhead-latency', 'time-to-working', 'states-by-cluster']

/** The part of the DOM the in-page check uses (an SVG element, or the document). */
interface PageElement {
  querySelectorAll(selector: string): Iterable<PageElement>
  getAttribute(name: string): string | null
  getBBox(): { width: number, height: number }
  getBoundingClientRect(): { width: number, height: number }
}

interface ChartSeen { chart: string, run: string | null, cluster: string | null, marks: number, drawn: number }

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'mirage-report-html-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('report.html in headless Chromium', () => {
  it.skipIf(unavailable !== undefined)(`shows every chart with data, loads nothing from the network, and is screenshotted${skipped}`, async (context) => {
    // 3 clusters × 10 machines, the last one failing, all three plan styles.
    const results = makeResults({ plans: ['staged', 'front-loading', 'all-at-once'], clusters: 3, machinesPerCluster: 10 })
    const file = join(dir, 'report.html')
    await writeFile(file, renderReport(results, { source: 'test/unit/results-report/fixtures.ts', generatedAt: new Date('2026-01-02T03:04:05Z') }))

    const browser = await chromium.launch({ executablePath: CHROMIUM })
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      // Every request goes through here: the report file itself may load, nothing else.
      const offFile: string[] = []
      await page.route('**/*', async route => {
        const url = route.request().url()
        if (url.startsWith('file:')) return await route.continue()
        offFile.push(url)
        return await route.abort()
      })
      const problems: string[] = []
      page.on('console', message => { if (message.type() === 'error') problems.push(message.text()) })
      page.on('pageerror', error => problems.push(error.message))

      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' })

      // Runs in the page; the project's types have no DOM, hence the small local shape of what it uses.
      const charts: ChartSeen[] = await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: PageElement }).document
        return [...doc.querySelectorAll('svg[data-chart]')].map(svg => {
          const marks = [...svg.querySelectorAll('.mark')]
          const drawn = marks.filter(mark => {
            const box = mark.getBBox()
            const rect = mark.getBoundingClientRect()
            return box.width > 0 && box.height > 0 && rect.width > 0 && rect.height > 0
          })
          return { chart: svg.getAttribute('data-chart') ?? '', run: svg.getAttribute('data-run'), cluster: svg.getAttribute('data-cluster'), marks: marks.length, drawn: drawn.length }
        })
      })

      expect(new Set(charts.map(c => c.chart))).toEqual(new Set(CHART_KINDS))
      for (const chart of charts) expect(chart.drawn, `${chart.chart} run=${chart.run} cluster=${chart.cluster} has no drawn mark`).toBeGreaterThan(0)
      // One small multiple per cluster and plan run.
      expect(charts.filter(c => c.chart === 'states-by-cluster')).toHaveLength(9)
      expect(charts.find(c => c.chart === 'overhead-latency')?.drawn).toBe(6)
      expect(charts.find(c => c.chart === 'time-to-working')?.drawn).toBe(3)
      expect(offFile).toEqual([])
      expect(problems).toEqual([])

      await mkdir(join(SCREENSHOT, '..'), { recursive: true })
      await page.screenshot({ path: SCREENSHOT, fullPage: true })
      console.log(`report.html screenshot: ${SCREENSHOT}`)
      await context.annotate('screenshot of report.html', { path: SCREENSHOT, contentType: 'image/png' })
    } finally {
      await browser.close()
    }
  })
})
