import { parseCommandArgs } from '../../src/cli/command.ts'
import type { CliIo, Command } from '../../src/cli/command.ts'

/** Runs a CLI command as `main` would after finding it (`path` as the user typed it, e.g. 'scenario compare'), with its output captured. */
export async function runCommand (command: Command, path: string, argv: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: CliIo = { stdout: { write: (t: string) => { stdout += t } }, stderr: { write: (t: string) => { stderr += t } }, signal: new AbortController().signal }
  const code = await command.run(parseCommandArgs(command, path, argv), io)
  return { code, stdout, stderr }
}
