import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { compareCommand, reportCommand } from '../../../src/cli/commands/scenario-report.ts'
import { chartsIn } from './chart-markup.ts'
import { makeResults } from './fixtures.ts'
import type { Command } from '../../../src/cli/command.ts'
import { runCommand } from '../../helpers/run-command.ts'

const run = async (command: Command, argv: string[]): Promise<{ code: number, stdout: string, stderr: string }> => runCommand(command, `scenario ${command.name}`, argv)

describe('scenario report and compare commands', () => {
  let dir = ''
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'mirage-report-cmd-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes report.html beside the results by default, or to --out', async () => {
    const file = join(dir, 'results.json')
    await writeFile(file, JSON.stringify(makeResults()))
    const beside = await run(reportCommand, [file])
    expect(beside.code).toBe(0)
    expect(beside.stdout).toMatch(new RegExp(`^wrote ${join(dir, 'report.html')} \\(\\d+ bytes, 2 plan runs\\)\\n$`))
    const html = await readFile(join(dir, 'report.html'), 'utf8')
    expect(chartsIn(html).length).toBeGreaterThan(2)
    const out = join(dir, 'elsewhere.html')
    expect((await run(reportCommand, [file, '--out', out])).code).toBe(0)
    expect((await readFile(out, 'utf8')).startsWith('<!doctype html>')).toBe(true)
  })

  it('fails with the results file error, writing nothing', async () => {
    const file = join(dir, 'results.json')
    await writeFile(file, JSON.stringify({ ...makeResults(), mode: 'dreamt' }))
    await expect(run(reportCommand, [file])).rejects.toMatchObject({ name: 'ResultsFileError', field: 'mode' })
    await expect(readFile(join(dir, 'report.html'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('compares two files as a table, or as JSON with the agreement', async () => {
    const a = join(dir, 'a.json')
    const b = join(dir, 'b.json')
    await writeFile(a, JSON.stringify(makeResults()))
    await writeFile(b, JSON.stringify(makeResults({ mode: 'simulated', timeScale: 1.05 })))
    const text = await run(compareCommand, [a, b])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('A: paper-staging (real, in-process')
    expect(text.stdout).toContain('B: paper-staging (simulated, simulator')
    expect(text.stdout).toContain('agreement (overhead exactly, latency within ±25%)')
    const json = await run(compareCommand, [a, b, '--json', '--latency-tolerance', '0.5'])
    const doc = JSON.parse(json.stdout) as { plans: Array<{ plan: string }>, agreement: { latencyTolerance: number, agrees: boolean } }
    expect(doc.plans.map(p => p.plan)).toEqual(['staged', 'all-at-once'])
    expect(doc.agreement.latencyTolerance).toBe(0.5)
    expect(typeof doc.agreement.agrees).toBe('boolean')
  })

  it('refuses a tolerance that is not a fraction', async () => {
    for (const bad of ['-1', 'lots', '2', '1e3']) {
      await expect(run(compareCommand, ['a.json', 'b.json', '--latency-tolerance', bad])).rejects.toMatchObject({ name: 'UsageError' })
    }
  })
})
