import { describe, expect, it } from 'vitest'
import { builtInScenarioNames, builtInScenario, loadScenario, parseScenario, planFor, parseDuration, parseBytes, parseRate, resolveScenario } from '../../../src/scenario/index.ts'
import type { ScenarioInvalidError } from '../../../src/scenario/index.ts'
import { SMALL } from './small-scenario.ts'


function failure (text: string): ScenarioInvalidError {
  try {
    parseScenario(text, 'bad.yaml')
  } catch (err) {
    expect((err as Error).name).toBe('ScenarioInvalidError')
    return err as ScenarioInvalidError
  }
  throw new Error('expected the scenario to be refused')
}

function lineOf (text: string, needle: string): number {
  return text.split('\n').findIndex(l => l.includes(needle)) + 1
}

describe('scenario files', () => {
  it('parses a valid file with defaults filled in', () => {
    const s = parseScenario(SMALL, 'small.yaml')
    expect(s.name).toBe('small')
    expect(s.artifactBytes).toBe(64 * 1024)
    expect(s.clusters.map(c => [c.name, c.machines])).toEqual([['good', 6], ['bad', 4]])
    expect(s.releases).toEqual([{ version: '2.0.0', atMs: 0, fix: { version: '2.0.1', afterFirstReportMs: 10_000 } }])
    expect(s.rules.startTimeoutMs).toBe(30_000)
    expect(s.rules.reportGraceMs).toBe(5 * 60_000)
    expect(s.timing.gossipDelayMs).toBe(500)
    expect(s.repetitions).toBe(1)
    expect(s.churn).toEqual([])
  })

  it('names line and field of a machine count that is not a positive integer', () => {
    const text = SMALL.replace('machines: 4', 'machines: 0')
    const err = failure(text)
    expect(err.message).toBe(`bad.yaml:${lineOf(text, 'machines: 0')}: population.clusters[1].machines: must be a positive integer`)
    expect(err.field).toBe('population.clusters[1].machines')
    expect(err.reason).toBe('schema')
  })

  it('names an unknown field on its own line', () => {
    const text = SMALL.replace('seed: 4', 'seed: 4\nseeds: 5')
    const err = failure(text)
    expect(err.line).toBe(lineOf(text, 'seeds: 5'))
    expect(err.field).toBe('seeds')
    expect(err.message).toMatch(/unknown field/)
  })

  it('refuses a malformed duration and a missing required field', () => {
    const text = SMALL.replace('afterFirstReport: 10s', 'afterFirstReport: soon')
    const err = failure(text)
    expect(err.field).toBe('releases[0].fix.afterFirstReport')
    expect(err.line).toBe(lineOf(text, 'afterFirstReport: soon'))
    const missing = failure(SMALL.replace('app: webshop\n', ''))
    expect(missing.field).toBe('app')
    expect(missing.message).toMatch(/required/)
  })

  it('maps the plan area\'s rules (unknown prerequisite, q > k) to the rules field and line', () => {
    const text = SMALL.replace('{ name: good, k: 2, q: 1 }', '{ name: good, k: 2, q: 3 }')
    const err = failure(text)
    expect(err.reason).toBe('plan')
    expect(err.field).toBe('rules.clusters[0].q')
    expect(err.line).toBe(lineOf(text, 'q: 3'))
    const unknown = failure(SMALL.replace('after: [good]', 'after: [nowhere]'))
    expect(unknown.field).toBe('rules.default.after[0]')
    expect(unknown.message).toMatch(/not a cluster of this plan/)
  })

  it('checks references: churn clusters, targets, template variables, fix versions', () => {
    const churn = failure(`${SMALL}churn:\n  - { cluster: nope, machines: 1, at: 1s, downFor: 2s }\n`)
    expect(churn.field).toBe('churn[0].cluster')
    expect(churn.message).toMatch(/not a cluster/)
    const variable = failure(SMALL.replace('"{{mode}}\\n"\n    - name: bad', '"{{missing}}\\n"\n    - name: bad'))
    expect(variable.field).toBe('population.clusters[0].files["etc/mode"]')
    const fix = failure(SMALL.replace('version: 2.0.1', 'version: 1.9.0'))
    expect(fix.field).toBe('releases[0].fix.version')
    const late = failure(`${SMALL}lateJoiners:\n  - { cluster: bad, machines: 4, at: 10s }\n`)
    expect(late.field).toBe('lateJoiners[0].machines')
  })

  it('reports YAML syntax errors with their line', () => {
    const err = failure('name: x\npopulation: [\n')
    expect(err.reason).toBe('yaml')
    expect(err.line).toBeGreaterThan(0)
  })

  it('parses units', () => {
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('1.5m')).toBe(90_000)
    expect(parseDuration(250)).toBe(250)
    expect(parseDuration('later')).toBeUndefined()
    expect(parseBytes('4MiB')).toBe(4 * 1024 * 1024)
    expect(parseBytes('1KB')).toBe(1000)
    expect(parseRate('10MiB/s')).toBe(10 * 1024 * 1024)
    expect(parseRate('100mbit')).toBe(12_500_000)
    expect(parseRate(0)).toBeUndefined()
  })

  it('builds per-style plans from the shared rules, keeping only targeted clusters for a targeted release', () => {
    const s = parseScenario(SMALL)
    expect(planFor(s, 'front-loading').style).toBe('front-loading')
    const plan = planFor(s, 'staged', ['bad'])
    expect(plan.clusters).toEqual([])
    expect(plan.default.after).toEqual([])
  })

  it('every built-in scenario validates and resolves by name', async () => {
    const names = await builtInScenarioNames()
    expect(names).toEqual(expect.arrayContaining(['quickstart', 'paper-staging', 'churn', 'late-joiners', 'vendor-offline', 'large']))
    for (const name of names) {
      const s = await loadScenario(await resolveScenario(name))
      expect(s.name).toBe(name)
    }
    const large = await loadScenario(await builtInScenario('large') ?? '')
    expect(large.clusters.reduce((a, c) => a + c.machines, 0)).toBeGreaterThanOrEqual(200)
    await expect(resolveScenario('no-such-scenario')).rejects.toThrow(/built-in: /)
  })
})
