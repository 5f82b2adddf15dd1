import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import {
  DEFAULT_TRACE_TIMEOUT_MS, EXCLUSION_EXPLANATIONS, MAX_TRACE_TIMEOUT_MS, SpecFileExistsError, discoverSpec, specFileText, writeSpecFile
} from '../../env/trace/index.ts'
import type { Discovery, ExclusionReason, ProposalEntry, ProposedRole } from '../../env/trace/index.ts'
import { APP_NAME_PATTERN } from '../../trust/index.ts'
import { EXIT_OK, integerOption, optionalString, requiredString } from '../command.ts'
import { UsageError } from '../errors.ts'
import type { Command } from '../command.ts'

const PATH = 'env trace'
/** Names listed per line of the summary before "and N more": enough to recognise, short enough to read. */
const NAMES_PER_LINE = 6

/**
 * `mirage env trace --app NAME [--out FILE] -- COMMAND...`: discovery by
 * tracing (issue 4, item 2). The spec goes to --out or stdout; everything a
 * person reads (the command's own output, the summary) goes to stderr, so
 * `mirage env trace ... > spec.json` works.
 */
export const envTraceCommand: Command = {
  kind: 'command',
  name: 'trace',
  summary: 'Run a command under strace and propose an environment spec from what it executed, loaded and read.',
  description: [
    'Follows forks. Proposes executables and shared libraries (kind binary) and the files read, with a kind guessed',
    'per file (ini, mycnf, apache, json, yaml, text), and leaves out data: files the command wrote, /proc, /sys, /dev,',
    '/run, temporary directories and caches. A command that fails or times out still gets a proposal of what it did.',
    'Needs strace (Debian/Ubuntu: apt-get install strace; Fedora: dnf install strace).'
  ].join('\n'),
  rest: { name: 'COMMAND...', description: 'the command to trace, with its arguments' },
  options: {
    app: { type: 'string', valueName: 'NAME', description: 'the application the spec is for', required: true },
    out: { type: 'string', valueName: 'FILE', description: 'write the spec here (default: stdout)' },
    force: { type: 'boolean', description: 'replace --out if it exists' },
    'timeout-ms': { type: 'string', valueName: 'N', description: `stop the command after N ms and propose from what it did (default ${DEFAULT_TRACE_TIMEOUT_MS})` }
  },
  async run (args, io) {
    const app = requiredString(args, 'app')
    if (!APP_NAME_PATTERN.test(app)) throw new UsageError(`--app must be an app name (lower-case letters, digits, . _ -), got "${app}"`, PATH)
    const timeoutMs = integerOption(args, 'timeout-ms', PATH, 1, MAX_TRACE_TIMEOUT_MS) ?? DEFAULT_TRACE_TIMEOUT_MS
    const outText = optionalString(args, 'out')
    const out = outText === undefined ? undefined : resolve(outText)
    const force = args.values.force === true
    const argv = args.rest ?? []
    // Refuse before tracing, not after: a long trace must not end in "exists".
    if (out !== undefined && !force && await stat(out).then(() => true, () => false)) throw new SpecFileExistsError(out)

    // The command's own output goes to stderr: stdout may be the spec.
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') }
    const discovery = await discoverSpec(argv, {
      app,
      timeoutMs,
      signal: io.signal,
      onOutput: (chunk, stream) => { io.stderr.write(decoders[stream].write(Buffer.from(chunk))) }
    })
    if (out === undefined) io.stdout.write(specFileText(discovery.proposal.spec))
    else await writeSpecFile(out, discovery.proposal.spec, { force })
    io.stderr.write(formatSummary(discovery, out, timeoutMs))
    return EXIT_OK
  }
}

const ROLE_LABELS: Record<ProposedRole, [string, string]> = {
  executable: ['executable', 'executables'],
  library: ['library', 'libraries'],
  file: ['file read', 'files read']
}

/** What a person needs to review the proposal: what was found, what was left out and why, and what to do next. */
export function formatSummary (discovery: Discovery, out: string | undefined, timeoutMs: number): string {
  const { run, proposal } = discovery
  const lines: string[] = ['']
  const took = run.durationMs < 1000 ? `${Math.round(run.durationMs)} ms` : `${(run.durationMs / 1000).toFixed(1)} s`
  if (run.ended === 'exited') {
    const how = run.exitSignal !== null ? `was killed by ${run.exitSignal}` : `exited with code ${String(run.exitCode)}`
    lines.push(`mirage env trace: the command ${how} after ${took}.`)
    if (run.exitCode !== 0) lines.push('It failed, but the proposal was written anyway: it covers what the command did before it stopped.')
  } else {
    const why = run.ended === 'timeout'
      ? `at the time limit (--timeout-ms ${timeoutMs})`
      : run.ended === 'aborted' ? 'on request' : 'because its trace grew too large'
    lines.push(`mirage env trace: the command was stopped ${why} after ${took}; the proposal covers what it did until then.`)
  }
  if (run.stats.truncated !== undefined) {
    lines.push(`Warning: the trace was cut short (${run.stats.truncated} limit): some resources may be missing, and some data files may be proposed.`)
  }

  const { entries, excluded } = proposal
  lines.push('', `Proposed ${entries.length} resource${entries.length === 1 ? '' : 's'} for "${proposal.spec.app}"${out === undefined ? '' : ` in ${out}`}:`)
  for (const role of ['executable', 'library', 'file'] as const) {
    const ofRole = entries.filter(e => e.role === role)
    if (ofRole.length === 0) continue
    const label = ROLE_LABELS[role][ofRole.length === 1 ? 0 : 1]
    lines.push(`  ${ofRole.length} ${label}: ${listed(ofRole.map(e => describeEntry(e, role)))}`)
  }
  const irrelevant = entries.filter(e => !e.resource.relevant)
  if (irrelevant.length > 0) {
    lines.push(`  marked "relevant": false (machine-specific; fingerprinted but not part of the cluster id): ${listed(irrelevant.map(e => e.resource.name))}`)
  }

  if (excluded.length > 0) {
    lines.push('', `Left out ${excluded.length} path${excluded.length === 1 ? '' : 's'}:`)
    const byReason = new Map<ExclusionReason, string[]>()
    for (const { path, reason } of excluded) byReason.set(reason, [...byReason.get(reason) ?? [], path])
    for (const [reason, paths] of byReason) lines.push(`  ${paths.length} ${EXCLUSION_EXPLANATIONS[reason]}: ${listed(paths)}`)
  }

  lines.push('',
    'This is a proposal: review it before use. Remove what does not matter to the application, set "relevant": false on',
    'what should not split clusters, and add what tracing cannot see: environment variables (kind env), command outputs',
    '(kind command, e.g. ["uname", "-r"]) and installed packages (kind packages).', '')
  return lines.join('\n')
}

function describeEntry (entry: ProposalEntry, role: ProposedRole): string {
  return role === 'file' ? `${entry.resource.name} (${entry.resource.kind})` : entry.resource.name
}

function listed (items: string[]): string {
  const shown = items.slice(0, NAMES_PER_LINE).join(', ')
  return items.length > NAMES_PER_LINE ? `${shown}, and ${items.length - NAMES_PER_LINE} more` : shown
}
