/**
 * A swarm of real libp2p nodes on 127.0.0.1 (TCP + Noise + Yamux), each with
 * its own chunk store and chunk server, for the fetch integration tests and
 * bench/fetch.bench.ts. The harness owns start, connect and teardown
 * (after kad-dht's test/utils/test-dht.ts): `stop()` stops every node it made.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { artifactRoot, openChunkStore, sha256 } from '../../../src/content/index.ts'
import type { ArtifactLayout, ChunkStore } from '../../../src/content/index.ts'
import { createChunkServer } from '../../../src/overlay/chunk-server.ts'
import type { ChunkServer, ChunkServerInit, ChunkSource } from '../../../src/overlay/chunk-server.ts'
import { createOverlayLibp2p } from '../../../src/overlay/create-libp2p.ts'
import type { OverlayLibp2p } from '../../../src/overlay/create-libp2p.ts'
import { downloadArtifact, libp2pChunkDialer } from '../../../src/fetch/index.ts'
import type { DownloadInit, DownloadResult } from '../../../src/fetch/index.ts'
import { generateSigningKey } from '../../../src/trust/index.ts'
import type { CID } from 'multiformats/cid'

/** An artifact made of random bytes, cut into chunks. */
export interface TestArtifact {
  root: CID
  layout: ArtifactLayout
  chunks: Uint8Array[]
}

export function makeArtifact (size: number, chunkSize: number): TestArtifact {
  const bytes = new Uint8Array(randomBytes(size))
  const chunks: Uint8Array[] = []
  for (let offset = 0; offset < size; offset += chunkSize) chunks.push(bytes.subarray(offset, Math.min(size, offset + chunkSize)))
  const layout: ArtifactLayout = { size, chunkSize, chunks: chunks.map((chunk) => sha256(chunk)) }
  return { root: artifactRoot(layout), layout, chunks }
}

export interface NodeOptions {
  /** Upload limit of the node's chunk server. */
  uploadBytesPerSecond?: number
  /** Wraps the store the server reads from (to serve tampered bytes, say). */
  serveFrom?: (store: ChunkStore) => ChunkStore
  /** Extra server options. */
  server?: Partial<ChunkServerInit>
  /** Start no chunk server (the test registers its own handler). */
  noServer?: boolean
}

/** One node: libp2p, a chunk store, and what it serves. */
export class FetchNode {
  readonly libp2p: OverlayLibp2p
  readonly store: ChunkStore
  readonly dir: string
  readonly server: ChunkServer | undefined
  /** Root (as string) → layout of the artifacts this node serves. */
  readonly layouts = new Map<string, ArtifactLayout>()
  /** Root (as string) → verified chunk indexes held. */
  readonly held = new Map<string, Set<number>>()
  readonly #serveStore: ChunkStore

  constructor (libp2p: OverlayLibp2p, store: ChunkStore, dir: string, options: NodeOptions) {
    this.libp2p = libp2p
    this.store = store
    this.dir = dir
    this.#serveStore = options.serveFrom?.(store) ?? store
    const source: ChunkSource = {
      layout: (root) => this.layouts.get(root.toString()),
      store: (root) => this.layouts.has(root.toString()) ? this.#serveStore : undefined,
      holds: (root, index) => this.held.get(root.toString())?.has(index) === true
    }
    this.server = options.noServer === true
      ? undefined
      : createChunkServer({ registrar: libp2p }, { source, uploadBytesPerSecond: options.uploadBytesPerSecond, ...options.server })
  }

  get id (): string {
    return this.libp2p.peerId.toString()
  }

  /** Serves `artifact`, holding the chunks at `indexes` (stored now); all of them by default. */
  async seed (artifact: TestArtifact, indexes?: number[]): Promise<void> {
    this.serve(artifact)
    for (const index of indexes ?? artifact.chunks.map((_chunk, i) => i)) {
      await this.store.put(artifact.layout.chunks[index] as Uint8Array, artifact.chunks[index] as Uint8Array)
      this.markHeld(artifact.root, index)
    }
  }

  /** Knows `artifact` (holding nothing yet). */
  serve (artifact: TestArtifact): void {
    this.layouts.set(artifact.root.toString(), artifact.layout)
    if (!this.held.has(artifact.root.toString())) this.held.set(artifact.root.toString(), new Set())
  }

  markHeld (root: CID, index: number): void {
    let set = this.held.get(root.toString())
    if (set === undefined) {
      set = new Set()
      this.held.set(root.toString(), set)
    }
    set.add(index)
  }

  /** Downloads `artifact` from `peers`, serving each chunk as soon as it is stored (as a real node does). */
  async download (artifact: TestArtifact, init: Partial<DownloadInit> & { peers: DownloadInit['peers'] }): Promise<DownloadResult> {
    this.serve(artifact)
    const onProgress = init.onProgress
    return downloadArtifact({
      root: artifact.root,
      layout: artifact.layout,
      store: this.store,
      dialer: libp2pChunkDialer(this.libp2p),
      self: this.id,
      ...init,
      onProgress: (event) => {
        if (event.type === 'chunk-stored') this.markHeld(artifact.root, event.index)
        onProgress?.(event)
      }
    })
  }
}

export class FetchHarness {
  readonly nodes: FetchNode[] = []

  async createNode (options: NodeOptions = {}): Promise<FetchNode> {
    const dir = await mkdtemp(path.join(tmpdir(), 'mirage-fetch-'))
    const libp2p = await createOverlayLibp2p({ privateKey: await generateSigningKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
    const node = new FetchNode(libp2p, await openChunkStore(dir), dir, options)
    this.nodes.push(node)
    await node.server?.start()
    return node
  }

  async createNodes (count: number, options: NodeOptions = {}): Promise<FetchNode[]> {
    const made: FetchNode[] = []
    for (let i = 0; i < count; i++) made.push(await this.createNode(options))
    return made
  }

  /**
   * Connects every pair of `nodes`, in rounds where each node takes part in
   * at most one dial, a few rounds per second: libp2p refuses more than
   * `inboundConnectionThreshold` (default 5) inbound connections per second
   * from one host, and every node here is 127.0.0.1.
   */
  async connectAll (nodes: FetchNode[] = this.nodes): Promise<void> {
    for (const round of roundRobin(nodes.length)) {
      const started = performance.now()
      await Promise.all(round.map(async ([i, j]) => {
        await dialWithRetry(nodes[i] as FetchNode, nodes[j] as FetchNode)
      }))
      const wait = CONNECT_ROUND_MS - (performance.now() - started)
      if (wait > 0) await sleep(wait)
    }
  }

  /** Stops every node and removes its store. */
  async stop (): Promise<void> {
    const nodes = this.nodes.splice(0)
    await Promise.allSettled(nodes.map(async (node) => {
      await node.server?.stop()
      await node.libp2p.stop()
      await rm(node.dir, { recursive: true, force: true })
    }))
  }
}

/** Spacing of connection rounds: ≤ 1 inbound connection per node per round keeps under 5/s per node. */
const CONNECT_ROUND_MS = 300
/** Tries per dial before the harness gives up (a loaded machine can time out a handshake). */
const CONNECT_ATTEMPTS = 5

async function dialWithRetry (from: FetchNode, to: FetchNode): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await from.libp2p.dial(to.libp2p.getMultiaddrs())
      return
    } catch (err) {
      if (attempt >= CONNECT_ATTEMPTS) throw err
      await sleep(CONNECT_ROUND_MS * attempt * 2)
    }
  }
}

/** The circle method: rounds of disjoint pairs covering every pair of `count` nodes once. */
function roundRobin (count: number): Array<Array<[number, number]>> {
  const slots = count % 2 === 0 ? count : count + 1
  const ring = Array.from({ length: slots }, (_v, i) => i)
  const rounds: Array<Array<[number, number]>> = []
  for (let r = 0; r < slots - 1; r++) {
    const round: Array<[number, number]> = []
    for (let k = 0; k < slots / 2; k++) {
      const a = ring[k] as number
      const b = ring[slots - 1 - k] as number
      if (a < count && b < count) round.push(r % 2 === 0 ? [a, b] : [b, a])
    }
    rounds.push(round)
    // Keep ring[0] fixed, rotate the rest.
    ring.splice(1, 0, ring.pop() as number)
  }
  return rounds
}
