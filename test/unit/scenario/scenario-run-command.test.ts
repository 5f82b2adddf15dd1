/**
 * `mirage scenario run --threads`: a bad count or a clash with --processes
 * is refused with a message naming the option, before anything starts.
 */
import { describe, expect, it } from 'vitest'
import { parseCommandArgs } from '../../../src/cli/command.ts'
import { scenarioRunCommand } from '../../../src/cli/commands/scenario-run.ts'
import type { CliIo } from '../../../src/cli/command.ts'

async function run (argv: string[]): Promise<number> {
  const io: CliIo = { stdout: { write: () => {} }, stderr: { write: () => {} }, signal: AbortSignal.abort() }
  return scenarioRunCommand.run(parseCommandArgs(scenarioRunCommand, 'scenario run', argv), io)
}

describe('scenario run --threads', () => {
  it('refuses a count that is not a whole number from 0 to 256', async () => {
    await expect(run(['quickstart', '--threads', 'two'])).rejects.toThrow(/--threads must be a whole number from 0 to 256, got "two"/)
    await expect(run(['quickstart', '--threads', '1.5'])).rejects.toThrow(/--threads must be a whole number/)
    await expect(run(['quickstart', '--threads', '257'])).rejects.toThrow(/--threads must be a whole number/)
  })

  it('refuses threads together with --processes', async () => {
    await expect(run(['quickstart', '--threads', '2', '--processes'])).rejects.toThrow(/--threads is for machines in this process; it cannot go with --processes/)
  })
})
