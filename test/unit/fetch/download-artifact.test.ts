/**
 * The downloader against real chunk servers over in-memory streams (no TCP):
 * spreading over peers, resume, bad peers, unresponsive peers, stalls,
 * aborts, and the seed asked only for what nobody else has.
 */
import { lpStream } from '@libp2p/utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DownloadInitError, downloadArtifact } from '../../../src/fetch/index.ts'
import type { DownloadInit, DownloadProgress } from '../../../src/fetch/index.ts'
import { bitfieldOf, decodeRequest, encodeResponse } from '../../../src/overlay/chunk-protocol.ts'
import type { ChunkStore } from '../../../src/content/index.ts'
import { FakeNetwork, MemoryChunkStore, makeArtifact, makePeerId } from './helpers.ts'
import type { FakePeer, TestArtifact } from './helpers.ts'
import type { PeerId, Stream } from '@libp2p/interface'

const CHUNK = 64 * 1024
let network: FakeNetwork
let artifact: TestArtifact
let me: PeerId

beforeEach(async () => {
  network = new FakeNetwork()
  artifact = makeArtifact(20 * CHUNK + 1234, CHUNK)
  me = await makePeerId()
})

afterEach(async () => {
  await network.stop()
})

/** A peer holding `indexes` of the artifact (all by default). */
async function holder (indexes?: number[], store?: MemoryChunkStore): Promise<FakePeer> {
  const peer = await network.addPeer({}, store)
  const held = indexes ?? artifact.chunks.map((_c, i) => i)
  for (const index of held) await peer.store.add(artifact.chunks[index] as Uint8Array)
  peer.source.serve(artifact, held)
  return peer
}

function init (store: ChunkStore, peers: string[], extra: Partial<DownloadInit> = {}): DownloadInit {
  return {
    root: artifact.root,
    layout: artifact.layout,
    store,
    dialer: network.dialer(me),
    peers: () => peers,
    self: me.toString(),
    ...extra
  }
}

async function expectWhole (store: MemoryChunkStore): Promise<void> {
  for (const [index, chunk] of artifact.chunks.entries()) {
    expect(await store.get(artifact.layout.chunks[index] as Uint8Array)).toEqual(chunk)
  }
}

describe('downloadArtifact', () => {
  it('fetches every chunk, verified, spread over the peers', async () => {
    const a = await holder()
    const b = await holder()
    const store = new MemoryChunkStore()
    const events: DownloadProgress[] = []
    const result = await downloadArtifact(init(store, [a.id.toString(), b.id.toString()], { onProgress: (e) => events.push(e) }))
    await expectWhole(store)
    expect(result.chunksFetched).toBe(artifact.chunks.length)
    expect(result.chunksAlreadyHeld).toBe(0)
    expect(result.droppedPeers).toEqual([])
    const total = [...result.bytesByPeer.values()].reduce((x, y) => x + y, 0)
    expect(total).toBe(artifact.layout.size)
    expect(result.bytesByPeer.get(a.id.toString())).toBeGreaterThan(0)
    expect(result.bytesByPeer.get(b.id.toString())).toBeGreaterThan(0)
    expect(events.filter((e) => e.type === 'chunk-stored')).toHaveLength(artifact.chunks.length)
    expect(events[0]).toEqual({ type: 'resumed', alreadyHeld: 0, total: artifact.chunks.length })
  })

  it('uses one stream for bitfields and keeps one for chunks per peer, for the whole download', async () => {
    const a = await holder()
    await downloadArtifact(init(new MemoryChunkStore(), [a.id.toString()]))
    expect(network.dials.get(a.id.toString())).toBe(2)
    await expect.poll(() => a.server.stats().activeStreams).toBe(0)
    expect(a.server.stats().streamsAborted).toBe(0)
  })

  it('resumes: chunks already in the store are verified and not fetched again', async () => {
    const a = await holder()
    const store = new MemoryChunkStore()
    const half = artifact.chunks.map((_c, i) => i).filter((i) => i % 2 === 0)
    for (const index of half) await store.add(artifact.chunks[index] as Uint8Array)
    const result = await downloadArtifact(init(store, [a.id.toString()]))
    expect(result.chunksAlreadyHeld).toBe(half.length)
    expect(result.chunksFetched).toBe(artifact.chunks.length - half.length)
    expect(store.puts).toBe(artifact.chunks.length - half.length)
    expect(a.server.stats().chunksServed).toBe(artifact.chunks.length - half.length)
    await expectWhole(store)
  })

  it('returns at once when everything is already held', async () => {
    const store = new MemoryChunkStore()
    for (const chunk of artifact.chunks) await store.add(chunk)
    const result = await downloadArtifact(init(store, []))
    expect(result).toMatchObject({ chunksFetched: 0, chunksAlreadyHeld: artifact.chunks.length })
  })

  it('drops a peer that serves bytes not matching the manifest, and still completes', async () => {
    const good = await holder()
    const liarStore = new MemoryChunkStore()
    const liar = await holder(undefined, liarStore)
    // Its store hands out tampered bytes of the right length.
    liarStore.get = async (digest) => {
      const bytes = Uint8Array.from(await MemoryChunkStore.prototype.get.call(liarStore, digest))
      bytes[0] = (bytes[0] ?? 0) ^ 0xff
      return bytes
    }
    const store = new MemoryChunkStore()
    const events: DownloadProgress[] = []
    const result = await downloadArtifact(init(store, [liar.id.toString(), good.id.toString()], {
      onProgress: (e) => events.push(e)
    }))
    await expectWhole(store)
    expect(result.droppedPeers).toEqual([liar.id.toString()])
    expect(events).toContainEqual(expect.objectContaining({ type: 'peer-dropped', peer: liar.id.toString(), reason: 'bad-chunk' }))
    expect(result.bytesByPeer.get(liar.id.toString()) ?? 0).toBe(0)
  })

  it('drops a peer that answers with an invalid frame', async () => {
    const good = await holder()
    const bad = await network.addCustomPeer(async (stream: Stream) => {
      const lp = lpStream(stream)
      try {
        while (true) {
          const request = decodeRequest(await lp.read())
          if (request.t === 'have') await lp.write(encodeResponse({ t: 'have', root: artifact.root, bits: bitfieldOf(artifact.chunks.length, () => true) }))
          else await lp.write(Uint8Array.from([0xff, 0xff, 0xff]))
        }
      } catch {
        stream.abort(new Error('done'))
      }
    })
    const store = new MemoryChunkStore()
    const result = await downloadArtifact(init(store, [bad.toString(), good.id.toString()]))
    await expectWhole(store)
    expect(result.droppedPeers).toEqual([bad.toString()])
  })

  it('asks a peer whose bitfield never changes for it less and less often', async () => {
    let asked = 0
    const empty = await network.addCustomPeer(async (stream: Stream) => {
      const lp = lpStream(stream)
      try {
        while (true) {
          const request = decodeRequest(await lp.read())
          if (request.t !== 'have') continue
          asked++
          await lp.write(encodeResponse({ t: 'have', root: artifact.root, bits: bitfieldOf(artifact.chunks.length, () => false) }))
        }
      } catch {}
    })
    // For a while the only candidate holds nothing, so the download is
    // starved: at the 250 ms refresh (100 ms when starved) it would ask about
    // ten times a second; backing off to 1 s it asks about once.
    const started = performance.now()
    let late: FakePeer | undefined
    const store = new MemoryChunkStore()
    await downloadArtifact(init(store, [], {
      peers: async () => {
        if (performance.now() - started < 3_000) return [empty.toString()]
        late ??= await holder()
        return [empty.toString(), late.id.toString()]
      }
    }))
    await expectWhole(store)
    const elapsedMs = performance.now() - started
    expect(elapsedMs).toBeGreaterThanOrEqual(3_000)
    // Backing off: 250, 500, then every 500 ms (half the 1 s cap when starved).
    expect(asked).toBeLessThanOrEqual(Math.ceil(elapsedMs / 400) + 2)
    expect(asked).toBeGreaterThanOrEqual(2)
  })

  it('keeps a `have` open at a peer that knows the artifact (long poll) and learns of its chunks when it answers', async () => {
    const asked: Array<number | undefined> = []
    const { promise: released, resolve: release } = Promise.withResolvers<void>()
    const peer = await network.addCustomPeer(async (stream: Stream) => {
      const lp = lpStream(stream)
      try {
        while (true) {
          const request = decodeRequest(await lp.read())
          if (request.t === 'get') {
            await lp.write(encodeResponse({ t: 'chunk', index: request.index, bytes: artifact.chunks[request.index] as Uint8Array }))
            continue
          }
          asked.push(request.wait)
          // Knows the artifact and holds nothing, until the test lets it have everything.
          if (request.wait !== undefined) await released
          const all = request.wait !== undefined
          await lp.write(encodeResponse({ t: 'have', root: artifact.root, bits: bitfieldOf(artifact.chunks.length, () => all) }))
        }
      } catch {}
    })
    const store = new MemoryChunkStore()
    const download = downloadArtifact(init(store, [peer.toString()]))
    await expect.poll(() => asked.length, { timeout: 10_000 }).toBe(2)
    // The first asks plainly; the next says what it saw, and is held: starved, the download asks nothing more meanwhile.
    expect(asked).toEqual([undefined, 0])
    release()
    await download
    await expectWhole(store)
    // A peer holding everything is not asked again.
    expect(asked).toEqual([undefined, 0])
  })

  it('retries elsewhere when a peer never answers for a chunk', async () => {
    const good = await holder()
    const silent = await network.addCustomPeer(async (stream: Stream) => {
      const lp = lpStream(stream)
      try {
        while (true) {
          const request = decodeRequest(await lp.read())
          // Advertises everything, answers bitfields, never sends a chunk.
          if (request.t === 'have') await lp.write(encodeResponse({ t: 'have', root: artifact.root, bits: bitfieldOf(artifact.chunks.length, () => true) }))
        }
      } catch {}
    })
    const store = new MemoryChunkStore()
    const events: DownloadProgress[] = []
    const result = await downloadArtifact(init(store, [silent.toString(), good.id.toString()], {
      requestTimeoutMs: 300,
      onProgress: (e) => events.push(e)
    }))
    await expectWhole(store)
    expect(events.some((e) => e.type === 'chunk-failed' && e.peer === silent.toString() && e.reason === 'timeout')).toBe(true)
    expect(result.bytesByPeer.get(silent.toString()) ?? 0).toBe(0)
    expect(result.bytesByPeer.get(good.id.toString())).toBe(artifact.layout.size)
  })

  it('works around peers that cannot be reached', async () => {
    const good = await holder()
    const gone = await holder()
    network.unreachable.add(gone.id.toString())
    const store = new MemoryChunkStore()
    const result = await downloadArtifact(init(store, [gone.id.toString(), 'not-a-peer', good.id.toString()]))
    await expectWhole(store)
    expect(result.bytesByPeer.get(good.id.toString())).toBe(artifact.layout.size)
  })

  it('fails naming the chunks nobody holds once no progress is possible', async () => {
    const partial = await holder([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19])
    const store = new MemoryChunkStore()
    const err = await downloadArtifact(init(store, [partial.id.toString()], { stallTimeoutMs: 300 })).then(
      () => { throw new Error('expected a stall') },
      (e: unknown) => e as Error & { missing: number[] }
    )
    expect(err.name).toBe('DownloadStalledError')
    expect(err.missing).toEqual([18, 20])
    expect(err.message).toContain('18, 20')
    // What could be fetched was kept for the next try.
    expect(store.puts).toBe(19)
  })

  it('asks the seed only for chunks no other candidate holds', async () => {
    const seed = await holder()
    const peer = await holder(artifact.chunks.map((_c, i) => i).filter((i) => i !== 7))
    const store = new MemoryChunkStore()
    const result = await downloadArtifact(init(store, [peer.id.toString(), seed.id.toString()], {
      lastResort: [seed.id.toString()]
    }))
    await expectWhole(store)
    expect(seed.server.stats().chunksServed).toBe(1)
    expect(result.bytesByPeer.get(seed.id.toString())).toBe(CHUNK)
  })

  it('pulls from the seed at full speed when it is the only source', async () => {
    const seed = await holder()
    const store = new MemoryChunkStore()
    const result = await downloadArtifact(init(store, [], { lastResort: [seed.id.toString()] }))
    await expectWhole(store)
    expect(result.bytesByPeer.get(seed.id.toString())).toBe(artifact.layout.size)
  })

  it('stops when aborted', async () => {
    const silent = await network.addCustomPeer(async () => {})
    const controller = new AbortController()
    const pending = downloadArtifact(init(new MemoryChunkStore(), [silent.toString()], { signal: controller.signal }))
    controller.abort(new Error('user stop'))
    await expect(pending).rejects.toThrow('user stop')
  })

  it('refuses a layout that is not the root', async () => {
    const other = makeArtifact(3 * CHUNK, CHUNK, 7)
    const err = await downloadArtifact({ ...init(new MemoryChunkStore(), []), layout: other.layout }).catch((e: unknown) => e as Error)
    expect(err).toBeInstanceOf(DownloadInitError)
  })
})
