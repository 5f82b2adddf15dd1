import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { readArtifact } from '../content/index.ts'
import { decodeOverride, decodeTestOutcome, decodeTestStart } from '../overlay/index.ts'
import { applyEvent, createRolloutState, evaluate } from '../rollout/index.ts'
import { rolloutKey } from '../store/index.ts'
import { runTestSuite } from '../testing/index.ts'
import { SIGNATURE_DOMAINS, openEnvelope } from '../trust/index.ts'
import type { ChunkStore } from '../content/index.ts'
import { VERSIONS_DIR } from '../install/index.ts'
import type { Installer } from '../install/index.ts'
import type { Override, TestOutcome, TestStart } from '../overlay/index.ts'
import type { VerifiedRelease } from '../release/index.ts'
import type { RolloutEvent, RolloutState, RolloutView, SelfDecision } from '../rollout/index.ts'
import type { RolloutRecord, RolloutStateName, Store } from '../store/index.ts'
import type { SuiteTest, TestResult, TestSuiteResult } from '../testing/index.ts'
import type { AppConfig } from './config.ts'
import type { LookupResult, MemberSeen } from './membership.ts'

const log = logger('mirage:node:rollout')

/**
 * While a rollout is open the node's own cluster is looked up again, so
 * members that joined late are ranked: MEMBER_FIRST_REFRESH_MS after the
 * release arrived (besides the lookups of the election settle), this long
 * after a lookup that found a new member, and twice as long (from this)
 * after each round that found nothing, up to
 * MAX_MEMBER_REFRESH_INTERVAL_MS; each delay is spread by
 * ±MEMBER_REFRESH_JITTER so machines that saw the release together do not
 * look together. One round is a DHT query per role key, and a query reaches
 * up to 20 peers that each answer with 20 closer peers for the peer store:
 * with every waiting machine looking every 3 s, 20 machines on 2 cores spent
 * both cores on DHT and peer-store work (profiled in bench/overlay.bench.ts);
 * with every machine looking 30 s after the release, 40 machines in one
 * process spent a third of their requests on these rounds (counted), while
 * the election, the rounds' main user, makes its own lookups.
 */
export const MEMBER_REFRESH_INTERVAL_MS = 120_000
export const MEMBER_REFRESH_JITTER = 0.25

/**
 * The first round after a release arrives comes this soon (spread like the
 * others): a machine whose cluster waits for its prerequisites must know its
 * fellow members when its gate opens. Without it, at 50 machines in one
 * process (paper-staging, staged), a cluster's members met the open gate
 * knowing only themselves; when the election's lookups were cut short, 4 or
 * 5 of 10 elected themselves where the plan asked for 2.
 */
export const MEMBER_FIRST_REFRESH_MS = 15_000
export const MAX_MEMBER_REFRESH_INTERVAL_MS = 600_000

/**
 * Representatives are elected from the members a node knows. Machines that
 * start together (or a release that arrives as they join) would each see
 * only themselves and all elect themselves, so the election waits for a
 * lookup that began this long after the node saw the release and finished
 * its own announcement: time for the others' announcements to land.
 */
export const ELECTION_SETTLE_MS = 5_000

/** The longest the election waits for a lookup that ran to its end (see #step). */
export const ELECTION_SETTLE_MAX_MS = 30_000

/**
 * After a member lookup that was cut short, the election's next lookup comes
 * this much later, then twice as late after each further cut-short one, up
 * to MAX_LOOKUP_RETRY_MS. A lookup is cut short when the DHT is slow, which
 * is when many machines look at once: retrying every second made each of 40
 * waiting machines start three DHT queries a second and no query finished.
 */
export const LOOKUP_RETRY_MS = 1_000
export const MAX_LOOKUP_RETRY_MS = 8_000

/** States a release never leaves on its own. */
const FINAL_STATES: ReadonlySet<RolloutStateName> = new Set(['installed', 'failed', 'superseded', 'rolled-back', 'not-targeted'])
/** Decisions after its download under which a representative still announces its start and tests (see #testAsRepresentative). */
const TEST_GOES_ON: ReadonlySet<SelfDecision['action'] | undefined> = new Set(['test', 'blocked'])

export interface AppRolloutInit {
  app: string
  config: AppConfig
  /** The cluster at start; a vendor cluster map may move the machine later (`moveToCluster`). */
  clusterId: string
  peerId: string
  store: Store
  chunks: ChunkStore
  installer: Installer
  /** Finds the members of a cluster on the DHT (results arrive through `memberSeen`). */
  /** Resolves to how many members it newly found, and whether the lookup ran to its end. */
  lookupMembers(clusterId: string): Promise<LookupResult>
  /** When this node's own membership announcement first completed, if it has. */
  announcedAt(): number | undefined
  /**
   * Whether a sync brought this app's member announcements: the node then
   * knows the members that announced before, and hears later ones on
   * gossip, so its election needs no DHT lookup (PROTOCOL.md §9.5).
   */
  membersFromPeers?(): boolean
  knownMembers(clusterId: string): AsyncIterable<MemberSeen>
  /** The machine moved to another cluster (announce it there). */
  onClusterMoved?(clusterId: string): Promise<void>
  /** Signs and gossips this node's test start / outcome, and takes it in locally. */
  announceTestStart(release: VerifiedRelease): Promise<void>
  announceOutcome(release: VerifiedRelease, result: OutcomeFacts): Promise<void>
  /** Fetches the artifact's chunks from peers into `chunks`, reporting bytes per serving peer. */
  download(release: VerifiedRelease, onChunk: (from: string, bytes: number, held: number) => void, signal: AbortSignal): Promise<void>
  /** Tells the swarm this node holds the artifact (DHT provider record of its root). */
  announceHolding(release: VerifiedRelease): Promise<void>
  /** Files a problem report about a failed test here (sealed to the vendor, delivered in the background). */
  fileReport?(failure: TestFailure): Promise<void>
}

/** A test that failed on this machine, for the problem report. */
export interface TestFailure {
  release: VerifiedRelease
  clusterId: string
  role: 'representative' | 'follower'
  /** `test`: in staging before install; `health-check`: on the live install right after switching. */
  phase: 'test' | 'health-check'
  suite: TestSuiteResult
  startedAt: number
  endedAt: number
  installedAt?: number
}

/**
 * What a signed outcome says about a test run. `at` is when the test ended
 * (now, when absent): the outcome is signed with it, so a representative's
 * pass, announced only after its install, is dated by its test.
 */
export type OutcomeFacts = Pick<TestResult, 'pass' | 'exitCode' | 'durationMs' | 'logDigest'> & { at?: number }

interface Entry { release: VerifiedRelease, state: RolloutState }

/**
 * Drives one app's releases on this machine: feeds the pure rollout engine
 * with what the node sees and carries out its decisions (Mirage §4): test as
 * a representative in a staging copy, or wait for the gate, then download
 * from peers and install. Every step is persisted with its time, so a
 * restarted node resumes where it was and anyone can audit the order.
 */
export class AppRollout {
  readonly #init: AppRolloutInit
  readonly #entries = new Map<string, Entry>()
  /**
   * Events for releases whose entry addRelease is still building (it reads
   * the store first): applied once the entry is in, so that an outcome
   * taken in meanwhile is not lost. Seen: a follower that synced a pass and
   * a failure right after the release installed on the pass alone.
   */
  readonly #building = new Map<string, RolloutEvent[]>()
  #activeId?: string
  #staged?: { releaseId: string, path: string }
  #driving?: Promise<void>
  #again = false
  #deadlineTimer?: NodeJS.Timeout
  #refreshTimer?: NodeJS.Timeout
  #refreshDelayMs = MEMBER_REFRESH_INTERVAL_MS
  #stopping = new AbortController()
  /** When the last completed lookup of each cluster's members began. */
  readonly #lookedUpAt = new Map<string, number>()
  #settleTimer?: NodeJS.Timeout
  /** When the engine first told this machine to test each release (for ELECTION_SETTLE_MAX_MS). */
  readonly #toldToTestAt = new Map<string, number>()
  /** The delay before the election's next lookup after one was cut short (LOOKUP_RETRY_MS, doubling). */
  #lookupRetryMs = LOOKUP_RETRY_MS
  #clusterId: string
  /** A cluster to move to once no release is in flight here. */
  #movingTo?: string

  constructor (init: AppRolloutInit) {
    this.#init = init
    this.#clusterId = init.clusterId
  }

  get app (): string { return this.#init.app }

  get clusterId (): string { return this.#clusterId }

  /**
   * A vendor cluster map put this machine in another cluster. A release in
   * flight finishes in the cluster it started in (its election, outcomes and
   * gates are that cluster's); the move applies from the next release on.
   * Resolves to whether the machine moved now.
   */
  async moveToCluster (clusterId: string): Promise<boolean> {
    this.#movingTo = clusterId
    return this.#finishMove()
  }

  async #finishMove (): Promise<boolean> {
    const target = this.#movingTo
    if (target === undefined) return false
    if (target === this.#clusterId) { this.#movingTo = undefined; return false }
    const active = this.#active()
    const record = active === undefined ? undefined : await this.#record(active.release.id)
    if (active !== undefined && (record === undefined || !FINAL_STATES.has(record.state))) return false
    log('%s: moved from cluster %s to %s', this.#init.app, this.#clusterId, target)
    this.#clusterId = target
    this.#movingTo = undefined
    await this.#init.onClusterMoved?.(target)
    return true
  }

  start (): void {
    this.#stopping = new AbortController()
    this.#scheduleRefresh()
    this.#drive()
  }

  async stop (): Promise<void> {
    this.#stopping.abort()
    clearTimeout(this.#refreshTimer)
    clearTimeout(this.#deadlineTimer)
    clearTimeout(this.#settleTimer)
    await this.#driving?.catch(() => {})
  }

  /** A release of this app passed intake (or was restored from the store). */
  async addRelease (release: VerifiedRelease, seenAt: number): Promise<void> {
    if (this.#entries.has(release.id) || this.#building.has(release.id)) return
    this.#building.set(release.id, [])
    try {
      await this.#buildEntry(release, seenAt)
    } finally {
      this.#building.delete(release.id)
    }
  }

  async #buildEntry (release: VerifiedRelease, seenAt: number): Promise<void> {
    await this.#finishMove()
    const { config, peerId } = this.#init
    const clusterId = this.#clusterId
    let state = createRolloutState(
      { id: release.id, plan: release.manifest.plan, testTimeoutMs: release.manifest.test.timeoutMs },
      { peerId, clusterId, role: config.role },
      seenAt
    )
    // Replay what the store already knows about this release: members, starts, outcomes.
    for (const cluster of this.#relevantClusters(release)) {
      for await (const member of this.#init.knownMembers(cluster)) {
        state = applyEvent(state, { type: 'member-seen', at: member.seenAt, clusterId: member.clusterId, peerId: member.peerId, role: member.role })
      }
    }
    for await (const [, record] of this.#init.store.testStarts.entries({ prefix: `${release.id}/` })) {
      const start = await decodeStored(record.envelope, SIGNATURE_DOMAINS.testStart, decodeTestStart)
      if (start !== undefined) state = applyEvent(state, { type: 'test-started', at: eventTime(start.at, record.receivedAt), clusterId: record.clusterId, peerId: record.peerId })
    }
    for await (const [, record] of this.#init.store.overrides.entries({ prefix: `${this.#init.app}/${release.id}/` })) {
      const override = await decodeStored(record.envelope, SIGNATURE_DOMAINS.override, decodeOverride)
      if (override !== undefined) state = applyEvent(state, overrideEvent(override, record.receivedAt))
    }
    // Whatever arrived while the store was read (replaying an event twice changes nothing).
    for (const event of this.#building.get(release.id) ?? []) state = applyEvent(state, event)
    this.#entries.set(release.id, { release, state })
    const { targets } = release.manifest
    if (targets !== undefined && !targets.includes(clusterId)) {
      // A release for other clusters (a fix, say): this machine keeps what it runs.
      if (await this.#record(release.id) === undefined) await this.#setState(release, 'not-targeted', `the release targets only ${targets.join(', ')}; this machine is in ${clusterId}`)
      return
    }
    const active = this.#active()
    if (active === undefined || release.manifest.sequence > active.release.manifest.sequence) {
      if (active !== undefined) await this.#supersede(active.release)
      this.#activeId = release.id
    }
    const existing = await this.#record(release.id)
    if (existing === undefined) await this.#setState(release, 'seen', 'release received')
    // A new release: its members matter now, so look often again. There is
    // no lookup on arrival: the election settles only on a lookup that began
    // ELECTION_SETTLE_MS after the release arrived, so one begun now could
    // never settle it, and at release time every machine looking at once is
    // the costly part; the first round comes MEMBER_FIRST_REFRESH_MS later,
    // spread. Outcomes from members not known yet make the node look
    // (MessageIntake).
    // A node that has the members from its peers looks only as a safety net.
    this.#refreshDelayMs = this.#init.membersFromPeers?.() === true ? MEMBER_REFRESH_INTERVAL_MS : MEMBER_FIRST_REFRESH_MS
    this.#lookupRetryMs = LOOKUP_RETRY_MS
    this.#scheduleRefresh()
    this.#drive()
  }

  /** Outcomes are replayed after all releases are in, since they may name any of them. */
  async restoreOutcomes (): Promise<void> {
    for (const [id, entry] of this.#entries) {
      for await (const [, record] of this.#init.store.outcomes.entries({ prefix: `${id}/` })) {
        const outcome = await decodeStored(record.envelope, SIGNATURE_DOMAINS.outcome, decodeTestOutcome)
        if (outcome !== undefined) entry.state = applyEvent(entry.state, { type: 'outcome', at: eventTime(outcome.at, record.receivedAt), clusterId: record.clusterId, peerId: record.peerId, pass: outcome.pass })
      }
    }
    this.#drive()
  }

  memberSeen (member: MemberSeen): void {
    this.#applyToAll({ type: 'member-seen', at: member.seenAt, clusterId: member.clusterId, peerId: member.peerId, role: member.role })
  }

  testStarted (start: TestStart, peerId: string, receivedAt: number): void {
    this.#applyTo(start.releaseId, { type: 'test-started', at: eventTime(start.at, receivedAt), clusterId: start.clusterId, peerId })
  }

  outcomeSeen (outcome: TestOutcome, peerId: string, receivedAt: number): void {
    this.#applyTo(outcome.releaseId, { type: 'outcome', at: eventTime(outcome.at, receivedAt), clusterId: outcome.clusterId, peerId, pass: outcome.pass })
  }

  /** A vendor's halt or clear passed intake; one for a release not seen yet is replayed from the store when it arrives. */
  overrideSeen (override: Override, receivedAt: number): void {
    this.#applyTo(override.releaseId, overrideEvent(override, receivedAt))
  }

  /** The engine's view of every release of this app, with this machine's record of each. */
  async status (now = Date.now()): Promise<Array<{ release: VerifiedRelease, view: RolloutView, record?: RolloutRecord }>> {
    const out = []
    for (const [id, entry] of this.#entries) {
      out.push({ release: entry.release, view: evaluate(entry.state, now), record: await this.#record(id) })
    }
    return out.sort((a, b) => b.release.manifest.sequence - a.release.manifest.sequence)
  }

  /**
   * This machine's state for every release of the app, newest first: the
   * part of `status` a scenario runner polls, without evaluating the engine.
   */
  async progress (): Promise<Array<{ version: string, state: RolloutStateName }>> {
    const out = []
    for (const [id, entry] of this.#entries) {
      const record = await this.#record(id)
      out.push({ sequence: entry.release.manifest.sequence, version: entry.release.manifest.version, state: record?.state ?? 'seen' })
    }
    return out.sort((a, b) => b.sequence - a.sequence).map(({ version, state }) => ({ version, state }))
  }

  #applyToAll (event: RolloutEvent): void {
    for (const events of this.#building.values()) events.push(event)
    for (const entry of this.#entries.values()) entry.state = applyEvent(entry.state, event)
    this.#drive()
  }

  #applyTo (releaseId: string, event: RolloutEvent): void {
    this.#building.get(releaseId)?.push(event)
    const entry = this.#entries.get(releaseId)
    if (entry === undefined) return
    entry.state = applyEvent(entry.state, event)
    this.#drive()
  }

  /** Clusters whose members matter for a release here: ours and every cluster the plan names. */
  #relevantClusters (release: VerifiedRelease): string[] {
    return [...new Set([this.#clusterId, ...release.manifest.plan.clusters.map(rule => rule.name)])]
  }

  /**
   * The next periodic lookup round, after the current backoff delay. A
   * follower by preference has none: it is never elected, and the members
   * whose messages matter to it are looked up when their messages arrive
   * (MessageIntake), which costs no query when this node holds their
   * announcements. Nor has a release deployed to everyone at once: with no
   * election, the members that matter are the signers, looked up as their
   * messages arrive, and a round is a walk per role key by every machine
   * at about the same moment, while all of them download and test.
   */
  #scheduleRefresh (): void {
    clearTimeout(this.#refreshTimer)
    if (this.#stopping.signal.aborted || this.#init.config.role === 'follower') return
    const active = this.#active()
    if (active?.release.manifest.plan.style === 'all-at-once') return
    const spread = 1 + MEMBER_REFRESH_JITTER * (2 * Math.random() - 1)
    this.#refreshTimer = setTimeout(() => {
      void this.#refreshMembers().then(found => {
        this.#refreshDelayMs = found > 0 ? MEMBER_REFRESH_INTERVAL_MS : Math.min(MAX_MEMBER_REFRESH_INTERVAL_MS, Math.max(MEMBER_REFRESH_INTERVAL_MS, this.#refreshDelayMs * 2))
        this.#scheduleRefresh()
      })
    }, Math.round(this.#refreshDelayMs * spread))
  }

  /**
   * Looks up this machine's own cluster for the active release; resolves to
   * how many members were new (never rejects). Only our own cluster: its
   * members are whom the election ranks. Members of other clusters, the
   * prerequisites included, are taken in as their messages arrive
   * (MessageIntake), and periodic sync brings back a message whose sender
   * was not found in time; querying every prerequisite too made each
   * machine start a query per cluster and role key at once.
   */
  async #refreshMembers (): Promise<number> {
    const active = this.#active()
    if (active === undefined || this.#stopping.signal.aborted) return 0
    const record = await this.#record(active.release.id).catch(() => undefined)
    if (record !== undefined && FINAL_STATES.has(record.state)) return 0
    const cluster = this.#clusterId
    const began = Date.now()
    try {
      const { found, complete } = await this.#init.lookupMembers(cluster)
      // Only a lookup that ran to its end may settle an election: one cut
      // short on a loaded machine may have missed the members that rank first.
      if (complete) this.#lookedUpAt.set(cluster, Math.max(began, this.#lookedUpAt.get(cluster) ?? 0))
      this.#drive()
      return found
    } catch (err) {
      log('member lookup failed: %e', err)
      return 0
    }
  }

  /** Runs the step loop; calls while it runs make it go round once more. */
  #drive (): void {
    if (this.#stopping.signal.aborted) return
    if (this.#driving !== undefined) {
      this.#again = true
      return
    }
    this.#driving = (async () => {
      do {
        this.#again = false
        await this.#step()
      } while (this.#again && !this.#stopping.signal.aborted)
    })().catch((err: unknown) => {
      if (!this.#stopping.signal.aborted) log.error('%s: rollout step failed: %e', this.#init.app, err)
    }).finally(() => { this.#driving = undefined })
  }

  async #step (): Promise<void> {
    const entry = this.#active()
    if (entry === undefined) return
    const { release } = entry
    const record = await this.#record(release.id)
    if (record?.unannouncedPass !== undefined) {
      // We stopped between a passing test and announcing it: finish the install, then tell.
      if (record.state === 'installing' && this.#decisionWithOwnPass(release, record.unannouncedPass.at ?? Date.now()) === 'install') await this.#switchTo(release, 'representative', { healthCheck: false })
      await this.#announcePass(release, record.unannouncedPass)
      return this.#drive()
    }
    if (record !== undefined && FINAL_STATES.has(record.state)) return

    const now = Date.now()
    // Freeze protection holds until the install, not only on arrival.
    if (now >= release.manifest.expiresAt) {
      this.#discardStaged()
      await this.#setState(release, 'blocked', `the release expired at ${new Date(release.manifest.expiresAt).toISOString()}`)
      return
    }
    const view = evaluate(entry.state, now)
    this.#scheduleDeadline(view.nextDeadlineAt, now)
    const decision = view.self
    // The role is settled by what the node does: testing makes it a representative, installing without a test a follower.
    const role = record?.role ?? 'undecided'

    switch (decision.action) {
      case 'wait':
        await this.#setState(release, 'waiting', decision.reason, role)
        return
      case 'blocked':
        this.#discardStaged()
        await this.#setState(release, 'blocked', decision.reason, role)
        return
      case 'halted':
        // Not final: a later clear of the vendor may let the release go on.
        this.#discardStaged()
        await this.#setState(release, 'halted', decision.reason, role)
        return
      case 'test': {
        // An election on a view that holds only ourselves would make every
        // machine a representative: look the cluster up once before acting.
        const announced = this.#init.announcedAt()
        // Never wait so long that the plan's start timeout replaces us meanwhile.
        const settle = Math.min(ELECTION_SETTLE_MS, release.manifest.plan.startTimeoutMs / 2)
        const settledAt = Math.max(record?.at.seen ?? now, announced ?? now) + settle
        const lookedUp = this.#lookedUpAt.get(this.#clusterId) ?? 0
        const started = await this.#init.store.testStarts.has(`${release.id}/${this.#clusterId}/${this.#init.peerId}`)
        // Without staging every machine tests: there is no election to settle.
        const elects = release.manifest.plan.style !== 'all-at-once'
        // Lookups cut short on a loaded machine must not hold the election
        // forever: past ELECTION_SETTLE_MAX_MS it goes with the members it knows
        // (a wrong self-election only adds a representative).
        // Counted from when this machine was first told to test (its gate opened), not from the release's arrival:
        // a staged cluster waits long for its prerequisites, and its lookups by then are what should decide.
        const toldToTestAt = this.#toldToTestAt.get(release.id) ?? now
        this.#toldToTestAt.set(release.id, toldToTestAt)
        const givenUp = now >= toldToTestAt + ELECTION_SETTLE_MAX_MS
        // Members known from peers' announcements (sync, then gossip): the
        // election settles ELECTION_SETTLE_MS on with no lookup. Otherwise
        // it waits for a lookup that began then.
        const fromPeers = this.#init.membersFromPeers?.() === true && announced !== undefined
        const settled = fromPeers ? now >= settledAt : announced !== undefined && lookedUp >= settledAt
        if (elects && !givenUp && !settled && !started) {
          await this.#setState(release, 'waiting', `learning the members of cluster ${this.#clusterId} before the election`, role)
          clearTimeout(this.#settleTimer)
          if (fromPeers) {
            this.#settleTimer = setTimeout(() => { this.#drive() }, settledAt - now + 10)
            return
          }
          // Past the settle time, the last lookup was cut short: try again, later each time.
          // The election needs only our own cluster's members.
          let delay = settledAt - now + 10
          if (settledAt <= now) {
            delay = this.#lookupRetryMs
            this.#lookupRetryMs = Math.min(MAX_LOOKUP_RETRY_MS, this.#lookupRetryMs * 2)
          }
          this.#settleTimer = setTimeout(() => { void this.#refreshMembers() }, delay)
          return
        }
        await this.#testAsRepresentative(release, decision.reason)
        return
      }
      case 'install':
        await this.#install(release, decision.reason, record?.role === 'representative' ? 'representative' : 'follower')
    }
  }

  async #testAsRepresentative (release: VerifiedRelease, reason: string): Promise<void> {
    const key = `${release.id}/${this.#clusterId}/${this.#init.peerId}`
    await this.#download(release, 'representative', reason)
    // The start is announced when the test starts, once the artifact is
    // here: the silence deadline (test timeout + grace) then bounds the test
    // alone, and a representative too slow to download is replaced at the
    // start timeout instead of failing its cluster by silence.
    if (!await this.#init.store.testStarts.has(key)) {
      // The download took a while: we may have been replaced (the rules say
      // wait, or install once the cluster passed without us) or halted. A
      // failure that came meanwhile does not cancel the test: a failing
      // cluster's exposure stays its representatives, whichever order their
      // downloads finished in.
      if (!TEST_GOES_ON.has(this.#decisionNow(release))) {
        // Not a representative after all: what it does next settles its role.
        await this.#patch(release.id, { role: 'undecided' })
        return this.#drive()
      }
      await this.#init.announceTestStart(release)
    }
    await this.#setState(release, 'testing', `testing as a representative (${reason})`, 'representative')
    const staged = await this.#stage(release)
    // The test may write into its copy, so what gets installed is a second,
    // fresh one, unpacked while the test runs: the pass is announced only
    // after the install, and must come before the silence deadline.
    const installCopy = this.#stageCopy(release)
    // Settled here whatever happens next; awaited only if the copy is installed.
    installCopy.catch(() => {})
    const startedAt = Date.now()
    let suite: TestSuiteResult
    try {
      suite = await this.#runTests(release, staged)
    } catch (err) {
      this.#discardCopy(installCopy)
      throw err
    } finally {
      this.#discardStaged()
    }
    const endedAt = Date.now()
    const result = outcomeOf(suite)
    log('%s %s test %s (exit %s, %d ms)', this.#init.app, release.manifest.version, suite.pass ? 'passed' : `FAILED (${suite.failedTest ?? ''})`, result.exitCode, result.durationMs)
    if (!suite.pass) {
      this.#discardCopy(installCopy)
      await this.#setState(release, 'failed', `the release's test failed here: ${describeSuite(suite)}`, 'representative')
      await this.#report({ release, clusterId: this.#clusterId, role: 'representative', phase: 'test', suite, startedAt, endedAt })
      // Our own outcome reaches the engine through intake, and blocks us there.
      return await this.#init.announceOutcome(release, { ...result, at: endedAt })
    }
    const pass = { exitCode: 0 as const, durationMs: Math.round(result.durationMs), logDigest: result.logDigest, at: endedAt }
    // A representative installs before it announces its pass: followers wait
    // for that pass, so none of them runs the version before it does. The
    // pass is dated when the test ended, so the silence deadline (test
    // timeout + grace) bounds the test, not the install: on a loaded machine
    // an install took 100 s (1 MiB, 200 machines on 2 cores), and the
    // cluster failed by silence although its test had passed in time. A
    // halt that came in during the test still stops the install.
    if (this.#decisionWithOwnPass(release, endedAt) === 'install') {
      await this.#setState(release, 'installing', 'our own test passed', 'representative', { unannouncedPass: pass })
      this.#staged = await installCopy
      // The suite just passed on this very tree: no health check to repeat.
      await this.#switchTo(release, 'representative', { healthCheck: false })
    } else {
      this.#discardCopy(installCopy)
    }
    await this.#announcePass(release, pass)
  }

  async #announcePass (release: VerifiedRelease, pass: NonNullable<RolloutRecord['unannouncedPass']>): Promise<void> {
    await this.#init.announceOutcome(release, { pass: true, ...pass })
    const record = await this.#record(release.id)
    if (record?.unannouncedPass === undefined) return
    const { unannouncedPass: _, ...rest } = record
    await this.#init.store.rollouts.put(rolloutKey(rest), { ...rest, updatedAt: Date.now() })
  }

  async #install (release: VerifiedRelease, reason: string, role: 'representative' | 'follower'): Promise<void> {
    await this.#download(release, role, reason)
    // The download took a while: a halt or a failure may have closed the gate meanwhile.
    if (this.#decisionNow(release) !== 'install') return this.#drive()
    await this.#setState(release, 'installing', reason, role)
    await this.#switchTo(release, role, { healthCheck: true })
  }

  /** Installs the downloaded release and points `current` at it, with a health check on the live tree when asked. */
  async #switchTo (release: VerifiedRelease, role: 'representative' | 'follower', { healthCheck }: { healthCheck: boolean }): Promise<void> {
    const staged = await this.#stage(release)
    const name = `${release.manifest.version}-${release.id.slice(-10)}`
    const { previous } = await this.#init.installer.install(staged, name)
    this.#staged = undefined
    const installedAt = Date.now()

    // Health check: the same tests, on the live install, right after the
    // switch. A machine its cluster misplaced fails here although its
    // representatives passed: it goes back at once and tells the others.
    const live = join(this.#init.installer.dir, VERSIONS_DIR, name)
    const check = healthCheck ? await this.#runTests(release, live) : undefined
    if (check !== undefined && !check.pass) {
      const checkedAt = Date.now()
      const back = await this.#goBack(previous)
      await this.#setState(release, 'rolled-back', `the health check failed after installing ${release.manifest.version}: ${describeSuite(check)}; ${back}`, role)
      await this.#report({ release, clusterId: this.#clusterId, role, phase: 'health-check', suite: check, startedAt: installedAt, endedAt: checkedAt, installedAt })
      await this.#init.announceOutcome(release, { ...outcomeOf(check), at: checkedAt })
      return
    }

    const previousRecord = await this.#init.store.installs.get(this.#init.app)
    await this.#init.store.installs.put(this.#init.app, {
      app: this.#init.app,
      state: 'installed',
      releaseId: release.id,
      version: release.manifest.version,
      sequence: release.manifest.sequence,
      ...(previousRecord?.releaseId !== undefined ? { previousReleaseId: previousRecord.releaseId } : {}),
      updatedAt: Date.now()
    })
    await this.#setState(release, 'installed', `installed ${release.manifest.version}${previous === undefined ? '' : ` over ${previous}`}`, role)
    log('%s installed %s as %s', this.#init.app, release.manifest.version, role)
  }

  /** Undoes a switch whose health check failed: back to `previous`, or to nothing when there was none. */
  async #goBack (previous: string | undefined): Promise<string> {
    const installer = this.#init.installer
    if (previous === undefined) {
      await installer.withdraw()
      return 'no previous version to go back to, so none runs now'
    }
    const { current } = await installer.rollback()
    return `rolled back to ${current}`
  }

  /** The vendor's test, then the owner's acceptance tests, against `dir` (a staging copy or the live version). */
  async #runTests (release: VerifiedRelease, dir: string): Promise<TestSuiteResult> {
    const { config } = this.#init
    const tests: SuiteTest[] = [
      { name: 'release test', command: release.manifest.test.command, timeoutMs: release.manifest.test.timeoutMs, commandBase: 'staging' },
      ...config.tests.map(t => ({ name: t.name, command: t.command, timeoutMs: t.timeoutMs, network: t.network, commandBase: 'system' as const }))
    ]
    const suite = await runTestSuite({
      cwd: dir,
      tests,
      sandbox: config.sandbox,
      allowNetwork: config.allowNetwork,
      env: {
        ...config.testEnv,
        MIRAGE_APP: this.#init.app,
        MIRAGE_CLUSTER: this.#clusterId,
        MIRAGE_INSTALL_DIR: config.installDir
      },
      signal: this.#stopping.signal
    })
    const sandbox = suite.results[0]?.result.sandbox
    if (sandbox !== undefined && sandbox.kind === 'none') log('%s: tests ran WITHOUT a sandbox: %s', this.#init.app, sandbox.reason ?? 'sandbox off')
    return suite
  }

  async #report (failure: TestFailure): Promise<void> {
    if (this.#init.fileReport === undefined || !this.#init.config.reports) return
    // A report that cannot be filed must not stop the rollout: the outcome still goes out.
    await this.#init.fileReport(failure).catch((err: unknown) => { log.error('%s: filing a problem report failed: %e', this.#init.app, err) })
  }

  /** This machine's decision for `release` as of now (after a long step, to see whether it still holds). */
  #decisionNow (release: VerifiedRelease): SelfDecision['action'] | undefined {
    const entry = this.#entries.get(release.id)
    return entry === undefined ? undefined : evaluate(entry.state, Date.now()).self.action
  }

  /** What the engine will say once our own passing outcome is in (before we announce it). */
  #decisionWithOwnPass (release: VerifiedRelease, passAt: number): string | undefined {
    const entry = this.#entries.get(release.id)
    if (entry === undefined) return undefined
    const now = Date.now()
    const withPass = applyEvent(entry.state, { type: 'outcome', at: eventTime(passAt, now), clusterId: this.#clusterId, peerId: this.#init.peerId, pass: true })
    return evaluate(withPass, now).self.action
  }

  async #download (release: VerifiedRelease, role: 'representative' | 'follower', reason: string): Promise<void> {
    const { artifact } = release.manifest
    let held = 0
    for (const digest of artifact.chunks) if (await this.#init.chunks.has(digest)) held++
    if (held === artifact.chunks.length) {
      await this.#init.announceHolding(release)
      return
    }
    await this.#setState(release, 'downloading', reason, role, { chunksHeld: held })
    const bytesFrom: Record<string, number> = { ...(await this.#record(release.id))?.bytesFrom }
    let lastPersist = 0
    await this.#init.download(release, (from, bytes, nowHeld) => {
      bytesFrom[from] = (bytesFrom[from] ?? 0) + bytes
      // Progress is persisted at most every 250 ms: enough for status, cheap on the disk.
      if (Date.now() - lastPersist > 250 || nowHeld === artifact.chunks.length) {
        lastPersist = Date.now()
        void this.#patch(release.id, { chunksHeld: nowHeld, bytesFrom: { ...bytesFrom } })
      }
    }, this.#stopping.signal)
    await this.#patch(release.id, { chunksHeld: artifact.chunks.length, bytesFrom })
    await this.#init.announceHolding(release)
  }

  async #stage (release: VerifiedRelease): Promise<string> {
    if (this.#staged?.releaseId === release.id) return this.#staged.path
    this.#discardStaged()
    this.#staged = await this.#stageCopy(release)
    return this.#staged.path
  }

  /** A further staged copy of the release, not `#staged` until the caller makes it so (a copy left behind by a crash goes when the installer next opens). */
  async #stageCopy (release: VerifiedRelease): Promise<{ releaseId: string, path: string }> {
    const path = await this.#init.installer.stage(readArtifact(this.#init.chunks, release.manifest.artifact))
    return { releaseId: release.id, path }
  }

  /** Removes a copy from #stageCopy once it is staged, if it ever is. */
  #discardCopy (copy: Promise<{ path: string }>): void {
    copy.then(async ({ path }) => { await this.#init.installer.discard(path) }, () => { /* never staged: nothing to remove */ })
      .catch((err: unknown) => { log('discarding a staged copy failed: %e', err) })
  }

  #discardStaged (): void {
    if (this.#staged === undefined) return
    const { path } = this.#staged
    this.#staged = undefined
    this.#init.installer.discard(path).catch((err: unknown) => { log('discarding %s failed: %e', path, err) })
  }

  async #supersede (older: VerifiedRelease): Promise<void> {
    const record = await this.#record(older.id)
    if (record !== undefined && FINAL_STATES.has(record.state)) return
    await this.#setState(older, 'superseded', 'a newer release of the app arrived')
  }

  #scheduleDeadline (at: number | undefined, now: number): void {
    clearTimeout(this.#deadlineTimer)
    if (at === undefined || this.#stopping.signal.aborted) return
    this.#deadlineTimer = setTimeout(() => { this.#drive() }, Math.max(0, at - now) + 5)
  }

  /** The release this machine is rolling out now (the newest it admitted), if any. */
  #active (): Entry | undefined {
    return this.#activeId === undefined ? undefined : this.#entries.get(this.#activeId)
  }

  async #record (releaseId: string): Promise<RolloutRecord | undefined> {
    return this.#init.store.rollouts.get(rolloutKey({ app: this.#init.app, releaseId }))
  }

  async #setState (release: VerifiedRelease, state: RolloutStateName, reason: string, role?: RolloutRecord['role'], extra: Partial<RolloutRecord> = {}): Promise<void> {
    const now = Date.now()
    const existing = await this.#record(release.id)
    const record: RolloutRecord = {
      app: this.#init.app,
      releaseId: release.id,
      clusterId: this.#clusterId,
      state,
      role: role ?? existing?.role ?? 'undecided',
      reason,
      chunksHeld: existing?.chunksHeld ?? 0,
      chunksTotal: release.manifest.artifact.chunks.length,
      bytesFrom: existing?.bytesFrom ?? {},
      // The first time each state was entered: never overwritten.
      at: { [state]: now, ...existing?.at },
      updatedAt: now,
      ...(existing?.unannouncedPass === undefined ? {} : { unannouncedPass: existing.unannouncedPass }),
      ...extra
    }
    if (existing !== undefined && existing.state === record.state && existing.reason === record.reason && existing.role === record.role && existing.chunksHeld === record.chunksHeld) return
    await this.#init.store.rollouts.put(rolloutKey(record), record)
  }

  async #patch (releaseId: string, changes: Partial<RolloutRecord>): Promise<void> {
    const existing = await this.#record(releaseId)
    if (existing === undefined) return
    await this.#init.store.rollouts.put(rolloutKey(existing), { ...existing, ...changes, updatedAt: Date.now() })
  }
}

function describeSuite (suite: TestSuiteResult): string {
  const failed = suite.results.at(-1)
  if (failed === undefined) return 'no test ran'
  const sandbox = failed.result.sandbox.kind === 'none' ? ' (no sandbox)' : ''
  return `${failed.name} ${describeResult(failed.result)}${sandbox}`
}

/**
 * What the signed outcome carries for a suite: the failing test's exit code
 * and log digest (the test the report is about), or the last test's when
 * all passed; the time of the whole suite.
 */
function outcomeOf (suite: TestSuiteResult): TestResult {
  const last = suite.results.at(-1)
  if (last === undefined) throw new Error('a test suite always runs at least the release test')
  return { ...last.result, pass: suite.pass, durationMs: suite.results.reduce((sum, r) => sum + r.result.durationMs, 0) }
}

function overrideEvent (override: Override, receivedAt: number): RolloutEvent {
  return {
    type: 'override',
    at: eventTime(override.issuedAt, receivedAt),
    action: override.action,
    sequence: override.sequence,
    ...(override.clusterId === undefined ? {} : { clusterId: override.clusterId }),
    ...(override.reason === undefined ? {} : { reason: override.reason })
  }
}

function describeResult (result: TestResult): string {
  if (result.timedOut) return `timed out after ${result.durationMs} ms`
  if (result.signal !== null) return `killed by ${result.signal}`
  return `exit code ${result.exitCode ?? 'none'}`
}

/**
 * When a start or outcome happened, for the engine: the signer's own time,
 * so an outcome that reached us late (through sync, after we were offline)
 * is not mistaken for silence; never later than when we received it, so a
 * clock in the future cannot stretch a deadline.
 */
function eventTime (signedAt: number, receivedAt: number): number {
  return Math.min(signedAt, receivedAt)
}

async function decodeStored<T> (envelope: Uint8Array, domain: 'outcome' | 'test-start' | 'override', decode: (payload: Uint8Array) => T): Promise<T | undefined> {
  try {
    return decode((await openEnvelope(envelope, domain)).payload)
  } catch {
    // Stored records passed intake; one that no longer decodes is skipped, not fatal.
    return undefined
  }
}
