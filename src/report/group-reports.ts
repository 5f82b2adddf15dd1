/**
 * Grouping opened reports for the vendor (`mirage vendor reports`): one
 * group per release, cluster and failure signature, so that fifty machines
 * failing the same way read as one line with a count. Pure.
 *
 * The failure signature is what stays the same when the same bug fails on
 * another machine: the phase, the failed test's name, how it ended (exit
 * code, signal or timeout), and the first error line of its output with
 * the parts that vary between machines masked (numbers, hex, paths, ids).
 */
import { createHash } from 'node:crypto'
import type { ProblemReport, ReportPhase } from './problem-report.ts'

/** Longest line looked at when normalising (a minified stack trace is one huge line). */
const MAX_SIGNATURE_LINE_CHARS = 512
/** Longest normalised line kept in a signature. */
const MAX_NORMALISED_LINE_CHARS = 200
/** Lines of the tail searched for an error line; past that, the last line is used. */
const MAX_SCANNED_LINES = 10_000

/** What a group is built from: an opened report and who sent it. */
export interface GroupableReport {
  report: ProblemReport
  /** The verified sender; defaults to `report.machine` (equal once opened). */
  machine?: string
}

export interface FailureSignature {
  phase: ReportPhase
  test: string
  /** `exit 1`, `signal SIGKILL`, `timeout`, or `no exit code`. */
  ending: string
  /** The first error line, normalised; '' when the output had none. */
  line: string
  /** 16 hex characters of SHA-256 over the four fields above: a stable id to refer to the group by. */
  id: string
}

export interface ReportGroup {
  app: string
  releaseId: string
  /** Versions seen (one, unless reports disagree about the release's version). */
  releaseVersions: string[]
  clusterId: string
  signature: FailureSignature
  /** Reports in the group. */
  count: number
  /** `at` of the earliest and latest report, epoch ms. */
  firstSeen: number
  lastSeen: number
  /** Distinct machines, sorted. */
  machines: string[]
}

/** How a test ended, as a short stable text. */
export function failureEnding (failure: ProblemReport['failure']): string {
  if (failure.timedOut) return 'timeout'
  if (failure.signal !== null) return `signal ${failure.signal}`
  if (failure.exitCode !== null) return `exit ${failure.exitCode}`
  return 'no exit code'
}

const ERROR_LINE = /error|fail|fatal|panic|exception|assert|traceback|denied|refused|not found|cannot|unable|segmentation/i

/**
 * The line of the output that most likely says what went wrong: the first
 * line that looks like an error, else the last non-blank line.
 */
export function firstErrorLine (tail: string): string {
  const lines = tail.split('\n', MAX_SCANNED_LINES)
  let last = ''
  for (const raw of lines) {
    const line = raw.slice(0, MAX_SIGNATURE_LINE_CHARS).trim()
    if (line === '') continue
    if (ERROR_LINE.test(line)) return line
    last = line
  }
  return last
}

/**
 * Masks what differs between machines hitting the same bug: redaction
 * markers stay, then ISO timestamps, UUIDs, hex (0x… and runs of 8+ hex
 * digits), paths, and numbers become placeholders; space collapses.
 * Every pattern is a single bounded pass over a line of at most
 * MAX_SIGNATURE_LINE_CHARS.
 */
export function normaliseErrorLine (line: string): string {
  return line
    .slice(0, MAX_SIGNATURE_LINE_CHARS)
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/\b0x[0-9a-f]+\b/gi, '<hex>')
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<hex>')
    .replace(/(?:[A-Za-z]:)?(?:\/|\\)[^\s:'"()[\],]+/g, '<path>')
    .replace(/\d+(?:\.\d+)?/g, '#')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_NORMALISED_LINE_CHARS)
}

export function failureSignature (report: ProblemReport): FailureSignature {
  const ending = failureEnding(report.failure)
  const line = normaliseErrorLine(firstErrorLine(report.output.tail))
  const id = createHash('sha256')
    .update(JSON.stringify([report.phase, report.failure.name, ending, line]))
    .digest('hex')
    .slice(0, 16)
  return { phase: report.phase, test: report.failure.name, ending, line, id }
}

/**
 * Groups reports by app, release, cluster and failure signature. Sorted by
 * count (descending), then latest report first, then app, release, cluster
 * and signature id, so the result does not depend on the input's order.
 */
export function groupReports (reports: Iterable<GroupableReport>): ReportGroup[] {
  const groups = new Map<string, { group: ReportGroup, machines: Set<string>, versions: Set<string> }>()
  for (const { report, machine } of reports) {
    const signature = failureSignature(report)
    const key = JSON.stringify([report.app, report.releaseId, report.clusterId, signature.id])
    let entry = groups.get(key)
    if (entry === undefined) {
      entry = {
        group: {
          app: report.app,
          releaseId: report.releaseId,
          releaseVersions: [],
          clusterId: report.clusterId,
          signature,
          count: 0,
          firstSeen: report.at,
          lastSeen: report.at,
          machines: []
        },
        machines: new Set(),
        versions: new Set()
      }
      groups.set(key, entry)
    }
    entry.group.count++
    entry.group.firstSeen = Math.min(entry.group.firstSeen, report.at)
    entry.group.lastSeen = Math.max(entry.group.lastSeen, report.at)
    entry.machines.add(machine ?? report.machine)
    entry.versions.add(report.releaseVersion)
  }
  const out = [...groups.values()].map(({ group, machines, versions }) => ({
    ...group,
    machines: [...machines].sort(),
    releaseVersions: [...versions].sort()
  }))
  return out.sort((a, b) =>
    b.count - a.count ||
    b.lastSeen - a.lastSeen ||
    compare(a.app, b.app) ||
    compare(a.releaseId, b.releaseId) ||
    compare(a.clusterId, b.clusterId) ||
    compare(a.signature.id, b.signature.id))
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
