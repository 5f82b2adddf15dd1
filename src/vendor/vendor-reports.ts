/**
 * `mirage vendor reports`: the vendor's side of integrated problem
 * reporting (Mirage §3). The seed writes each sealed report it receives to
 * the inbox `D/reports/<sha256>.report`; this opens every one with the
 * vendor's report key and groups them by release, cluster and failure
 * signature (src/report `groupReports`), so fifty machines failing the same
 * way read as one line. A file that does not open is listed with the
 * reason, never deleted: it may be evidence of a bug, or of an attack.
 */
import { createHash } from 'node:crypto'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_SEALED_REPORT_BYTES, decodeSealedReport, failureSignature, firstErrorLine, groupReports, openReport } from '../report/index.ts'
import { vendorReportsDir } from './vendor-dir.ts'
import type { ProblemReport, ReportGroup } from '../report/index.ts'
import type { VendorDir } from './vendor-dir.ts'

/** The extension of a sealed report in the inbox. */
export const REPORT_FILE_SUFFIX = '.report'

/**
 * Most reports read in one go (the newest by modification time). A report
 * is at most 256 KiB sealed and keeps up to ~190 KiB opened with details;
 * 10,000 bounds both the time and the memory of one listing, and a vendor
 * facing more than that groups a few signatures anyway.
 */
export const DEFAULT_MAX_INBOX_REPORTS = 10_000

export interface ReadInboxOptions {
  /** Only reports sealed for this app (read from the sealed envelope, before decrypting). */
  app?: string
  /**
   * Keep each report's full output tail and environment diff (for `--json`).
   * Without it, the tail is cut to its first error line: what grouping uses.
   */
  details?: boolean
  /** Default DEFAULT_MAX_INBOX_REPORTS. */
  maxReports?: number
}

/** One opened report and the file it came from. */
export interface InboxReport {
  /** File name inside the inbox. */
  file: string
  report: ProblemReport
  /** The verified sender (the signer), equal to `report.machine`. */
  machine: string
  /** The first error line of the output tail, as grouping found it. */
  firstErrorLine: string
}

/** A file of the inbox that could not be used. */
export interface UnreadableReport {
  file: string
  /** The ReportError reason (`tampered`, `wrong-key`, `malformed`, …), or `unreadable`/`oversized` for the file itself. */
  reason: string
  message: string
}

export interface InboxGroup extends ReportGroup {
  /** The group's reports, oldest first. */
  reports: InboxReport[]
}

export interface ReportInbox {
  /** The inbox folder. */
  dir: string
  /** Groups, most reports first (groupReports' order). */
  groups: InboxGroup[]
  unreadable: UnreadableReport[]
  /** Report files of other apps, skipped with `app`. */
  otherApps: number
  /** The same signed report received more than once (each counted once). */
  duplicates: number
  /** Report files not read because of `maxReports` (the oldest). */
  leftOut: number
}

/**
 * Reads, opens and groups the inbox. Never throws for a bad file (it goes
 * to `unreadable`); an inbox that does not exist is an empty one.
 */
export async function readReportInbox (vendor: VendorDir, options: ReadInboxOptions = {}): Promise<ReportInbox> {
  const dir = vendorReportsDir(vendor.dir)
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  const candidates: Array<{ name: string, size: number, mtimeMs: number }> = []
  const unreadable: UnreadableReport[] = []
  for (const name of names.filter(n => n.endsWith(REPORT_FILE_SUFFIX)).sort()) {
    try {
      const info = await stat(join(dir, name))
      if (info.isFile()) candidates.push({ name, size: info.size, mtimeMs: info.mtimeMs })
    } catch (err) {
      unreadable.push({ file: name, reason: 'unreadable', message: (err as Error).message })
    }
  }
  const max = options.maxReports ?? DEFAULT_MAX_INBOX_REPORTS
  // Newest first when there are too many; ties by name so the choice is stable.
  candidates.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const chosen = candidates.slice(0, max)
  const leftOut = candidates.length - chosen.length

  const reports: InboxReport[] = []
  const seen = new Set<string>()
  let otherApps = 0
  let duplicates = 0
  for (const { name, size } of chosen.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) {
    if (size > MAX_SEALED_REPORT_BYTES) {
      unreadable.push({ file: name, reason: 'oversized', message: `${size} bytes, more than a sealed report's limit of ${MAX_SEALED_REPORT_BYTES}` })
      continue
    }
    try {
      const bytes = await readFile(join(dir, name))
      if (options.app !== undefined && decodeSealedReport(bytes).app !== options.app) {
        otherApps++
        continue
      }
      const opened = await openReport(bytes, vendor.reportKey)
      // Sealing is randomised, so a report sent twice arrives as two files; its signed envelope is the same.
      const digest = createHash('sha256').update(opened.signed).digest('hex')
      if (seen.has(digest)) {
        duplicates++
        continue
      }
      seen.add(digest)
      const line = firstErrorLine(opened.report.output.tail)
      const report = options.details === true ? opened.report : summaryOf(opened.report, line)
      reports.push({ file: name, report, machine: opened.machine.toString(), firstErrorLine: line })
    } catch (err) {
      const error = err as Error & { reason?: unknown }
      unreadable.push({ file: name, reason: typeof error.reason === 'string' ? error.reason : error.name, message: error.message })
    }
  }
  return { dir, groups: groupInbox(reports), unreadable, otherApps, duplicates, leftOut }
}

/** The report without what only `--json` shows: the tail cut to its first error line (its signature is unchanged), no diff. */
function summaryOf (report: ProblemReport, line: string): ProblemReport {
  return { ...report, output: { ...report.output, tail: line }, environment: null }
}

function groupInbox (reports: InboxReport[]): InboxGroup[] {
  const byKey = new Map<string, InboxReport[]>()
  for (const entry of reports) {
    const key = groupKey(entry.report.app, entry.report.releaseId, entry.report.clusterId, failureSignature(entry.report).id)
    const list = byKey.get(key) ?? []
    list.push(entry)
    byKey.set(key, list)
  }
  return groupReports(reports.map(({ report, machine }) => ({ report, machine }))).map(group => ({
    ...group,
    reports: (byKey.get(groupKey(group.app, group.releaseId, group.clusterId, group.signature.id)) ?? [])
      .sort((a, b) => a.report.at - b.report.at || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
  }))
}

function groupKey (app: string, releaseId: string, clusterId: string, signature: string): string {
  return JSON.stringify([app, releaseId, clusterId, signature])
}
