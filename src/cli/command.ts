import { parseArgs } from 'node:util'
import { UsageError } from './errors.ts'

/** Where a command writes: injected, so tests and embedders capture output. */
export interface CliIo {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  /** Aborted on the first SIGINT/SIGTERM: long commands stop cleanly between steps. */
  signal: AbortSignal
}

export interface OptionSpec {
  type: 'string' | 'boolean'
  description: string
  /** Shown in help: `--out DIR`. */
  valueName?: string
  required?: boolean
}

export interface PositionalSpec {
  name: string
  description: string
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
  /** Everything after `--`, untouched; only for a command that declares `rest`. */
  rest?: string[]
}

/** Arguments after `--` that a command passes on untouched, e.g. the program `env trace` runs. */
export interface RestSpec {
  /** Shown in help: `-- COMMAND...`. */
  name: string
  description: string
}

/** A leaf command: `mirage vendor publish`. Returns its exit code. */
export interface Command {
  kind: 'command'
  name: string
  summary: string
  description?: string
  options: Record<string, OptionSpec>
  positionals?: PositionalSpec[]
  /** Declared: the arguments after `--` are not parsed but passed on in `args.rest`, and at least one is required. */
  rest?: RestSpec
  run(args: ParsedArgs, io: CliIo): Promise<number>
}

/** A command with sub-commands: `mirage vendor`. */
export interface CommandGroup {
  kind: 'group'
  name: string
  summary: string
  commands: Array<Command | CommandGroup>
}

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** Parses a leaf command's arguments strictly: unknown options and missing values are usage errors. */
export function parseCommandArgs (command: Command, path: string, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean' }> = {}
  for (const [name, spec] of Object.entries(command.options)) options[name] = { type: spec.type }
  // A command with `rest` takes everything after the first `--` as it is:
  // those are another program's arguments, options included.
  const terminator = command.rest === undefined ? -1 : argv.indexOf('--')
  const own = terminator === -1 ? argv : argv.slice(0, terminator)
  let parsed
  try {
    parsed = parseArgs({ args: own, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), path, { cause: err })
  }
  const expected = command.positionals ?? []
  if (parsed.positionals.length !== expected.length) {
    const names = expected.map(p => p.name).join(' ')
    throw new UsageError(expected.length === 0
      ? `unexpected argument "${parsed.positionals[0] ?? ''}"`
      : `expected ${expected.length === 1 ? 'one argument' : `${expected.length} arguments`} (${names}), got ${parsed.positionals.length}`, path)
  }
  for (const [name, spec] of Object.entries(command.options)) {
    if (spec.required === true && parsed.values[name] === undefined) {
      throw new UsageError(`missing --${name}${spec.valueName === undefined ? '' : ` ${spec.valueName}`}`, path)
    }
  }
  if (command.rest === undefined) return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals }
  const rest = terminator === -1 ? [] : argv.slice(terminator + 1)
  if (rest.length === 0) throw new UsageError(`missing -- ${command.rest.name}`, path)
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals, rest }
}

/** A string option that the command declared required. */
export function requiredString (args: ParsedArgs, name: string): string {
  const value = args.values[name]
  if (typeof value !== 'string') throw new TypeError(`option --${name} was declared required but is missing`)
  return value
}

export function optionalString (args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name]
  return typeof value === 'string' ? value : undefined
}

/** An integer option within bounds, or a usage error that names it. */
export function integerOption (args: ParsedArgs, name: string, path: string, min: number, max: number): number | undefined {
  const text = optionalString(args, name)
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`, path)
  }
  return Number(text)
}

/** Sizes such as `1MiB`, `64KiB` or `1048576`. */
export function byteSizeOption (args: ParsedArgs, name: string, path: string, min: number, max: number): number | undefined {
  const text = optionalString(args, name)
  if (text === undefined) return undefined
  const match = /^(\d+)\s*(B|KiB|MiB|GiB)?$/.exec(text)
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[match?.[2] ?? 'B'] ?? 1
  const bytes = match === null ? Number.NaN : Number(match[1]) * unit
  if (!(bytes >= min && bytes <= max)) {
    throw new UsageError(`--${name} must be a size from ${min} to ${max} bytes (e.g. 1MiB), got "${text}"`, path)
  }
  return bytes
}

export function renderCommandHelp (command: Command, path: string): string {
  const positionals = (command.positionals ?? []).map(p => ` ${p.name}`).join('')
  const rest = command.rest === undefined ? '' : ` -- ${command.rest.name}`
  const lines = [`Usage: mirage ${path}${positionals} [options]${rest}`, '', command.summary]
  if (command.description !== undefined) lines.push('', command.description)
  const argumentLines = (command.positionals ?? []).map(p => `  ${p.name.padEnd(24)}${p.description}`)
  if (command.rest !== undefined) argumentLines.push(`  ${`-- ${command.rest.name}`.padEnd(24)}${command.rest.description}`)
  if (argumentLines.length > 0) lines.push('', 'Arguments:', ...argumentLines)
  lines.push('', 'Options:')
  const entries = Object.entries(command.options).map(([name, spec]) => {
    const flag = `--${name}${spec.valueName === undefined ? '' : ` ${spec.valueName}`}`
    return [flag, `${spec.description}${spec.required === true ? ' (required)' : ''}`] as const
  })
  entries.push(['--help', 'show this help'])
  const width = Math.max(24, ...entries.map(([flag]) => flag.length + 2))
  for (const [flag, description] of entries) lines.push(`  ${flag.padEnd(width)}${description}`)
  return `${lines.join('\n')}\n`
}

export function renderGroupHelp (group: CommandGroup, path: string): string {
  const prefix = path === '' ? 'mirage' : `mirage ${path}`
  const lines = [`Usage: ${prefix} <command> [options]`, '', group.summary, '', 'Commands:']
  for (const child of group.commands) lines.push(`  ${child.name.padEnd(24)}${child.summary}`)
  lines.push('', `Run \`${prefix} <command> --help\` for the options of a command.`)
  if (path === '') lines.push('', 'Exit codes: 0 ok, 1 operational failure, 2 usage error.')
  return `${lines.join('\n')}\n`
}
