import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { logger } from '@libp2p/logger'
import { openChunkStore, withRecentChunks, writeFileAtomically } from '../content/index.ts'
import { openClusterMap } from '../cluster/index.ts'
import type { ClusterMap } from '../cluster/index.ts'
import { downloadArtifact, libp2pChunkDialer } from '../fetch/index.ts'
import { openInstaller } from '../install/index.ts'
import { SyncServer, createChunkServer, createOverlayLibp2p, decodeOverride, encodeMemberAnnouncement, encodeTestOutcome, encodeTestStart } from '../overlay/index.ts'
import { REPORT_PROTOCOL, serveReportStream } from '../overlay/report-protocol.ts'
import { readSignedRelease } from '../release/index.ts'
import { buildProblemReport, createRedactor, reportPublicKeyFromText } from '../report/index.ts'
import { openStore } from '../store/index.ts'
import { SIGNATURE_DOMAINS, openEnvelope, publicKeyFromText, sealEnvelope, trustedVendorKeys } from '../trust/index.ts'
import { probeSandbox } from '../testing/index.ts'
import { AppGossip } from './gossip.ts'
import { AppRollout } from './app-rollout.ts'
import type { TestFailure } from './app-rollout.ts'
import { BootstrapDialer } from './bootstrap-dialer.ts'
import { createCensusCollector } from './census-collector.ts'
import { censusApps, createCensusReporter } from './census-reporter.ts'
import { effectiveCluster, identifyAppCluster, identifyAppClusterForRelease } from './app-cluster.ts'
import { startControlServer } from './control-server.ts'
import { HeldChunks } from './held-chunks.ts'
import { loadOrCreatePeerKey } from './identity.ts'
import { Membership } from './membership.ts'
import { MEMBER_ANNOUNCEMENT_MAX_AGE_MS, MessageIntake } from './message-intake.ts'
import { PeerSync } from './peer-sync.ts'
import { ReportOutbox, reportIdOf } from './report-outbox.ts'
import { importReleaseDir } from './seed-release.ts'
import { buildNodeProgress, buildNodeStatus } from './node-status.ts'
import type { ChunkStore } from '../content/index.ts'
import type { OverlayLibp2p, Override, SyncItem, SyncRequest } from '../overlay/index.ts'
import type { VerifiedRelease } from '../release/index.ts'
import type { Store } from '../store/index.ts'
import type { TrustedVendorKeys } from '../trust/index.ts'
import type { NodeConfig } from './config.ts'
import type { NodeProgress, NodeStatus } from './node-status.ts'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('mirage:node')

/**
 * While downloading, a node asks the DHT for holders of the root after this
 * long, then twice as long each time, up to MAX_PROVIDER_REFRESH_MS: the
 * holders it is connected to are candidates anyway, and 20 downloaders
 * querying every 2 s cost more CPU than they found peers.
 */
const PROVIDER_REFRESH_MS = 2_000
const MAX_PROVIDER_REFRESH_MS = 30_000
const PROVIDER_LOOKUP_TIMEOUT_MS = 5_000
/**
 * A download still running this long after it started provides the root as
 * a partial holder. Providing is a DHT query that reaches ~20 peers, each
 * merging ~20 peer records: profiles of 20 followers starting together
 * showed the DHT and peer store taking over a quarter of the swarm's CPU in
 * the first seconds of distribution. A download that ends sooner provides
 * the root as a full holder then (announceHolding), and meanwhile its
 * connected peers, who are the ones likely to ask, find it anyway.
 */
const PARTIAL_PROVIDE_DELAY_MS = 30_000
/** Report streams one connection may have open at once (each carries one report). */
const REPORT_MAX_INBOUND_STREAMS = 4
/** A completed download provides the root this long after, plus up to HOLDER_PROVIDE_JITTER_MS (see provideLater). */
const HOLDER_PROVIDE_MIN_DELAY_MS = 5_000
const HOLDER_PROVIDE_JITTER_MS = 25_000

export interface MirageNodeInit {
  config: NodeConfig
  /**
   * Runs as the vendor's seed: the node's identity is the vendor key, it
   * trusts only that key and serves the releases it is given.
   */
  seed?: {
    vendorKey: Ed25519PrivateKey
    /**
     * Where the seed files the problem reports addressed to it (the vendor
     * dir's reports/ folder): each as `<hex sha256 of the sealed bytes>.report`.
     */
    reportInbox?: string
  }
}

export interface MirageNode {
  readonly peerId: PeerId
  readonly libp2p: OverlayLibp2p
  multiaddrs(): string[]
  status(): Promise<NodeStatus>
  /** Each release's state and little else: what a scenario runner polls (see NodeProgress). */
  progress(): Promise<NodeProgress>
  /** Seeds only: serves and announces one more release directory. */
  seedRelease(dir: string): Promise<VerifiedRelease>
  /** Seeds a vendor-signed cluster map file (from `mirage vendor cluster`); only a seed. */
  seedClusterMap(file: string): Promise<ClusterMap>
  /** Seeds a signed halt or clear (a seed only): stored, gossiped, and served by sync. */
  seedOverride(file: string): Promise<Override>
  stop(): Promise<void>
}

/**
 * Starts a Mirage node: store (with its schema check), identity, libp2p,
 * protocols, membership, then the rollout of every configured app. Stops
 * in reverse. One plain ordered function, as the conventions ask.
 */
export async function startMirageNode (init: MirageNodeInit): Promise<MirageNode> {
  const { config } = init
  const stack: Array<() => Promise<void>> = []
  const stopAll = async (): Promise<void> => {
    for (const stop of stack.reverse()) await stop().catch((err: unknown) => { log.error('stop step failed: %e', err) })
    stack.length = 0
  }
  try {
    const store: Store = await openStore({ dir: join(config.dataDir, 'store') })
    stack.push(async () => { await store.close() })
    const chunks: ChunkStore = withRecentChunks(await openChunkStore(join(config.dataDir, 'chunks')))
    const held = new HeldChunks(chunks)
    const privateKey = init.seed?.vendorKey ?? await loadOrCreatePeerKey(config.dataDir)

    const libp2p = await createOverlayLibp2p({ privateKey, listen: config.listen, maxConnections: config.maxConnections })
    stack.push(async () => { await libp2p.stop() })
    const peerId = libp2p.peerId.toString()

    const vendorText = init.seed === undefined ? undefined : init.seed.vendorKey.publicKey.toString()
    const trust: TrustedVendorKeys = vendorText === undefined
      ? trustedVendorKeys(Object.fromEntries(Object.entries(config.apps).map(([app, c]) => [app, c.vendorKeys])))
      : trustEveryAppOf(vendorText)

    const rollouts = new Map<string, AppRollout>()
    // Each app's environment is fingerprinted once at start; the cluster in
    // effect also depends on the vendor's cluster map (stored, or arriving).
    const identities = new Map(await Promise.all(Object.entries(config.apps).map(async ([app, c]) => [app, await identifyAppCluster(app, c.cluster)] as const)))
    const clusterOf = new Map<string, string>()
    for (const [app, identity] of identities) clusterOf.set(app, effectiveCluster(identity, await storedClusterMap(store, trust, app)))
    /** The clusters each known release's plan names: whose members' messages may matter. */
    const planClusters = new Map<string, Set<string>>()
    const knowRelease = (release: VerifiedRelease): void => {
      planClusters.set(release.id, new Set(release.manifest.plan.clusters.map(rule => rule.name)))
    }
    const membership = new Membership({
      libp2p,
      store,
      own: Object.entries(config.apps).map(([app, c]) => ({ app, clusterId: clusterOf.get(app) ?? '', role: c.role })),
      announceIntervalMs: config.announceIntervalMs,
      onMember: member => rollouts.get(member.app)?.memberSeen(member),
      publishAnnouncement: async (own): Promise<number> => {
        const envelope = await sealEnvelope(SIGNATURE_DOMAINS.member, encodeMemberAnnouncement({ v: 1, ...own, at: Date.now() }), privateKey)
        // Through intake like any announcement: stored with its envelope, so sync hands it on.
        await intake.take('member', envelope, own.app)
        return await appGossip.publish(own.app, 'outcomes', envelope)
      }
    })

    const reportInbox = init.seed?.reportInbox
    const outbox = new ReportOutbox({
      store,
      machineKey: privateKey,
      self: libp2p.peerId,
      dialer: libp2p,
      connectedPeers: () => libp2p.getPeers().map(p => p.toString()),
      reachable: async peer => libp2p.getConnections(peerIdFromString(peer)).length > 0 ||
        ((await libp2p.peerStore.get(peerIdFromString(peer)).catch(() => undefined))?.addresses.length ?? 0) > 0,
      ...(reportInbox === undefined
        ? {}
        : {
            acceptOwn: async (sealed: Uint8Array) => {
              await mkdir(reportInbox, { recursive: true })
              await writeFileAtomically(join(reportInbox, `${reportIdOf(sealed)}.report`), sealed)
            }
          })
    })
    await libp2p.handle(REPORT_PROTOCOL, async (stream, connection) => {
      await serveReportStream(stream, connection.remotePeer, async (delivery, from) => outbox.receive(delivery, from))
        .catch((err: unknown) => { log('report stream from %s failed: %s', connection.remotePeer, (err as Error).message) })
    }, { maxInboundStreams: REPORT_MAX_INBOUND_STREAMS })
    const onPeerConnect = (event: CustomEvent<PeerId>): void => { outbox.peerConnected(event.detail.toString()) }
    libp2p.addEventListener('peer:connect', onPeerConnect)
    stack.push(async () => {
      libp2p.removeEventListener('peer:connect', onPeerConnect)
      await outbox.stop()
    })

    const seededApps = new Set<string>()
    const intake = new MessageIntake({
      store,
      trust,
      self: libp2p.peerId.toString(),
      installedSequence: async app => (await store.installs.get(app))?.sequence,
      isMember: async (app, clusterId, member, releaseId) => {
        // Only clusters that matter here are ever looked up: ours and the
        // plan's. Anything else is dropped without costing a DHT query.
        const relevant = clusterId === rollouts.get(app)?.clusterId || (planClusters.get(releaseId)?.has(clusterId) ?? false)
        return relevant && membership.isMember(app, clusterId, member)
      },
      onRelease: (release, receivedAt) => {
        knowRelease(release)
        void held.add(release.manifest.artifact.root, release.manifest.artifact)
        admit(release, receivedAt).catch((err: unknown) => { log.error('adding release failed: %e', err) })
      },
      onTestStart: (start, from, at) => { rollouts.get(start.app)?.testStarted(start, from, at) },
      onOutcome: (outcome, from, at) => { rollouts.get(outcome.app)?.outcomeSeen(outcome, from, at) },
      onOverride: (override, at) => { rollouts.get(override.app)?.overrideSeen(override, at) },
      onMemberAnnouncement: async (announcement, from, envelope) => {
        const { app, clusterId, role, at } = announcement
        await membership.announced({ app, clusterId, role, peerId: from, seenAt: Date.now() }, envelope, at)
      },
      onClusterMap: map => {
        const identity = identities.get(map.app)
        const rollout = rollouts.get(map.app)
        if (identity === undefined || rollout === undefined) return
        const cluster = effectiveCluster(identity, map)
        if (cluster !== rollout.clusterId) void rollout.moveToCluster(cluster).catch((err: unknown) => { log.error('moving %s to cluster %s failed: %e', map.app, cluster, err) })
      }
    })
    const appGossip = new AppGossip(libp2p, intake)

    /** Per app, the sequence of the newest release whose shipped env spec decides the machine's identity. */
    const specSequence = new Map<string, number>()
    /**
     * A release enters its app's rollout; one that ships an env spec first
     * re-fingerprints the machine with it (its cluster for this release and
     * the next ones), unless an older release than the one that last did so.
     */
    const admit = async (release: VerifiedRelease, receivedAt: number): Promise<void> => {
      const { app, envSpec, sequence } = release.manifest
      const rollout = rollouts.get(app)
      const appConfig = config.apps[app]
      if (rollout === undefined || appConfig === undefined) return
      if (envSpec !== undefined && sequence >= (specSequence.get(app) ?? 0)) {
        specSequence.set(app, sequence)
        const identity = await identifyAppClusterForRelease(app, appConfig.cluster, envSpec)
        identities.set(app, identity)
        const cluster = effectiveCluster(identity, await storedClusterMap(store, trust, app))
        if (cluster !== rollout.clusterId) await rollout.moveToCluster(cluster)
      }
      await rollout.addRelease(release, receivedAt)
    }

    // A completed download provides the root after a random delay: the
    // followers of a cluster finish within seconds of each other, and 20
    // provides at once (each a DHT query reaching ~20 peers) would take
    // the CPU the others still downloading need. Peers connected to this
    // node see it hold the chunks at once through `have`.
    const provideTimers = new Set<NodeJS.Timeout>()
    stack.push(async () => { for (const timer of provideTimers) clearTimeout(timer); provideTimers.clear() })
    const provideLater = (root: CID): void => {
      const timer = setTimeout(() => {
        provideTimers.delete(timer)
        void libp2p.contentRouting.provide(root).catch((err: unknown) => { log('providing %s failed: %e', root, err) })
      }, HOLDER_PROVIDE_MIN_DELAY_MS + Math.random() * HOLDER_PROVIDE_JITTER_MS)
      provideTimers.add(timer)
    }
    const redactors = new Map(Object.entries(config.apps).map(([app, c]) => [app, createRedactor(c.secrets)]))
    const fileReport = async (app: string, failure: TestFailure): Promise<void> => {
      const { release, suite } = failure
      const { reportKey } = release.manifest
      if (reportKey === undefined) {
        log('%s %s names no report key: the problem report stays on this machine', app, release.manifest.version)
        return
      }
      const failed = suite.results.at(-1)
      if (failed === undefined) return
      const report = buildProblemReport({
        app,
        releaseId: release.id,
        releaseVersion: release.manifest.version,
        clusterId: failure.clusterId,
        machine: peerId,
        role: failure.role,
        phase: failure.phase,
        test: {
          name: failed.name,
          exitCode: failed.result.exitCode,
          signal: failed.result.signal,
          timedOut: failed.result.timedOut,
          durationMs: Math.round(failed.result.durationMs),
          resourceUse: failed.result.resourceUse
        },
        output: { tail: failed.result.outputTail, bytes: failed.result.outputBytes },
        timings: { testStartedAt: failure.startedAt, testEndedAt: failure.endedAt, installedAt: failure.installedAt ?? null },
        environment: null,
        at: Date.now()
      }, redactors.get(app) ?? createRedactor())
      await outbox.file({ report, vendorReportKey: reportPublicKeyFromText(reportKey), to: lastResortByApp.get(app) ?? [] })
    }
    const lastResortByApp = new Map(Object.entries(config.apps).map(([app, c]) => [app, c.vendorKeys.map(text => peerIdFromPublicKey(publicKeyFromText(text)).toString())]))
    const download = async (release: VerifiedRelease, onChunk: (from: string, bytes: number, held: number) => void, signal: AbortSignal): Promise<void> => {
      const { root } = release.manifest.artifact
      let providers: string[] = []
      // The first lookup comes PROVIDER_REFRESH_MS in: connected peers are
      // candidates at once, and a download they can serve needs no query.
      let providersAt = Date.now()
      let providersEveryMs = PROVIDER_REFRESH_MS
      let heldCount = await held.add(root, release.manifest.artifact)
      let heldAtLastCall = heldCount
      // Not awaited: a DHT query under load takes seconds, and the download
      // can start with the peers this node is connected to.
      const partialProvide = setTimeout(() => {
        void libp2p.contentRouting.provide(root, { signal }).catch((err: unknown) => { log('providing %s failed: %e', root, err) })
      }, PARTIAL_PROVIDE_DELAY_MS)
      try {
        await downloadArtifact({
          root,
          layout: release.manifest.artifact,
          store: chunks,
          dialer: libp2pChunkDialer(libp2p),
          lastResort: lastResortByApp.get(release.manifest.app) ?? [],
          // Followers starting together split the chunks only the seed holds.
          self: peerId,
          signal,
          peers: async ({ starved }) => {
            // Only a download that made no progress since the previous call
            // and has nothing to ask its known peers for needs more holders:
            // a DHT query costs every peer it reaches CPU.
            if (starved && Date.now() - providersAt >= providersEveryMs && heldCount === heldAtLastCall) {
              providersAt = Date.now()
              providersEveryMs = Math.min(MAX_PROVIDER_REFRESH_MS, providersEveryMs * 2)
              providers = await findProviders(libp2p, root, signal)
            }
            heldAtLastCall = heldCount
            const connected = libp2p.getPeers().map(p => p.toString())
            return [...new Set([...providers, ...connected])].filter(p => p !== peerId)
          },
          onProgress: event => {
            if (event.type !== 'chunk-stored') return
            const digest = release.manifest.artifact.chunks[event.index]
            if (digest !== undefined) held.stored(digest)
            heldCount++
            onChunk(event.from, event.bytes, heldCount)
          }
        })
      } finally {
        clearTimeout(partialProvide)
      }
    }

    // Whether bubblewrap works is found out once per process, by running it:
    // now, rather than inside the first test. Under load that took 0.5–9 s
    // (bench/overlay.bench.ts, 20 machines installing at once), which every
    // follower's health check, right after its install, used to wait for.
    if (Object.values(config.apps).some(app => app.sandbox !== 'off')) void probeSandbox()

    for (const [app, appConfig] of Object.entries(config.apps)) {
      const clusterId = clusterOf.get(app) ?? ''
      const installer = await openInstaller(appConfig.installDir)
      const announce = async (release: VerifiedRelease, domain: 'test-start' | 'outcome', payload: Uint8Array): Promise<void> => {
        const envelope = await sealEnvelope(domain, payload, privateKey)
        await intake.take(domain, envelope, app)
        await appGossip.publish(app, 'outcomes', envelope)
        log('%s %s announced %s', app, release.manifest.version, domain)
      }
      rollouts.set(app, new AppRollout({
        app,
        config: appConfig,
        clusterId,
        peerId,
        store,
        chunks,
        installer,
        lookupMembers: async cluster => membership.lookup(app, cluster),
        announcedAt: () => membership.announcedAt(app),
        membersFromPeers: () => peerSync.membersSynced(app),
        knownMembers: cluster => membership.known(app, cluster),
        // A release is announced in the cluster it is rolled out in (the machine moves between releases only).
        announceTestStart: async release => announce(release, SIGNATURE_DOMAINS.testStart,
          encodeTestStart({ v: 1, app, releaseId: release.id, clusterId: rollouts.get(app)?.clusterId ?? clusterId, at: Date.now() })),
        announceOutcome: async (release, result) => announce(release, SIGNATURE_DOMAINS.outcome, encodeTestOutcome({
          v: 1,
          app,
          releaseId: release.id,
          clusterId: rollouts.get(app)?.clusterId ?? clusterId,
          pass: result.pass,
          exitCode: result.exitCode,
          durationMs: Math.round(result.durationMs),
          logDigest: Buffer.from(result.logDigest, 'hex'),
          at: result.at ?? Date.now()
        })),
        download,
        onClusterMoved: async cluster => membership.moveTo(app, cluster),
        announceHolding: async release => { provideLater(release.manifest.artifact.root) },
        fileReport: async failure => { await fileReport(app, failure) }
      }))
    }

    const syncSource = async function * ({ app, members }: SyncRequest): AsyncGenerator<SyncItem> {
      // The cluster map first: it decides the receiver's cluster for the releases that follow.
      const map = await store.clusterMaps.get(app)
      if (map !== undefined) yield { kind: 'cluster-map', bytes: map.envelope }
      // Releases next: a receiver can only take outcomes of releases it knows.
      const releaseIds: string[] = []
      for await (const [, record] of store.releases.entries()) {
        if (record.app !== app) continue
        releaseIds.push(record.releaseId)
        yield { kind: 'release', bytes: record.envelope }
      }
      // Overrides next: a halt must reach a late joiner before the outcomes that would open its gate.
      for await (const [, record] of store.overrides.entries({ prefix: `${app}/` })) yield { kind: 'override', bytes: record.envelope }
      // Members before their messages: a receiver that knows a signer's announcement checks it without a DHT walk.
      if (members) {
        const oldest = Date.now() - MEMBER_ANNOUNCEMENT_MAX_AGE_MS
        for await (const [, record] of store.memberships.entries({ prefix: `${app}/` })) {
          if (record.envelope !== undefined && (record.announcedAt ?? 0) >= oldest) yield { kind: 'member', bytes: record.envelope }
        }
      }
      for (const id of releaseIds) {
        for await (const [, record] of store.testStarts.entries({ prefix: `${id}/` })) yield { kind: 'test-start', bytes: record.envelope }
        for await (const [, record] of store.outcomes.entries({ prefix: `${id}/` })) yield { kind: 'outcome', bytes: record.envelope }
      }
    }
    const allApps = (): string[] => [...new Set([...Object.keys(config.apps), ...seededApps])]
    const syncServer = new SyncServer(libp2p, syncSource)
    const chunkServer = createChunkServer({ registrar: libp2p }, { source: held, uploadBytesPerSecond: nodeUploadLimit(config) })
    const peerSync = new PeerSync({
      libp2p,
      apps: allApps,
      intervalMs: config.syncIntervalMs,
      take: async (app, item) => { await intake.take(item.kind, item.bytes, app) }
    })

    // Order: local state first, then the network.
    for (const [app] of rollouts) appGossip.join(app)
    await syncServer.start()
    stack.push(async () => { await syncServer.stop() })
    await chunkServer.start()
    stack.push(async () => { await chunkServer.stop() })
    // The vendor's seed collects the census of machines that opted in.
    const censusCollector = init.seed === undefined
      ? undefined
      : createCensusCollector({ registrar: libp2p, store }, { serves: app => seededApps.has(app) || Object.hasOwn(config.apps, app) })
    if (censusCollector !== undefined) {
      await censusCollector.start()
      stack.push(async () => { await censusCollector.stop() })
    }
    await restoreReleases(store, trust, held, rollouts, knowRelease, admit)
    await membership.start()
    stack.push(async () => { await membership.stop() })
    for (const rollout of rollouts.values()) rollout.start()
    stack.push(async () => { await Promise.all([...rollouts.values()].map(async r => r.stop())) })
    peerSync.start()
    stack.push(async () => { await peerSync.stop() })
    outbox.start()
    stack.push(async () => { appGossip.leaveAll() })
    const bootstrap = new BootstrapDialer(libp2p, config.bootstrap)
    bootstrap.start()
    stack.push(async () => { await bootstrap.stop() })
    if (init.seed === undefined) {
      const censusReporter = createCensusReporter({ dialer: libp2p, privateKey }, { apps: censusApps(config) })
      censusReporter.start()
      stack.push(async () => { await censusReporter.stop() })
    }

    const seedRelease = async (dir: string): Promise<VerifiedRelease> => {
      if (init.seed === undefined) throw new Error('only a seed takes release directories')
      const release = await importReleaseDir(dir, init.seed.vendorKey.publicKey, chunks)
      const { app } = release.manifest
      seededApps.add(app)
      appGossip.join(app)
      await intake.take('release', release.bytes, app)
      await held.add(release.manifest.artifact.root, release.manifest.artifact)
      await appGossip.publish(app, 'releases', release.bytes)
      void libp2p.contentRouting.provide(release.manifest.artifact.root).catch((err: unknown) => { log('providing failed: %e', err) })
      log('seeding %s %s (%s)', app, release.manifest.version, release.id)
      return release
    }
    const seedClusterMap = async (file: string): Promise<ClusterMap> => {
      if (init.seed === undefined) throw new Error('only a seed takes cluster maps')
      const bytes = await readFile(file)
      // Checked against the vendor key before anything is stored or sent.
      const { map } = await openClusterMap(bytes, init.seed.vendorKey.publicKey)
      seededApps.add(map.app)
      appGossip.join(map.app)
      const verdict = await intake.take('cluster-map', bytes, map.app)
      if (verdict === 'ignore') throw new Error(`cluster map ${map.app} sequence ${map.sequence} is not newer than the one this seed has`)
      await appGossip.publish(map.app, 'releases', bytes)
      log('seeding cluster map %s sequence %d', map.app, map.sequence)
      return map
    }
    const seedOverride = async (file: string): Promise<Override> => {
      if (init.seed === undefined) throw new Error('only a seed takes overrides')
      const bytes = await readFile(file)
      // Checked like any received override (signature, trust, sequence) before it is stored or sent.
      const override = decodeOverride((await openEnvelope(bytes, SIGNATURE_DOMAINS.override)).payload)
      seededApps.add(override.app)
      appGossip.join(override.app)
      const verdict = await intake.take('override', bytes, override.app)
      if (verdict !== 'accept') throw new Error(`override ${override.action} sequence ${override.sequence} of ${override.app} was refused (${verdict}): not signed by this seed's vendor key, or not newer than the one it has for that scope`)
      await appGossip.publish(override.app, 'overrides', bytes)
      log('seeding override %s %s of %s sequence %d', override.action, override.clusterId ?? 'every cluster', override.releaseId, override.sequence)
      return override
    }
    // A seed serves whatever it seeded before a restart.
    if (init.seed !== undefined) {
      for await (const [, record] of store.releases.entries()) {
        seededApps.add(record.app)
        appGossip.join(record.app)
      }
      for await (const [app] of store.clusterMaps.entries()) {
        seededApps.add(app)
        appGossip.join(app)
      }
    }

    const status = async (): Promise<NodeStatus> => buildNodeStatus({ libp2p, config, rollouts, store, chunkServer, seed: init.seed !== undefined, reports: async () => outbox.pending(), messages: intake.counts, membersFromPeers: app => peerSync.membersSynced(app), ...(membership.lastAnnounce === undefined ? {} : { lastAnnounce: membership.lastAnnounce }) })
    const progress = async (): Promise<NodeProgress> => buildNodeProgress({ libp2p, rollouts, reportsWaiting: async () => (await outbox.pending()).own, ...(membership.lastAnnounce === undefined ? {} : { lastAnnounce: membership.lastAnnounce }) })
    const control = await startControlServer(config.dataDir, {
      status,
      progress,
      ...(init.seed === undefined
        ? {}
        : {
            addRelease: async (dir: string) => { const r = await seedRelease(dir); return { id: r.id, app: r.manifest.app, version: r.manifest.version } },
            addClusterMap: async (file: string) => { const m = await seedClusterMap(file); return { app: m.app, sequence: m.sequence, clusters: m.clusters.length } },
            addOverride: async (file: string) => seedOverride(file)
          }),
      ...(censusCollector === undefined ? {} : { census: (app: string) => censusCollector.census(app) })
    })
    stack.push(async () => { await control.close() })

    let stopped = false
    return {
      peerId: libp2p.peerId,
      libp2p,
      multiaddrs: () => libp2p.getMultiaddrs().map(ma => ma.toString()),
      status,
      progress,
      seedRelease,
      seedClusterMap,
      seedOverride,
      async stop () {
        if (stopped) return
        stopped = true
        await stopAll()
      }
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}

/**
 * One upload budget for the node: the node-wide limit if set, else the sum
 * of the apps' limits when every app has one (all chunks share one link).
 */
function nodeUploadLimit (config: NodeConfig): number | undefined {
  if (config.uploadBytesPerSecond > 0) return config.uploadBytesPerSecond
  const limits = Object.values(config.apps).map(c => c.uploadBytesPerSecond)
  return limits.length > 0 && limits.every(limit => limit > 0) ? limits.reduce((a, b) => a + b, 0) : undefined
}

/** A seed trusts its own vendor key for any app it seeds. */
function trustEveryAppOf (vendorKeyText: string): TrustedVendorKeys {
  return {
    apps: () => [],
    isTrusted: (_app, key) => key.toString() === vendorKeyText,
    requireTrusted (app, key) {
      if (key.toString() !== vendorKeyText) throw Object.assign(new Error(`signed by ${key.toString()}, not by this seed's vendor key (app "${app}")`), { name: 'SignatureError', reason: 'untrusted-signer' })
    }
  }
}

/** Everything the node persisted before a restart goes back into the engine. */
async function restoreReleases (store: Store, trust: TrustedVendorKeys, held: HeldChunks, rollouts: Map<string, AppRollout>, know: (release: VerifiedRelease) => void, admit: (release: VerifiedRelease, at: number) => Promise<void>): Promise<void> {
  // Oldest first: a newer release's shipped env spec is the one that stays in force.
  const records = []
  for await (const [, record] of store.releases.entries()) records.push(record)
  for (const record of records.sort((a, b) => a.sequence - b.sequence)) {
    try {
      const release = await readSignedRelease(record.envelope, trust)
      know(release)
      await held.add(release.manifest.artifact.root, release.manifest.artifact)
      await admit(release, record.receivedAt)
    } catch (err) {
      log.error('stored release %s no longer verifies: %e', record.releaseId, err)
    }
  }
  for (const rollout of rollouts.values()) await rollout.restoreOutcomes()
}

async function findProviders (libp2p: OverlayLibp2p, root: VerifiedRelease['manifest']['artifact']['root'], signal: AbortSignal): Promise<string[]> {
  const found: string[] = []
  try {
    for await (const provider of libp2p.contentRouting.findProviders(root, { signal: AbortSignal.any([signal, AbortSignal.timeout(PROVIDER_LOOKUP_TIMEOUT_MS)]) })) {
      found.push(provider.id.toString())
      // Providers come with addresses: remember them so the downloader can dial.
      await libp2p.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }).catch(() => {})
    }
  } catch {}
  return found
}

/** Dials every bootstrap peer in the background, retrying with backoff: a loaded peer often times out the first handshake. */
/** The app's stored cluster map, re-verified (a map whose signer is no longer trusted is not used). */
async function storedClusterMap (store: Store, trust: TrustedVendorKeys, app: string): Promise<ClusterMap | undefined> {
  const record = await store.clusterMaps.get(app)
  if (record === undefined) return undefined
  try {
    return (await openClusterMap(record.envelope, trust)).map
  } catch (err) {
    log('ignoring the stored cluster map of %s: %e', app, err)
    return undefined
  }
}
