/**
 * The requesting side of one chunks stream: pipelined requests matched to
 * answers in order, the request timeout, and answers that do not fit.
 */
import { lpStream, streamPair } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { ChunkChannel } from '../../../src/fetch/index.ts'
import { decodeRequest, encodeResponse } from '../../../src/overlay/chunk-protocol.ts'
import type { ChunkRequest, ChunkResponse } from '../../../src/overlay/chunk-protocol.ts'
import type { Stream } from '@libp2p/interface'

const root = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode('root')))
const other = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode('other')))

/** A channel whose far end answers each request with `answer(request)` (undefined: stay silent). */
async function channelTo (answer: (request: ChunkRequest) => ChunkResponse | Uint8Array | undefined, requestTimeoutMs = 5_000): Promise<{ channel: ChunkChannel, server: Stream, seen: ChunkRequest[] }> {
  const [client, server] = await streamPair({ delay: 0 })
  const seen: ChunkRequest[] = []
  void (async () => {
    const lp = lpStream(server)
    try {
      while (true) {
        const request = decodeRequest(await lp.read())
        seen.push(request)
        const response = answer(request)
        if (response instanceof Uint8Array) await lp.write(response)
        else if (response !== undefined) await lp.write(encodeResponse(response))
      }
    } catch {}
  })()
  const channel = new ChunkChannel(client, { peer: 'far', maxResponseBytes: 64 * 1024, maxOutstanding: 4, requestTimeoutMs })
  return { channel, server, seen }
}

describe('chunk channel', () => {
  it('pipelines requests and matches answers in order', async () => {
    const { channel, seen } = await channelTo((request) => request.t === 'have'
      ? { t: 'have', root: request.root, bits: Uint8Array.from([0xff]) }
      : { t: 'chunk', index: request.index, bytes: Uint8Array.from([request.index]) })
    const answers = await Promise.all([
      channel.request({ t: 'get', root, index: 3 }),
      channel.request({ t: 'have', root }),
      channel.request({ t: 'get', root, index: 1 })
    ])
    expect(answers).toEqual([
      { t: 'chunk', index: 3, bytes: Uint8Array.from([3]) },
      { t: 'have', root, bits: Uint8Array.from([0xff]) },
      { t: 'chunk', index: 1, bytes: Uint8Array.from([1]) }
    ])
    expect(seen).toHaveLength(3)
    expect(channel.pending).toBe(0)
    expect(channel.usable).toBe(true)
    await channel.close()
    expect(channel.usable).toBe(false)
  })

  it('fails every outstanding request when the oldest is not answered in time', async () => {
    const { channel, server } = await channelTo(() => undefined, 100)
    const first = channel.request({ t: 'get', root, index: 0 })
    const second = channel.request({ t: 'get', root, index: 1 })
    await expect(first).rejects.toMatchObject({ name: 'ChunkChannelError', reason: 'timeout', peer: 'far' })
    await expect(second).rejects.toMatchObject({ reason: 'timeout' })
    expect(channel.usable).toBe(false)
    await expect(channel.request({ t: 'have', root })).rejects.toMatchObject({ reason: 'timeout' })
    await expect.poll(() => server.status).not.toBe('open')
  })

  it('fails with protocol on an answer to something else', async () => {
    const cases: Array<(request: ChunkRequest) => ChunkResponse> = [
      (request) => ({ t: 'missing', index: request.t === 'get' ? request.index + 1 : 0 }),
      () => ({ t: 'have', root, bits: new Uint8Array(0) }),
    ]
    for (const answer of cases) {
      const { channel } = await channelTo(answer)
      await expect(channel.request({ t: 'get', root, index: 2 })).rejects.toMatchObject({ reason: 'protocol' })
    }
    const { channel } = await channelTo(() => ({ t: 'have', root: other, bits: new Uint8Array(0) }))
    await expect(channel.request({ t: 'have', root })).rejects.toMatchObject({ reason: 'protocol' })
  })

  it('fails with protocol on a malformed or oversized frame', async () => {
    const garbage = await channelTo(() => Uint8Array.from([0xff, 0x00]))
    await expect(garbage.channel.request({ t: 'get', root, index: 0 })).rejects.toMatchObject({ reason: 'protocol' })
    const huge = await channelTo((request) => ({ t: 'chunk', index: request.t === 'get' ? request.index : 0, bytes: new Uint8Array(64 * 1024 + 1) }))
    await expect(huge.channel.request({ t: 'get', root, index: 0 })).rejects.toMatchObject({ reason: 'protocol' })
  })

  it('fails with stream when the far end resets', async () => {
    const { channel, server } = await channelTo(() => undefined)
    const pending = channel.request({ t: 'get', root, index: 0 })
    await expect.poll(() => server.readBufferLength === 0).toBe(true)
    server.abort(new Error('gone'))
    await expect(pending).rejects.toMatchObject({ reason: 'stream' })
  })

  it('reports a failed dial as reason dial', async () => {
    const err = await ChunkChannel.open({ dial: async () => { throw new Error('no route') } }, {
      peer: 'far', maxResponseBytes: 1024, maxOutstanding: 1, requestTimeoutMs: 1000
    }, {}).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'ChunkChannelError', reason: 'dial', peer: 'far' })
  })
})
