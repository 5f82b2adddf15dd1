import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { scenarioSimulateCommand } from '../../../src/cli/commands/scenario.ts'
import { runCommand } from '../../helpers/run-command.ts'
import { SMALL } from './small-scenario.ts'

const simulate = async (argv: string[]): Promise<{ code: number, stdout: string }> => runCommand(scenarioSimulateCommand, 'scenario simulate', argv)

describe('scenario simulate --host-cores', () => {
  let dir = ''
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'mirage-simulate-cmd-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('puts every machine on one host of N cores, which the results say and which slows the rollout', async () => {
    const file = join(dir, 'small.yaml')
    await writeFile(file, SMALL)
    const latency = async (extra: string[], out: string): Promise<{ latencyMs: number, notes: string[] }> => {
      const { code, stdout } = await simulate([file, '--plans', 'all-at-once', '--out', join(dir, out), '--json', ...extra])
      expect(code).toBe(0)
      const results = JSON.parse(await readFile((JSON.parse(stdout) as { file: string }).file, 'utf8')) as { notes: string[], runs: Array<{ metrics: { latencyMs: number } }> }
      return { latencyMs: results.runs[0]?.metrics.latencyMs ?? Number.NaN, notes: results.notes }
    }
    const own = await latency([], 'own')
    const shared = await latency(['--host-cores', '1'], 'shared')
    expect(shared.notes.some(n => n.includes('one host of 1 core,'))).toBe(true)
    expect(own.notes.some(n => n.includes('one host'))).toBe(false)
    expect(shared.latencyMs).toBeGreaterThan(own.latencyMs)
  })

  it('refuses a core count that is not a whole number from 0 to 1024', async () => {
    for (const bad of ['-1', 'two', '1.5', '1025']) {
      await expect(simulate(['quickstart', '--host-cores', bad])).rejects.toMatchObject({ name: 'UsageError' })
    }
  })
})
