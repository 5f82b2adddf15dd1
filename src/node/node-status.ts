import type { ChunkServer, OverlayLibp2p } from '../overlay/index.ts'
import type { Store } from '../store/index.ts'
import type { AppRollout } from './app-rollout.ts'
import type { NodeConfig } from './config.ts'

/** One cluster as this node sees it for a release. */
export interface ClusterStatus {
  clusterId: string
  state: string
  passes: number
  quorum: number
  members: number
  representatives: string[]
  /** Electees skipped because they never started in time. */
  replaced: string[]
  reason: string
}

export interface ReleaseStatus {
  id: string
  version: string
  sequence: number
  /** This machine's state for the release (seen, waiting, downloading, testing, installed, blocked, …). */
  state: string
  role: string
  reason: string
  /** What the engine says now: wait, test, install or blocked, and why. */
  gate: { action: string, reason: string, waitingFor: string[], blockedBy: string[], haltedBy: string[] }
  chunksHeld: number
  chunksTotal: number
  bytesFrom: Record<string, number>
  /** First time each state was entered, ms since epoch. */
  at: Record<string, number>
  clusters: ClusterStatus[]
}

export interface AppStatus {
  app: string
  clusterId: string
  installed?: { releaseId?: string, version?: string, sequence?: number }
  /** A sync brought the app's member announcements: elections settle without a DHT lookup (PROTOCOL.md §9.3). */
  membersFromPeers: boolean
  releases: ReleaseStatus[]
}

/** What `mirage node status` shows (and `--json` prints). */
export interface NodeStatus {
  peerId: string
  addresses: string[]
  seed: boolean
  connectedPeers: number
  /** The last round of membership announcements: when it ended, and the connections the node had when it began. */
  announced?: { at: number, peers: number }
  uploaded: { bytes: number, chunks: number, bitfields: number, byPeer: Record<string, number> }
  /** Signed messages (releases, overrides, test starts, outcomes, maps) taken in from gossip and sync, by verdict. */
  messages: { accepted: number, ignored: number, rejected: number }
  /** Problem reports: this machine's own not yet acknowledged by the vendor, delivered, and held for others. */
  reports: { waiting: number, delivered: number, custody: number }
  apps: AppStatus[]
}

export interface NodeStatusInputs {
  libp2p: OverlayLibp2p
  config: NodeConfig
  rollouts: Map<string, AppRollout>
  store: Store
  chunkServer: ChunkServer
  seed: boolean
  lastAnnounce?: { at: number, peers: number }
  reports: () => Promise<{ own: number, custody: number, delivered: number }>
  messages: { accept: number, ignore: number, reject: number }
  membersFromPeers: (app: string) => boolean
}

export async function buildNodeStatus (inputs: NodeStatusInputs): Promise<NodeStatus> {
  const apps: AppStatus[] = []
  for (const [app, rollout] of inputs.rollouts) {
    const installed = await inputs.store.installs.get(app)
    const releases: ReleaseStatus[] = []
    let clusterId = ''
    for (const { release, view, record } of await rollout.status()) {
      clusterId = record?.clusterId ?? clusterId
      const self = view.self
      releases.push({
        id: release.id,
        version: release.manifest.version,
        sequence: release.manifest.sequence,
        state: record?.state ?? 'seen',
        role: record?.role ?? 'undecided',
        reason: record?.reason ?? '',
        gate: {
          action: self.action,
          reason: self.reason,
          waitingFor: self.action === 'wait' ? self.waitingFor : [],
          blockedBy: self.action === 'blocked' ? self.blockedBy : [],
          haltedBy: self.action === 'halted' ? self.haltedBy : []
        },
        chunksHeld: record?.chunksHeld ?? 0,
        chunksTotal: release.manifest.artifact.chunks.length,
        bytesFrom: record?.bytesFrom ?? {},
        at: record?.at ?? {},
        clusters: view.clusters.map(c => ({
          clusterId: c.clusterId,
          state: c.state,
          passes: c.passes.length,
          quorum: c.quorum,
          members: c.members,
          representatives: c.representatives,
          replaced: c.replaced,
          reason: c.reason
        }))
      })
    }
    apps.push({
      app,
      clusterId: clusterId === '' ? rollout.clusterId : clusterId,
      ...(installed === undefined ? {} : { installed: { releaseId: installed.releaseId, version: installed.version, sequence: installed.sequence } }),
      membersFromPeers: inputs.membersFromPeers(app),
      releases
    })
  }
  const stats = inputs.chunkServer.stats()
  const reports = await inputs.reports()
  return {
    peerId: inputs.libp2p.peerId.toString(),
    addresses: inputs.libp2p.getMultiaddrs().map(ma => ma.toString()),
    seed: inputs.seed,
    connectedPeers: connectedPeerCount(inputs.libp2p),
    ...(inputs.lastAnnounce === undefined ? {} : { announced: inputs.lastAnnounce }),
    uploaded: { bytes: stats.bytesServed, chunks: stats.chunksServed, bitfields: stats.bitfieldsServed, byPeer: Object.fromEntries(stats.byPeer) },
    messages: { accepted: inputs.messages.accept, ignored: inputs.messages.ignore, rejected: inputs.messages.reject },
    reports: { waiting: reports.own, delivered: reports.delivered, custody: reports.custody },
    apps
  }
}

/**
 * What a scenario runner polls for every machine, several times a second:
 * each release's state, the member announcement, and whether an own problem
 * report waits. A small part of NodeStatus, built without the engine's
 * cluster views or the per-peer counters. Measured with 100 idle machines
 * in one process, polled twice a second: 1.21 cores with full statuses,
 * 0.46 with this view; the runner took that CPU from the machines it
 * measures.
 */
export interface NodeProgress {
  connectedPeers: number
  announced?: { at: number, peers: number }
  reports: { waiting: number }
  apps: Array<{ app: string, releases: Array<{ version: string, state: string }> }>
}

export interface NodeProgressInputs {
  libp2p: OverlayLibp2p
  rollouts: Map<string, AppRollout>
  lastAnnounce?: { at: number, peers: number }
  reportsWaiting: () => Promise<number>
}

export async function buildNodeProgress (inputs: NodeProgressInputs): Promise<NodeProgress> {
  const apps: NodeProgress['apps'] = []
  for (const [app, rollout] of inputs.rollouts) apps.push({ app, releases: await rollout.progress() })
  return {
    connectedPeers: connectedPeerCount(inputs.libp2p),
    ...(inputs.lastAnnounce === undefined ? {} : { announced: inputs.lastAnnounce }),
    reports: { waiting: await inputs.reportsWaiting() },
    apps
  }
}

/**
 * Distinct peers with an open connection. `libp2p.getPeers()` turns every
 * connection's peer id back from its string form (a base58 decode each),
 * which made it the costliest part of a status (profiled); a peer id's
 * string is cached, so counting strings is cheap.
 */
export function connectedPeerCount (libp2p: Pick<OverlayLibp2p, 'getConnections'>): number {
  const peers = new Set<string>()
  for (const connection of libp2p.getConnections()) peers.add(connection.remotePeer.toString())
  return peers.size
}
