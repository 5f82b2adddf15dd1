/**
 * The chunk server against in-memory streams: many requests per stream,
 * pipelining, `missing` and unknown roots, graceful end, aborts on bad
 * frames, the idle timeout, the upload limiter and per-peer accounting.
 */
import { lpStream } from '@libp2p/utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { digestToHex } from '../../../src/content/index.ts'
import type { ChunkStore } from '../../../src/content/index.ts'
import {
  MAX_REQUEST_FRAME_BYTES, decodeResponse, encodeRequest, hasBit
} from '../../../src/overlay/chunk-protocol.ts'
import type { ChunkRequest, ChunkResponse } from '../../../src/overlay/chunk-protocol.ts'
import { createChunkServer } from '../../../src/overlay/chunk-server.ts'
import type { ChunkServer, ChunkServerInit } from '../../../src/overlay/chunk-server.ts'
import { createUploadLimiter } from '../../../src/overlay/upload-limiter.ts'
import {
  FakeRegistrar, MemoryChunkStore, TestSource, makeArtifact, makePeerId, openToServer, waitFor
} from '../fetch/helpers.ts'
import type { TestArtifact } from '../fetch/helpers.ts'
import type { PeerId, Stream } from '@libp2p/interface'

let registrar: FakeRegistrar
let store: MemoryChunkStore
let source: TestSource
let artifact: TestArtifact
let client: PeerId
const servers: ChunkServer[] = []

async function startServer (init: Partial<ChunkServerInit> = {}, serveFrom: ChunkStore = store): Promise<ChunkServer> {
  const server = createChunkServer({ registrar }, {
    source: {
      layout: (root) => source.layout(root),
      store: (root) => source.store(root) === undefined ? undefined : serveFrom,
      holds: (root, index) => source.holds(root, index)
    },
    ...init
  })
  servers.push(server)
  await server.start()
  return server
}

/** A client end that sends requests and reads answers in order. */
function clientOf (stream: Stream): { ask: (request: ChunkRequest) => Promise<void>, answer: () => Promise<ChunkResponse> } {
  const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
  return {
    ask: async (request) => { await lp.write(encodeRequest(request)) },
    answer: async () => decodeResponse(await lp.read())
  }
}

beforeEach(async () => {
  registrar = new FakeRegistrar()
  store = new MemoryChunkStore()
  source = new TestSource(store)
  artifact = makeArtifact(10 * 64 * 1024 + 100, 64 * 1024)
  for (const chunk of artifact.chunks) await store.add(chunk)
  source.serve(artifact, [0, 1, 2, 5, 10])
  client = await makePeerId()
})

afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (server) => { await server.stop() }))
})

describe('chunk server', () => {
  it('starts and stops idempotently', async () => {
    const server = await startServer()
    await server.start()
    expect(registrar.handles).toBe(1)
    expect(server.isStarted()).toBe(true)
    await server.stop()
    await server.stop()
    expect(registrar.unhandles).toBe(1)
    expect(server.isStarted()).toBe(false)
    await server.start()
    expect(registrar.handles).toBe(2)
  })

  it('answers many requests on one stream, in order, pipelined', async () => {
    const server = await startServer()
    const { client: stream, handled } = await openToServer(registrar, client)
    const c = clientOf(stream)
    await c.ask({ t: 'have', root: artifact.root })
    await c.ask({ t: 'get', root: artifact.root, index: 10 })
    await c.ask({ t: 'get', root: artifact.root, index: 3 })
    await c.ask({ t: 'get', root: artifact.root, index: 0 })

    const have = await c.answer()
    expect(have.t).toBe('have')
    if (have.t !== 'have') return
    expect(have.root.equals(artifact.root)).toBe(true)
    expect(have.bits.byteLength).toBe(2)
    expect([0, 1, 2, 5, 10].every((i) => hasBit(have.bits, i))).toBe(true)
    expect(hasBit(have.bits, 3)).toBe(false)

    const last = await c.answer()
    expect(last).toEqual({ t: 'chunk', index: 10, bytes: artifact.chunks[10] })
    expect(await c.answer()).toEqual({ t: 'missing', index: 3 })
    expect(await c.answer()).toEqual({ t: 'chunk', index: 0, bytes: artifact.chunks[0] })

    await stream.close()
    await handled
    const stats = server.stats()
    expect(stats.chunksServed).toBe(2)
    expect(stats.bitfieldsServed).toBe(1)
    expect(stats.bytesServed).toBe(100 + 64 * 1024)
    expect(stats.byPeer.get(client.toString())).toBe(100 + 64 * 1024)
    expect(stats.missing).toBe(1)
    expect(stats.streamsAborted).toBe(0)
    expect(stats.activeStreams).toBe(0)
  })

  it('answers empty bits for an unknown root and missing for its chunks', async () => {
    await startServer()
    const other = makeArtifact(70_000, 64 * 1024, 9)
    const { client: stream } = await openToServer(registrar, client)
    const c = clientOf(stream)
    await c.ask({ t: 'have', root: other.root })
    await c.ask({ t: 'get', root: other.root, index: 0 })
    await c.ask({ t: 'get', root: artifact.root, index: 999 })
    const have = await c.answer()
    expect(have.t === 'have' && have.bits.byteLength).toBe(0)
    expect(await c.answer()).toEqual({ t: 'missing', index: 0 })
    expect(await c.answer()).toEqual({ t: 'missing', index: 999 })
    await stream.close()
  })

  it('answers missing rather than serve a chunk its store refuses (corrupt on disk)', async () => {
    const failing: ChunkStore = Object.assign(Object.create(store) as ChunkStore, {
      get: async (digest: Uint8Array) => {
        const err = new Error(`chunk ${digestToHex(digest)} is corrupt on disk`)
        err.name = 'ChunkCorruptError'
        throw err
      }
    })
    const server = await startServer({}, failing)
    const { client: stream } = await openToServer(registrar, client)
    const c = clientOf(stream)
    await c.ask({ t: 'get', root: artifact.root, index: 1 })
    expect(await c.answer()).toEqual({ t: 'missing', index: 1 })
    expect(server.stats().bytesServed).toBe(0)
    await stream.close()
  })

  it('aborts the stream on a malformed request', async () => {
    const server = await startServer()
    const { client: stream, handled } = await openToServer(registrar, client)
    const lp = lpStream(stream)
    await lp.write(Uint8Array.from([0xa1, 0x61, 0x74]))
    await handled
    expect(server.stats().streamsAborted).toBe(1)
    await waitFor(() => stream.status !== 'open', 5000, 'the client end to see the reset')
  })

  it('aborts the stream on an oversized request frame, before reading it', async () => {
    const server = await startServer()
    const { client: stream, handled } = await openToServer(registrar, client)
    const lp = lpStream(stream)
    await lp.write(new Uint8Array(MAX_REQUEST_FRAME_BYTES + 1))
    await handled
    expect(server.stats().streamsAborted).toBe(1)
  })

  describe('a `have` with `wait` (long poll)', () => {
    /** The test source, plus a `changed` that records each hold for the test to release. */
    function holdingSource (): { waits: Array<{ count: number, release: () => void, signal: AbortSignal }>, init: Partial<ChunkServerInit> } {
      const waits: Array<{ count: number, release: () => void, signal: AbortSignal }> = []
      return {
        waits,
        init: {
          source: {
            layout: (root) => source.layout(root),
            store: (root) => source.store(root),
            holds: (root, index) => source.holds(root, index),
            changed: async (_root, count, signal) => {
              const { promise, resolve } = Promise.withResolvers<void>()
              waits.push({ count, release: resolve, signal })
              signal.addEventListener('abort', () => { resolve() }, { once: true })
              return promise
            }
          }
        }
      }
    }
    /** A server over the holding source, and a client stream to it. */
    async function holdingClient (init: Partial<ChunkServerInit> = {}): Promise<{ waits: Array<{ count: number, release: () => void, signal: AbortSignal }>, c: ReturnType<typeof clientOf>, stream: Stream, handled: Promise<void> }> {
      const holding = holdingSource()
      await startServer({ ...holding.init, ...init })
      const { client: stream, handled } = await openToServer(registrar, client)
      return { waits: holding.waits, c: clientOf(stream), stream, handled }
    }
    const bitsOf = (response: ChunkResponse): number[] => response.t === 'have'
      ? Array.from({ length: artifact.chunks.length }, (_, i) => i).filter((i) => hasBit(response.bits, i))
      : []

    it('holds the answer while the count is what the client saw, and answers with the news', async () => {
      const { waits, c, stream } = await holdingClient()
      await c.ask({ t: 'have', root: artifact.root, wait: 5 })
      await waitFor(() => waits.length === 1, 5000, 'the server to hold the request')
      expect(waits[0]?.count).toBe(5)
      source.serve(artifact, [3])
      waits[0]?.release()
      expect(bitsOf(await c.answer())).toEqual([0, 1, 2, 3, 5, 10])
      await stream.close()
    })

    it('answers at once when the count already differs, or without `wait`', async () => {
      const { waits, c, stream } = await holdingClient()
      await c.ask({ t: 'have', root: artifact.root, wait: 4 })
      await c.ask({ t: 'have', root: artifact.root })
      expect(bitsOf(await c.answer())).toEqual([0, 1, 2, 5, 10])
      expect(bitsOf(await c.answer())).toEqual([0, 1, 2, 5, 10])
      expect(waits).toHaveLength(0)
      await stream.close()
    })

    it('answers unchanged once the hold runs out', async () => {
      const { waits, c, stream } = await holdingClient({ haveHoldMs: 50 })
      await c.ask({ t: 'have', root: artifact.root, wait: 5 })
      expect(bitsOf(await c.answer())).toEqual([0, 1, 2, 5, 10])
      expect(waits).toHaveLength(1)
      expect((waits[0]?.signal.reason as Error).name).toBe('TimeoutError')
      await stream.close()
    })

    it('lets a held request go as soon as the client closes its side', async () => {
      const { waits, c, stream, handled } = await holdingClient()
      await c.ask({ t: 'have', root: artifact.root, wait: 5 })
      await waitFor(() => waits.length === 1, 5000, 'the server to hold the request')
      await stream.close()
      await handled
      // Let go because the stream ended, not because the hold ran out.
      expect((waits[0]?.signal.reason as Error).name).toBe('AbortError')
    })
  })

  it('closes a stream that stays idle past the idle timeout', async () => {
    const server = await startServer({ idleTimeoutMs: 100 })
    const { client: stream, handled } = await openToServer(registrar, client)
    const c = clientOf(stream)
    await c.ask({ t: 'get', root: artifact.root, index: 0 })
    expect((await c.answer()).t).toBe('chunk')
    await handled
    expect(server.stats().streamsAborted).toBe(0)
    await waitFor(() => stream.remoteWriteStatus !== 'writable', 5000, 'the server to close its end')
  })

  it('takes every chunk through the shared upload limiter and counts bytes per peer', async () => {
    const limiter = createUploadLimiter({ bytesPerSecond: 1024 * 1024, burstBytes: 64 * 1024 })
    const server = await startServer({ limiter })
    const other = await makePeerId()
    const a = await openToServer(registrar, client)
    const b = await openToServer(registrar, other)
    const ca = clientOf(a.client)
    const cb = clientOf(b.client)
    for (const index of [0, 1, 2]) await ca.ask({ t: 'get', root: artifact.root, index })
    for (const index of [5, 10]) await cb.ask({ t: 'get', root: artifact.root, index })
    for (let i = 0; i < 3; i++) expect((await ca.answer()).t).toBe('chunk')
    for (let i = 0; i < 2; i++) expect((await cb.answer()).t).toBe('chunk')
    const limits = limiter.stats()
    expect(limits.takes).toBe(5)
    expect(limits.bytes).toBe(4 * 64 * 1024 + 100)
    // Five chunks through a 64 KiB burst at 1 MiB/s: all but the first wait.
    expect(limits.throttled).toBeGreaterThanOrEqual(3)
    const stats = server.stats()
    expect(stats.byPeer.get(client.toString())).toBe(3 * 64 * 1024)
    expect(stats.byPeer.get(other.toString())).toBe(64 * 1024 + 100)
    expect(stats.throttledMs).toBeGreaterThan(0)
    await a.client.close()
    await b.client.close()
  })

  it('builds its own limiter from uploadBytesPerSecond', async () => {
    const server = await startServer({ uploadBytesPerSecond: 2 * 1024 * 1024, uploadBurstBytes: 1 })
    const { client: stream } = await openToServer(registrar, client)
    const c = clientOf(stream)
    for (const index of [0, 1]) await c.ask({ t: 'get', root: artifact.root, index })
    for (let i = 0; i < 2; i++) expect((await c.answer()).t).toBe('chunk')
    expect(server.stats().throttledMs).toBeGreaterThan(0)
    await stream.close()
  })

  it('reads a chunk asked for repeatedly from its store once (a small cache of verified chunks)', async () => {
    let reads = 0
    const counting: ChunkStore = Object.assign(Object.create(store) as ChunkStore, {
      get: async (digest: Uint8Array) => {
        reads++
        return store.get(digest)
      }
    })
    await startServer({ cacheBytes: 2 * 64 * 1024 }, counting)
    const { client: stream } = await openToServer(registrar, client)
    const c = clientOf(stream)
    for (const index of [0, 0, 1, 0, 2, 2, 1, 0]) await c.ask({ t: 'get', root: artifact.root, index })
    for (const index of [0, 0, 1, 0, 2, 2, 1, 0]) expect(await c.answer()).toEqual({ t: 'chunk', index, bytes: artifact.chunks[index] })
    // Room for two chunks, least recently used out first: 0 read, 0 hit, 1
    // read, 0 hit, 2 read (1 out), 2 hit, 1 read (0 out), 0 read.
    expect(reads).toBe(5)
    await stream.close()
  })

  it('reads every time with the cache disabled', async () => {
    let reads = 0
    const counting: ChunkStore = Object.assign(Object.create(store) as ChunkStore, {
      get: async (digest: Uint8Array) => {
        reads++
        return store.get(digest)
      }
    })
    await startServer({ cacheBytes: 0 }, counting)
    const { client: stream } = await openToServer(registrar, client)
    const c = clientOf(stream)
    for (let i = 0; i < 3; i++) await c.ask({ t: 'get', root: artifact.root, index: 0 })
    for (let i = 0; i < 3; i++) expect((await c.answer()).t).toBe('chunk')
    expect(reads).toBe(3)
    await stream.close()
  })

  it('aborts open streams when stopped', async () => {
    const server = await startServer()
    const { client: stream, handled } = await openToServer(registrar, client)
    const c = clientOf(stream)
    await c.ask({ t: 'get', root: artifact.root, index: 0 })
    await c.answer()
    expect(server.stats().activeStreams).toBe(1)
    await server.stop()
    await handled
    await waitFor(() => stream.status !== 'open', 5000, 'the client end to see the reset')
  })

  it('refuses streams while stopped', async () => {
    const server = await startServer()
    const handler = registrar.handler
    await server.stop()
    const { client: stream } = await (async () => {
      registrar.handler = handler
      return openToServer(registrar, client)
    })()
    await waitFor(() => stream.status !== 'open', 5000, 'the stream to be refused')
  })
})
