/**
 * Fakes shared by the fetch and chunk-protocol unit tests: an in-memory
 * chunk store with the real one's checks, artifacts of random-ish bytes, a
 * registrar that captures handlers, and in-memory stream pairs wired to a
 * real chunk server (no TCP), so the downloader runs against the real
 * protocol code.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import {
  ChunkMismatchError, ChunkMissingError, artifactRoot, digestToHex, sha256
} from '../../../src/content/index.ts'
import type { ArtifactLayout, ChunkStore } from '../../../src/content/index.ts'
import { CHUNKS_PROTOCOL } from '../../../src/overlay/chunk-protocol.ts'
import { createChunkServer } from '../../../src/overlay/chunk-server.ts'
import type { ChunkServer, ChunkServerInit, ChunkServerRegistrar, ChunkSource } from '../../../src/overlay/chunk-server.ts'
import type { ChunkDialer } from '../../../src/fetch/index.ts'
import type { Connection, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface TestArtifact {
  root: CID
  layout: ArtifactLayout
  chunks: Uint8Array[]
}

/** An artifact of `size` deterministic bytes (distinct per `seed`) in `chunkSize` chunks. */
export function makeArtifact (size: number, chunkSize: number, seed = 1): TestArtifact {
  const bytes = new Uint8Array(size)
  let x = seed * 2654435761 >>> 0
  for (let i = 0; i < size; i++) {
    x = (x * 1664525 + 1013904223) >>> 0
    bytes[i] = x >>> 24
  }
  const chunks: Uint8Array[] = []
  for (let offset = 0; offset < size; offset += chunkSize) chunks.push(bytes.subarray(offset, Math.min(size, offset + chunkSize)))
  const layout: ArtifactLayout = { size, chunkSize, chunks: chunks.map((chunk) => sha256(chunk)) }
  return { root: artifactRoot(layout), layout, chunks }
}

/** A ChunkStore in memory with the disk store's checks (hash on put and get). */
export class MemoryChunkStore implements ChunkStore {
  readonly dir = '(memory)'
  readonly chunks = new Map<string, Uint8Array>()
  puts = 0

  async put (digest: Uint8Array, bytes: Uint8Array): Promise<void> {
    this.puts++
    const expected = digestToHex(digest)
    const actual = digestToHex(sha256(bytes))
    if (actual !== expected) throw new ChunkMismatchError(expected, actual)
    this.chunks.set(expected, Uint8Array.from(bytes))
  }

  async add (bytes: Uint8Array): Promise<Uint8Array> {
    const digest = sha256(bytes)
    this.chunks.set(digestToHex(digest), Uint8Array.from(bytes))
    return digest
  }

  async get (digest: Uint8Array): Promise<Uint8Array> {
    const bytes = this.chunks.get(digestToHex(digest))
    if (bytes === undefined) throw new ChunkMissingError(digestToHex(digest))
    return bytes
  }

  async has (digest: Uint8Array): Promise<boolean> {
    return this.chunks.has(digestToHex(digest))
  }

  path (digest: Uint8Array): string {
    return digestToHex(digest)
  }

  async delete (digest: Uint8Array): Promise<void> {
    this.chunks.delete(digestToHex(digest))
  }
}

/** A ChunkSource over one store, serving the artifacts given, holding the indexes marked. */
export class TestSource implements ChunkSource {
  readonly #store: ChunkStore
  readonly layouts = new Map<string, ArtifactLayout>()
  readonly held = new Map<string, Set<number>>()

  constructor (store: ChunkStore) {
    this.#store = store
  }

  serve (artifact: TestArtifact, indexes: Iterable<number> = []): void {
    this.layouts.set(artifact.root.toString(), artifact.layout)
    const set = this.held.get(artifact.root.toString()) ?? new Set()
    for (const index of indexes) set.add(index)
    this.held.set(artifact.root.toString(), set)
  }

  layout (root: CID): ArtifactLayout | undefined {
    return this.layouts.get(root.toString())
  }

  store (root: CID): ChunkStore | undefined {
    return this.layouts.has(root.toString()) ? this.#store : undefined
  }

  holds (root: CID, index: number): boolean {
    return this.held.get(root.toString())?.has(index) === true
  }
}

/** A registrar that records the handler, so a test can hand it streams directly. */
export class FakeRegistrar implements ChunkServerRegistrar {
  handler: StreamHandler | undefined
  handles = 0
  unhandles = 0

  async handle (protocol: string, handler: StreamHandler): Promise<void> {
    if (protocol !== CHUNKS_PROTOCOL) throw new Error(`unexpected protocol ${protocol}`)
    this.handles++
    this.handler = handler
  }

  async unhandle (): Promise<void> {
    this.unhandles++
    this.handler = undefined
  }
}

export async function makePeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A connection as far as the server looks at it (the remote peer). */
export function fakeConnection (remotePeer: PeerId): Connection {
  return { remotePeer } as unknown as Connection
}

/** A peer in a fake network: a store, a source, a running server reachable through `FakeNetwork`. */
export interface FakePeer {
  id: PeerId
  store: MemoryChunkStore
  source: TestSource
  server: ChunkServer
  registrar: FakeRegistrar
}

/**
 * Peers whose servers are reached through in-memory stream pairs instead of
 * libp2p: `dialer(from)` opens a stream to any peer's real server.
 */
export class FakeNetwork {
  readonly peers = new Map<string, FakePeer>()
  /** Streams opened, per target peer id. */
  readonly dials = new Map<string, number>()
  /** Peers whose dials fail. */
  readonly unreachable = new Set<string>()

  async addPeer (init: Partial<ChunkServerInit> = {}, store = new MemoryChunkStore()): Promise<FakePeer> {
    const id = await makePeerId()
    const source = new TestSource(store)
    const registrar = new FakeRegistrar()
    const server = createChunkServer({ registrar }, { source, ...init })
    await server.start()
    const peer = { id, store, source, server, registrar }
    this.peers.set(id.toString(), peer)
    return peer
  }

  /** A peer whose streams go to `handler` instead of a chunk server (to misbehave). */
  async addCustomPeer (handler: StreamHandler): Promise<PeerId> {
    const id = await makePeerId()
    const registrar = new FakeRegistrar()
    registrar.handler = handler
    const store = new MemoryChunkStore()
    const server = createChunkServer({ registrar: new FakeRegistrar() }, { source: new TestSource(store) })
    this.peers.set(id.toString(), { id, store, source: new TestSource(store), server, registrar })
    return id
  }

  /** A dialer from `from` (a peer id the servers will see as the remote). */
  dialer (from: PeerId): ChunkDialer {
    return {
      dial: async (peer) => {
        this.dials.set(peer, (this.dials.get(peer) ?? 0) + 1)
        const target = this.peers.get(peer)
        if (target === undefined || this.unreachable.has(peer)) throw new Error(`no route to ${peer}`)
        const handler = target.registrar.handler
        if (handler === undefined) throw new Error(`${peer} does not handle ${CHUNKS_PROTOCOL}`)
        const [outbound, inbound] = await streamPair({ delay: 0 })
        void Promise.resolve(handler(inbound, fakeConnection(from))).catch(() => {})
        return outbound
      }
    }
  }

  async stop (): Promise<void> {
    await Promise.all([...this.peers.values()].map(async (peer) => { await peer.server.stop() }))
  }
}

/** Opens a raw stream pair to a server's handler (for protocol-level tests). */
export async function openToServer (registrar: FakeRegistrar, from: PeerId): Promise<{ client: Stream, server: Stream, handled: Promise<void> }> {
  const handler = registrar.handler
  if (handler === undefined) throw new Error('server not started')
  const [client, server] = await streamPair({ delay: 0 })
  const handled = Promise.resolve(handler(server, fakeConnection(from)))
  return { client, server, handled }
}

/** Polls `condition` until true or `timeoutMs` passes (never a fixed sleep). */
export async function waitFor (condition: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
