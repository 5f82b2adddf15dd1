/**
 * Downloads between real libp2p nodes (TCP + Noise + Yamux on 127.0.0.1):
 * a seed and followers started together, a peer serving corrupt chunks, a
 * resumed download, the upload limiter, and a peer that never answers.
 */
import { lpStream } from '@libp2p/utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { verifyArtifactChunks } from '../../../src/content/index.ts'
import type { ChunkStore } from '../../../src/content/index.ts'
import type { DownloadProgress } from '../../../src/fetch/index.ts'
import {
  CHUNKS_PROTOCOL, bitfieldOf, decodeRequest, encodeResponse
} from '../../../src/overlay/chunk-protocol.ts'
import { FetchHarness, makeArtifact } from './harness.ts'
import type { FetchNode, TestArtifact } from './harness.ts'

const KiB = 1024
const MiB = 1024 * KiB

let harness: FetchHarness

beforeEach(() => {
  harness = new FetchHarness()
})

afterEach(async () => {
  await harness.stop()
})

/** Everyone but `node` (the node's own candidate list, as the DHT plus connections would give it). */
function othersOf (node: FetchNode): () => string[] {
  return () => harness.nodes.filter((other) => other !== node).map((other) => other.id)
}

async function expectWhole (node: FetchNode, artifact: TestArtifact): Promise<void> {
  expect(await verifyArtifactChunks(node.store, artifact.layout)).toEqual([])
}

describe('fetching an artifact over libp2p', () => {
  it('one seed and four followers started together: all complete, mostly from each other', async () => {
    const [seed, ...followers] = await harness.createNodes(5)
    if (seed === undefined) throw new Error('no seed')
    await harness.connectAll()
    const artifact = makeArtifact(8 * MiB, 256 * KiB)
    await seed.seed(artifact)

    const results = await Promise.all(followers.map(async (node) => node.download(artifact, {
      peers: othersOf(node),
      lastResort: [seed.id]
    })))

    for (const node of followers) await expectWhole(node, artifact)
    const received = artifact.layout.size * followers.length
    const fromSeed = results.reduce((sum, result) => sum + (result.bytesByPeer.get(seed.id) ?? 0), 0)
    const seedServed = seed.server?.stats().bytesServed ?? 0
    // The seed is the last resort: about one copy, never near one per follower.
    expect(seedServed).toBe(fromSeed)
    expect(seedServed).toBeLessThan(2 * artifact.layout.size)
    // So most bytes moved between followers.
    expect(received - fromSeed).toBeGreaterThan(received / 2)
    for (const result of results) {
      expect(result.chunksFetched).toBe(artifact.chunks.length)
      expect(result.droppedPeers).toEqual([])
      // Every follower got something from some other follower.
      const fromPeers = [...result.bytesByPeer].filter(([peer]) => peer !== seed.id).reduce((sum, [, bytes]) => sum + bytes, 0)
      expect(fromPeers).toBeGreaterThan(0)
    }
  })

  it('drops a peer serving corrupted chunks and still completes correctly', async () => {
    const [seed, follower] = await harness.createNodes(2)
    // Its store hands out tampered bytes of the right length (as a disk
    // corrupted under a store that skipped verification would).
    const liar = await harness.createNode({
      serveFrom: (store: ChunkStore): ChunkStore => Object.assign(Object.create(store) as ChunkStore, {
        get: async (digest: Uint8Array) => {
          const bytes = Uint8Array.from(await store.get(digest))
          bytes[bytes.byteLength - 1] = (bytes[bytes.byteLength - 1] ?? 0) ^ 0x01
          return bytes
        }
      })
    })
    if (seed === undefined || follower === undefined) throw new Error('no nodes')
    await harness.connectAll()
    const artifact = makeArtifact(2 * MiB, 256 * KiB)
    await seed.seed(artifact)
    await liar.seed(artifact)

    const events: DownloadProgress[] = []
    const result = await follower.download(artifact, {
      peers: () => [liar.id],
      lastResort: [seed.id],
      onProgress: (event) => events.push(event)
    })

    await expectWhole(follower, artifact)
    expect(result.droppedPeers).toEqual([liar.id])
    expect(events).toContainEqual(expect.objectContaining({ type: 'peer-dropped', peer: liar.id, reason: 'bad-chunk' }))
    expect(result.bytesByPeer.get(liar.id) ?? 0).toBe(0)
    expect(result.bytesByPeer.get(seed.id)).toBe(artifact.layout.size)
  })

  it('resumes: with half the chunks already stored, only the other half is fetched', async () => {
    const [seed, follower] = await harness.createNodes(2)
    if (seed === undefined || follower === undefined) throw new Error('no nodes')
    await harness.connectAll()
    const artifact = makeArtifact(4 * MiB + 12_345, 256 * KiB)
    await seed.seed(artifact)
    const half = artifact.chunks.map((_c, i) => i).filter((i) => i % 2 === 1)
    for (const index of half) await follower.store.put(artifact.layout.chunks[index] as Uint8Array, artifact.chunks[index] as Uint8Array)

    const result = await follower.download(artifact, { peers: () => [seed.id] })

    await expectWhole(follower, artifact)
    expect(result.chunksAlreadyHeld).toBe(half.length)
    expect(result.chunksFetched).toBe(artifact.chunks.length - half.length)
    expect(seed.server?.stats().chunksServed).toBe(artifact.chunks.length - half.length)
  })

  it('sends every chunk through the upload limiter and accounts bytes per peer', async () => {
    const seed = await harness.createNode({ uploadBytesPerSecond: 8 * MiB, server: { uploadBurstBytes: 256 * KiB } })
    const [a, b] = await harness.createNodes(2)
    if (a === undefined || b === undefined) throw new Error('no nodes')
    await harness.connectAll()
    const artifact = makeArtifact(2 * MiB, 256 * KiB)
    await seed.seed(artifact)

    await Promise.all([a, b].map(async (node) => node.download(artifact, { peers: () => [seed.id] })))

    await expectWhole(a, artifact)
    await expectWhole(b, artifact)
    const stats = seed.server?.stats()
    expect(stats?.bytesServed).toBe(2 * artifact.layout.size)
    expect(stats?.byPeer.get(a.id)).toBe(artifact.layout.size)
    expect(stats?.byPeer.get(b.id)).toBe(artifact.layout.size)
    // 4 MiB through a 256 KiB burst at 8 MiB/s must have waited.
    expect(stats?.throttledMs).toBeGreaterThan(0)
  })

  it('retries elsewhere when a peer never answers', async () => {
    const [seed, follower] = await harness.createNodes(2)
    const silent = await harness.createNode({ noServer: true })
    if (seed === undefined || follower === undefined) throw new Error('no nodes')
    const artifact = makeArtifact(2 * MiB, 256 * KiB)
    // Advertises every chunk, answers bitfields, never sends a chunk.
    await silent.libp2p.handle(CHUNKS_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try {
        while (true) {
          const request = decodeRequest(await lp.read())
          if (request.t === 'have') {
            await lp.write(encodeResponse({ t: 'have', root: artifact.root, bits: bitfieldOf(artifact.chunks.length, () => true) }))
          }
        }
      } catch {}
    })
    await harness.connectAll()
    await seed.seed(artifact)

    const events: DownloadProgress[] = []
    const result = await follower.download(artifact, {
      peers: () => [silent.id],
      lastResort: [seed.id],
      requestTimeoutMs: 2_000,
      onProgress: (event) => events.push(event)
    })

    await expectWhole(follower, artifact)
    expect(events.some((event) => event.type === 'chunk-failed' && event.peer === silent.id && event.reason === 'timeout')).toBe(true)
    expect(result.bytesByPeer.get(silent.id) ?? 0).toBe(0)
    expect(result.bytesByPeer.get(seed.id)).toBe(artifact.layout.size)
  })
})
