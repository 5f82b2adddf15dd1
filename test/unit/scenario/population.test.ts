import { describe, expect, it } from 'vitest'
import { appTree, breaksOn, environmentFiles, machineCount, parseScenario, populationOf, scaleScenario } from '../../../src/scenario/index.ts'
import { SMALL } from './small-scenario.ts'

describe('population and ground truth', () => {
  const scenario = parseScenario(SMALL)

  it('generates each machine\'s environment from its cluster\'s template', () => {
    expect(environmentFiles(scenario, 'bad', 2)).toEqual(new Map([['etc/mode', 'on\n']]))
    const withIds = parseScenario(SMALL.replace('"{{mode}}\\n"\n    - name: bad', '"{{mode}} {{machine}} {{index}} {{cluster}}\\n"\n    - name: bad'))
    expect(environmentFiles(withIds, 'good', 3).get('etc/mode')).toBe('off good-0003 3 good\n')
  })

  it('ships the test script, a VERSION file and a payload that makes up the artifact size', () => {
    const tree = appTree(scenario, '2.0.0')
    expect(tree.get('VERSION')).toBe('2.0.0\n')
    expect(tree.get('mirage-test')).toBe(scenario.test.script)
    expect(typeof tree.get('share/payload.bin')).toBe('number')
  })

  it('decides which clusters a version breaks by running the test script', async () => {
    expect(await breaksOn(scenario, '2.0.0')).toEqual(new Map([['good', false], ['bad', true]]))
    expect(await breaksOn(scenario, '2.0.1')).toEqual(new Map([['good', false], ['bad', false]]))
  })

  it('refuses a test that tells machines of one cluster apart', async () => {
    const text = SMALL
      .replace('"{{mode}}\\n"\n    - name: bad', '"{{index}}\\n"\n    - name: bad')
      .replace('exit 0\n', '[ "$(cat "$MIRAGE_ENV_DIR/etc/mode")" = "0" ] && exit 0; exit 1\n')
    await expect(breaksOn(parseScenario(text), '2.0.0')).rejects.toThrow(/must not depend on \{\{machine\}\} or \{\{index\}\}/)
  })

  it('places late joiners last in their cluster and draws churned machines from the seed', () => {
    const s = parseScenario(`${SMALL}lateJoiners:\n  - { cluster: good, machines: 2, at: 30s }\nchurn:\n  - { machines: 3, at: 5s, downFor: 10s }\n`)
    const machines = populationOf(s)
    expect(machines.filter(m => m.joinAt > 0).map(m => m.id)).toEqual(['good-0004', 'good-0005'])
    expect(machines.filter(m => m.outages.length > 0)).toHaveLength(3)
    expect(populationOf(s).map(m => m.outages)).toEqual(machines.map(m => m.outages))
    expect(populationOf(s, 99).map(m => m.outages)).not.toEqual(machines.map(m => m.outages))
  })

  it('scales the population proportionally, every cluster keeping at least one machine', () => {
    const scaled = scaleScenario(scenario, 1000)
    expect(machineCount(scaled)).toBe(1000)
    expect(scaled.clusters.map(c => c.machines)).toEqual([600, 400])
    const tiny = scaleScenario(scenario, 3)
    expect(tiny.clusters.map(c => c.machines)).toEqual([2, 1])
    expect(() => scaleScenario(scenario, 1)).toThrow(/at least 2/)
  })
})
