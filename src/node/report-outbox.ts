/**
 * Problem reports on their way to the vendor (issue 5, item 3): this
 * machine's own, and those it holds in custody for others.
 *
 * A report is sealed to the vendor's report key (only the vendor can read
 * it) and stored before anything is sent, so a crash or an offline vendor
 * loses nothing. Delivery is retried with backoff, and at once whenever a
 * connection to the vendor opens. While the vendor is unreachable, a
 * machine also hands its report to a few peers, who keep it and deliver it
 * themselves: the report reaches the vendor even if this machine is gone
 * by the time the vendor is back. The vendor stores reports by the hash of
 * their sealed bytes, so copies arriving by several routes count once.
 */
import { createHash } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeSealedReport, sealReport } from '../report/index.ts'
import { sendReport } from '../overlay/report-protocol.ts'
import type { ReportAnswer, ReportDelivery, ReportDialer } from '../overlay/report-protocol.ts'
import type { ProblemReport } from '../report/index.ts'
import type { ReportRecord, Store } from '../store/index.ts'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'

const log = logger('mirage:node:reports')

/** First retry of an undelivered report; doubles per failed attempt up to REPORT_RETRY_MAX_MS. */
export const REPORT_RETRY_MS = 5_000
export const REPORT_RETRY_MAX_MS = 120_000
/** Peers a machine hands its own report to while the vendor is unreachable. */
export const REPORT_CUSTODIANS = 2
/**
 * Reports a node keeps for others, and their bytes: custody is a favour to
 * the swarm, so it is bounded, and a full node refuses rather than evicts
 * (the author keeps its own copy, so a refusal loses nothing; evicting
 * would let a flood of junk push out real reports).
 */
export const MAX_CUSTODY_REPORTS = 256
export const MAX_CUSTODY_BYTES = 32 * 1024 * 1024

export interface ReportOutboxInit {
  store: Store
  /** This machine's key: it signs the reports it writes. */
  machineKey: Ed25519PrivateKey
  self: PeerId
  dialer: ReportDialer
  /** Peers connected now (custodian candidates), as text. */
  connectedPeers(): string[]
  /** Whether a peer can be dialled without a DHT lookup (connected, or with known addresses). */
  reachable(peer: string): Promise<boolean>
  /** The vendor side: stores a report addressed to this node (undefined on machines). */
  acceptOwn?(sealed: Uint8Array): Promise<void>
}

/** A report to file: the report, the vendor's report key, and who the vendor is on the overlay. */
export interface ReportToFile {
  report: ProblemReport
  /** The vendor's X25519 report public key (from the signed release manifest). */
  vendorReportKey: Uint8Array
  /** The vendor's peer ids (its seed's identities). */
  to: string[]
}

export class ReportOutbox {
  readonly #init: ReportOutboxInit
  #timer?: NodeJS.Timeout
  #running?: Promise<void>
  #again = false
  /** A round asked for while one ran wants to skip the backoff (the vendor just connected). */
  #forceAgain = false
  #stopped = true
  readonly #stopping = new AbortController()

  constructor (init: ReportOutboxInit) {
    this.#init = init
  }

  start (): void {
    this.#stopped = false
    this.kick()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    this.#stopping.abort(new Error('report outbox stopped'))
    clearTimeout(this.#timer)
    await this.#running?.catch(() => {})
  }

  /** Seals, stores and sends this machine's report; resolves once it is stored (delivery goes on in the background). */
  async file ({ report, vendorReportKey, to }: ReportToFile): Promise<string> {
    const sealed = await sealReport(report, this.#init.machineKey, vendorReportKey)
    const reportId = reportIdOf(sealed)
    const now = Date.now()
    await this.#init.store.reports.put(reportId, {
      reportId, app: report.app, releaseId: report.releaseId, to, sealed, origin: 'own', createdAt: now, custodians: [], attempts: 0, nextAttemptAt: now
    })
    log('filed report %s for %s (%s in %s)', reportId.slice(0, 12), report.releaseId, report.failure.name, report.clusterId)
    this.kick()
    return reportId
  }

  /** A report some peer hands us (the report protocol's intake). */
  async receive (delivery: ReportDelivery, from: PeerId): Promise<ReportAnswer> {
    let sealed
    try {
      sealed = decodeSealedReport(delivery.report)
    } catch {
      return { ok: false, reason: 'malformed' }
    }
    const reportId = reportIdOf(delivery.report)
    if (delivery.to === this.#init.self.toString()) {
      if (this.#init.acceptOwn === undefined) return { ok: false, reason: 'unavailable' }
      await this.#init.acceptOwn(delivery.report)
      log('received report %s (%s) from %s', reportId.slice(0, 12), sealed.release, from)
      return { ok: true, held: 'vendor' }
    }
    const { store } = this.#init
    if (await store.reports.has(reportId)) return { ok: true, held: 'custody' }
    let count = 0
    let bytes = 0
    for await (const [, record] of store.reports.entries()) {
      if (record.origin !== 'custody') continue
      count++
      bytes += record.sealed.byteLength
    }
    if (count >= MAX_CUSTODY_REPORTS || bytes + delivery.report.byteLength > MAX_CUSTODY_BYTES) return { ok: false, reason: 'full' }
    const now = Date.now()
    await store.reports.put(reportId, {
      reportId, app: sealed.app, releaseId: sealed.release, to: [delivery.to], sealed: delivery.report, origin: 'custody', createdAt: now, custodians: [], attempts: 0, nextAttemptAt: now
    })
    log('holding report %s for %s from %s', reportId.slice(0, 12), delivery.to, from)
    this.kick()
    return { ok: true, held: 'custody' }
  }

  /** A peer connected: if a report waits for it, try at once. */
  peerConnected (peer: string): void {
    void this.#dueFor(peer).then(due => { if (due) this.kick(true) })
  }

  /** Own reports not yet acknowledged by the vendor, and reports held for others. */
  async pending (): Promise<{ own: number, custody: number, delivered: number }> {
    const counts = { own: 0, custody: 0, delivered: 0 }
    for await (const [, record] of this.#init.store.reports.entries()) {
      if (record.deliveredAt !== undefined) counts.delivered++
      else if (record.origin === 'own') counts.own++
      else counts.custody++
    }
    return counts
  }

  /** Runs a delivery round now (`force`: also reports whose backoff has not run out). */
  kick (force = false): void {
    if (this.#stopped) return
    this.#forceAgain ||= force
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#running = (async () => {
      do {
        this.#again = false
        const forced = this.#forceAgain
        this.#forceAgain = false
        await this.#round(forced).catch((err: unknown) => { log.error('report delivery round failed: %e', err) })
      } while (this.#again && !this.#stopped)
    })().finally(() => {
      this.#running = undefined
      this.#schedule()
    })
  }

  async #dueFor (peer: string): Promise<boolean> {
    for await (const [, record] of this.#init.store.reports.entries()) {
      if (record.deliveredAt === undefined && record.to.includes(peer)) return true
    }
    return false
  }

  async #round (force: boolean): Promise<void> {
    const now = Date.now()
    const due: ReportRecord[] = []
    for await (const [, record] of this.#init.store.reports.entries()) {
      if (record.deliveredAt === undefined && (force || record.nextAttemptAt <= now)) due.push(record)
    }
    for (const record of due) {
      if (this.#stopped) return
      await this.#attempt(record)
    }
  }

  /** One delivery attempt of one report: the vendor first, custodians while the vendor is away. */
  async #attempt (record: ReportRecord): Promise<void> {
    const { store } = this.#init
    for (const to of record.to) {
      if (!await this.#init.reachable(to)) continue
      const answer = await this.#send(to, { to, report: record.sealed })
      if (answer?.ok === true && answer.held === 'vendor') {
        log('report %s delivered to %s', record.reportId.slice(0, 12), to)
        // Our own stay (the status shows them delivered); custody ends here.
        if (record.origin === 'own') await store.reports.put(record.reportId, { ...record, deliveredAt: Date.now() })
        else await store.reports.delete(record.reportId)
        return
      }
    }
    let custodians = record.custodians
    if (record.origin === 'own' && custodians.length < REPORT_CUSTODIANS) {
      custodians = [...custodians, ...await this.#handToCustodians(record)]
    }
    const attempts = record.attempts + 1
    const delay = Math.min(REPORT_RETRY_MAX_MS, REPORT_RETRY_MS * 2 ** Math.min(attempts - 1, 16))
    await store.reports.put(record.reportId, { ...record, custodians, attempts, nextAttemptAt: Date.now() + delay })
  }

  async #handToCustodians (record: ReportRecord): Promise<string[]> {
    const taken: string[] = []
    const skip = new Set([...record.to, ...record.custodians, this.#init.self.toString()])
    for (const peer of this.#init.connectedPeers()) {
      if (taken.length + record.custodians.length >= REPORT_CUSTODIANS) break
      if (skip.has(peer)) continue
      const answer = await this.#send(peer, { to: record.to[0] ?? '', report: record.sealed })
      if (answer?.ok === true) {
        taken.push(peer)
        log('report %s handed to %s for custody', record.reportId.slice(0, 12), peer)
      }
    }
    return taken
  }

  async #send (peer: string, delivery: ReportDelivery): Promise<ReportAnswer | undefined> {
    try {
      return await sendReport(this.#init.dialer, peerIdFromString(peer), delivery, this.#stopping.signal)
    } catch (err) {
      log('sending a report to %s failed: %s', peer, (err as Error).message)
      return undefined
    }
  }

  #schedule (): void {
    clearTimeout(this.#timer)
    if (this.#stopped) return
    void (async () => {
      let next = Infinity
      for await (const [, record] of this.#init.store.reports.entries()) {
        if (record.deliveredAt === undefined) next = Math.min(next, record.nextAttemptAt)
      }
      if (next === Infinity || this.#stopped) return
      clearTimeout(this.#timer)
      this.#timer = setTimeout(() => { this.kick() }, Math.max(0, next - Date.now()) + 10)
    })().catch((err: unknown) => { log.error('scheduling report delivery failed: %e', err) })
  }
}

/** A report's id: the hex SHA-256 of its sealed bytes (what the vendor files it under). */
export function reportIdOf (sealed: Uint8Array): string {
  return createHash('sha256').update(sealed).digest('hex')
}
