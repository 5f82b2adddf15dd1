import { envDiffCommand, envFingerprintCommand } from './env-fingerprint.ts'
import { envTraceCommand } from './env-trace.ts'
import type { CommandGroup } from '../command.ts'

export const envCommands: CommandGroup = {
  kind: 'group',
  name: 'env',
  summary: 'Environment of this machine: discover, fingerprint and compare.',
  commands: [envTraceCommand, envFingerprintCommand, envDiffCommand]
}
