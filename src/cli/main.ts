import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, parseCommandArgs, renderCommandHelp, renderGroupHelp } from './command.ts'
import { UsageError } from './errors.ts'
import { quickstartCommand } from './commands/quickstart.ts'
import { nodeCommands } from './commands/node.ts'
import { envCommands } from './commands/env.ts'
import { releaseCommands } from './commands/release.ts'
import { vendorCommands } from './commands/vendor.ts'
import { scenarioCommands } from './commands/scenario.ts'
import type { CliIo, Command, CommandGroup } from './command.ts'

export const rootCommand: CommandGroup = {
  kind: 'group',
  name: 'mirage',
  summary: 'Mirage: staged deployment of software upgrades over a peer-to-peer overlay.',
  commands: [quickstartCommand, nodeCommands, vendorCommands, releaseCommands, envCommands, scenarioCommands]
}

/**
 * Errors that describe the world (bad input, a refused release, a locked
 * store), as opposed to bugs: the former are shown as a message and exit 1,
 * the latter say they are a bug and show the stack.
 */
const OPERATIONAL_ERRORS = new Set([
  'KeyFileError', 'PublicKeyFormatError', 'SignatureError', 'CanonicalEncodingError',
  'PlanInvalidError', 'ManifestInvalidError', 'ReleaseRefusedError', 'PublishError',
  'VendorDirError', 'ContentError', 'ChunkMismatchError', 'ChunkMissingError', 'ChunkCorruptError', 'UnsafeArchiveError', 'ArchiveError',
  'StoreLockedError', 'StoreCorruptError', 'StoreSchemaError', 'StoreOpenError', 'RecordInvalidError', 'AbortError',
  'ConfigError', 'ControlError', 'DownloadError', 'InstallError', 'TestRunInvalidError',
  'StraceMissingError', 'PtraceDeniedError', 'TraceStartError', 'SpecFileExistsError',
  'EnvSpecError', 'FingerprintError', 'ConfigParseError',
  'CensusProtocolError', 'CensusFileError', 'VendorClusterError', 'CensusError', 'ClusterOptionsError', 'ClusterMapInvalidError', 'ClusterMapRefusedError',
  'ReportError', 'RedactionConfigError', 'ReportKeyFormatError', 'VendorOverrideError', 'SandboxUnavailableError', 'OverrideMessageError',
  'ResultsFileError', 'ScenarioInvalidError', 'SimulationError'
])

/** Runs the `mirage` command line; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function main (argv: string[], io: CliIo): Promise<number> {
  let path = ''
  try {
    let node: Command | CommandGroup = rootCommand
    let rest = argv
    while (node.kind === 'group') {
      const [word, ...tail]: string[] = rest
      if (word === undefined || word === '--help' || word === '-h' || word === 'help') {
        io.stdout.write(renderGroupHelp(node, path))
        return word === undefined && path !== '' ? EXIT_USAGE : EXIT_OK
      }
      if (word === '--version' && path === '') {
        io.stdout.write(`${await packageVersion()}\n`)
        return EXIT_OK
      }
      const group: CommandGroup = node
      const next: Command | CommandGroup | undefined = group.commands.find(c => c.name === word)
      if (next === undefined) {
        throw new UsageError(`unknown command "${word}"; expected one of: ${group.commands.map(c => c.name).join(', ')}`, path)
      }
      path = path === '' ? word : `${path} ${word}`
      node = next
      rest = tail
    }
    // After `--` come another program's arguments (`env trace -- grep --help`): not ours to read.
    const own = node.rest !== undefined && rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest
    if (own.includes('--help') || own.includes('-h')) {
      io.stdout.write(renderCommandHelp(node, path))
      return EXIT_OK
    }
    return await node.run(parseCommandArgs(node, path, rest), io)
  } catch (err) {
    return reportError(err, path, io)
  }
}

function reportError (err: unknown, path: string, io: CliIo): number {
  const error = err instanceof Error ? err : new Error(String(err))
  if (error instanceof UsageError) {
    io.stderr.write(`mirage ${error.command}: ${error.message}\nRun \`mirage ${error.command === '' ? '' : `${error.command} `}--help\` for usage.\n`.replace('mirage :', 'mirage:'))
    return EXIT_USAGE
  }
  const code = (error as NodeJS.ErrnoException).code
  if (OPERATIONAL_ERRORS.has(error.name) || (typeof code === 'string' && /^E[A-Z]+$/.test(code))) {
    io.stderr.write(`mirage${path === '' ? '' : ` ${path}`}: ${error.message}\n`)
    return EXIT_FAILURE
  }
  io.stderr.write(`mirage${path === '' ? '' : ` ${path}`}: this is a bug in Mirage, please report it with the text below.\n${error.stack ?? error.message}\n`)
  return EXIT_FAILURE
}

async function packageVersion (): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}
