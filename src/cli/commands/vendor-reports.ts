import { resolve } from 'node:path'
import { APP_NAME_PATTERN } from '../../trust/index.ts'
import { readReportInbox } from '../../vendor/index.ts'
import { EXIT_OK, optionalString, requiredString } from '../command.ts'
import { UsageError } from '../errors.ts'
import { openVendorForCommand } from './vendor-open.ts'
import type { InboxGroup, InboxReport, ReportInbox } from '../../vendor/index.ts'
import type { Command } from '../command.ts'

/** Longest first error line shown in the table; `--json` has it whole. */
const MAX_TABLE_LINE_CHARS = 80
/** Longest failed-test name shown in the table. */
const MAX_TABLE_TEST_CHARS = 32

export const reportsCommand: Command = {
  kind: 'command',
  name: 'reports',
  summary: 'Read the problem reports machines sent: opened with the vendor\'s report key and grouped by failure.',
  description: 'Opens every sealed report in VENDOR/reports/ (where the seed writes what it receives) with VENDOR/report.key\n' +
    'and groups them by release, cluster and failure signature (phase, failed test, how it ended, first error line with\n' +
    'numbers, paths and ids masked). Files that do not open are listed with the reason and left in place.\n' +
    'With --json: the groups with every report\'s details (machine, role, output tail, timings, environment diff).',
  options: {
    vendor: { type: 'string', valueName: 'DIR', description: 'vendor directory (from `vendor init`)', required: true },
    app: { type: 'string', valueName: 'NAME', description: 'only reports of this application' },
    json: { type: 'boolean', description: 'print the groups and their reports as one JSON document' }
  },
  async run (args, io) {
    const app = optionalString(args, 'app')
    if (app !== undefined && !APP_NAME_PATTERN.test(app)) {
      throw new UsageError(`--app must be an app name (1-64 lowercase letters, digits, ".", "_" or "-"), got "${app.slice(0, 70)}"`, 'vendor reports')
    }
    const vendor = await openVendorForCommand(resolve(requiredString(args, 'vendor')), io)
    const json = args.values.json === true
    const inbox = await readReportInbox(vendor, { ...(app === undefined ? {} : { app }), details: json })
    io.stdout.write(json ? `${JSON.stringify(inboxJson(inbox))}\n` : renderInbox(inbox, app))
    return EXIT_OK
  }
}

function inboxJson (inbox: ReportInbox): unknown {
  return {
    inbox: inbox.dir,
    groups: inbox.groups.map(group => ({
      app: group.app,
      releaseId: group.releaseId,
      releaseVersions: group.releaseVersions,
      clusterId: group.clusterId,
      signature: group.signature,
      count: group.count,
      machines: group.machines,
      firstSeen: new Date(group.firstSeen).toISOString(),
      lastSeen: new Date(group.lastSeen).toISOString(),
      reports: group.reports.map(reportJson)
    })),
    unreadable: inbox.unreadable,
    totals: {
      reports: inbox.groups.reduce((sum, g) => sum + g.count, 0),
      groups: inbox.groups.length,
      unreadable: inbox.unreadable.length,
      duplicates: inbox.duplicates,
      otherApps: inbox.otherApps,
      leftOut: inbox.leftOut
    }
  }
}

function reportJson (entry: InboxReport): unknown {
  const { report } = entry
  return {
    file: entry.file,
    machine: entry.machine,
    role: report.role,
    phase: report.phase,
    at: new Date(report.at).toISOString(),
    failure: report.failure,
    firstErrorLine: entry.firstErrorLine,
    output: report.output,
    timings: {
      testStartedAt: new Date(report.timings.testStartedAt).toISOString(),
      testEndedAt: new Date(report.timings.testEndedAt).toISOString(),
      installedAt: report.timings.installedAt === null ? null : new Date(report.timings.installedAt).toISOString()
    },
    environment: report.environment,
    redactions: report.redactions
  }
}

function renderInbox (inbox: ReportInbox, app: string | undefined): string {
  const lines: string[] = []
  const reports = inbox.groups.reduce((sum, g) => sum + g.count, 0)
  const of = app === undefined ? '' : ` of ${app}`
  if (reports === 0 && inbox.unreadable.length === 0) {
    lines.push(`no problem reports${of} in ${inbox.dir}\n`)
  } else {
    lines.push(`${plural(reports, 'report')}${of} in ${plural(inbox.groups.length, 'group')}, from ${inbox.dir}\n`)
  }
  if (inbox.groups.length > 0) {
    const header = ['release', 'cluster', 'phase', 'failed test', 'ending', 'count', 'machines', 'first seen', 'last seen', 'first error']
    const rows = inbox.groups.map(groupRow)
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
    const numeric = new Set([5, 6])
    const line = (cells: string[]): string =>
      `  ${cells.map((cell, i) => i === cells.length - 1 ? cell : numeric.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)).join('  ')}\n`
    lines.push(line(header), ...rows.map(line))
  }
  const notes: string[] = []
  if (inbox.duplicates > 0) notes.push(`${plural(inbox.duplicates, 'report')} received more than once, counted once`)
  if (inbox.otherApps > 0) notes.push(`${plural(inbox.otherApps, 'report')} of other apps skipped`)
  if (inbox.leftOut > 0) notes.push(`${plural(inbox.leftOut, 'older report file')} not read (too many; the newest were)`)
  if (notes.length > 0) lines.push(`${notes.join('; ')}\n`)
  if (inbox.unreadable.length > 0) {
    lines.push(`${plural(inbox.unreadable.length, 'file')} could not be opened (left in place):\n`)
    for (const bad of inbox.unreadable) lines.push(`  ${bad.file}: ${bad.reason}: ${oneLine(bad.message, 200)}\n`)
  }
  return lines.join('')
}

function groupRow (group: InboxGroup): string[] {
  const version = oneLine(group.releaseVersions.join('/'), 40)
  const first = group.reports[0]
  return [
    `${version} ${shortId(group.releaseId)}`,
    oneLine(group.clusterId, 64),
    group.signature.phase,
    oneLine(group.signature.test, MAX_TABLE_TEST_CHARS),
    group.signature.ending,
    String(group.count),
    String(group.machines.length),
    isoSeconds(group.firstSeen),
    isoSeconds(group.lastSeen),
    // The earliest report's own line reads better than the masked signature (in --json both are given).
    oneLine(first?.firstErrorLine ?? group.signature.line, MAX_TABLE_LINE_CHARS) || '-'
  ]
}

/** `bafyrei…` ids differ in their tail: keep the start that says what it is and the end that tells them apart. */
function shortId (id: string): string {
  return id.length <= 16 ? id : `${id.slice(0, 6)}…${id.slice(-8)}`
}

function isoSeconds (ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Control characters (a report's text is the machine's) never reach the terminal; long text is cut. */
function oneLine (text: string, max: number): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]+/g, ' ').trim()
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`
}

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
