/**
 * The requesting side of the chunks protocol on one stream: requests are
 * pipelined (sent without waiting for earlier answers) and matched to the
 * answers in order, so a peer's link never idles for a round trip between
 * chunks (DESIGN.md: the JS stack, not the wire, is the limit, so streams
 * are kept open and reused).
 *
 * The request timeout applies to the oldest outstanding request: when no
 * answer arrives for that long while requests wait, the stream is abandoned
 * and every outstanding request fails with a ChunkChannelError, for the
 * download to retry elsewhere. Any answer that does not match what was asked
 * fails the channel with reason `protocol`.
 */
import { lpStream } from '@libp2p/utils'
import { decodeResponse, encodeRequest } from '../overlay/chunk-protocol.ts'
import type { ChunkRequest, ChunkResponse } from '../overlay/chunk-protocol.ts'
import { CLOSE_TIMEOUT_MS } from './constants.ts'
import { ChunkChannelError } from './errors.ts'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { AbortOptions, Stream } from '@libp2p/interface'

/** Opens chunks-protocol streams; the node wraps `libp2p.dialProtocol`, tests pass fakes. */
export interface ChunkDialer {
  /** A new stream to `peer` speaking CHUNKS_PROTOCOL. */
  dial: (peer: string, options: AbortOptions) => Promise<Stream>
}

export interface ChunkChannelInit {
  /** The remote peer id (for errors and logs). */
  peer: string
  /** Largest answer accepted: the artifact's chunk size plus framing. */
  maxResponseBytes: number
  /** Requests the caller may keep outstanding at once (sizes the read buffer). */
  maxOutstanding: number
  /** How long the oldest outstanding request may go unanswered. */
  requestTimeoutMs: number
}

interface PendingRequest {
  request: ChunkRequest
  resolve: (response: ChunkResponse) => void
  reject: (err: Error) => void
}

export class ChunkChannel {
  readonly peer: string
  readonly #stream: Stream
  readonly #lp: LengthPrefixedStream<Stream>
  readonly #maxResponseBytes: number
  readonly #requestTimeoutMs: number
  readonly #queue: PendingRequest[] = []
  #pumping = false
  #failure: ChunkChannelError | undefined

  /** Dials `init.peer` and wraps the stream; a failed dial is a ChunkChannelError `dial`. */
  static async open (dialer: ChunkDialer, init: ChunkChannelInit, options: AbortOptions): Promise<ChunkChannel> {
    let stream: Stream
    try {
      stream = await dialer.dial(init.peer, options)
    } catch (err) {
      throw new ChunkChannelError('dial', init.peer, `cannot open a chunks stream to ${init.peer}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    }
    return new ChunkChannel(stream, init)
  }

  constructor (stream: Stream, init: ChunkChannelInit) {
    this.peer = init.peer
    this.#stream = stream
    this.#maxResponseBytes = init.maxResponseBytes
    this.#requestTimeoutMs = init.requestTimeoutMs
    // Answers arrive only for what we asked, so the read buffer needs room
    // for every outstanding answer (plus one for a `have`), and no more.
    this.#lp = lpStream(stream, {
      maxDataLength: init.maxResponseBytes,
      maxBufferSize: (init.maxOutstanding + 2) * (init.maxResponseBytes + 16)
    })
    stream.addEventListener('close', (event) => {
      if (this.#failure === undefined && (this.#queue.length > 0 || event.error != null)) {
        this.#fail(new ChunkChannelError('stream', this.peer, `chunks stream to ${this.peer} closed${event.error == null ? '' : `: ${event.error.message}`}`, { cause: event.error }))
      }
    }, { once: true })
  }

  /** Requests sent and not yet answered. */
  get pending (): number {
    return this.#queue.length
  }

  /** Whether new requests can be sent (not failed, and neither side has closed). */
  get usable (): boolean {
    const stream = this.#stream
    return this.#failure === undefined && stream.status === 'open' &&
      stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable'
  }

  /** Sends `request` now and resolves with its answer (validated to match it). */
  async request (request: ChunkRequest): Promise<ChunkResponse> {
    if (this.#failure !== undefined) throw this.#failure
    if (!this.usable) throw new ChunkChannelError('closed', this.peer, `chunks stream to ${this.peer} is no longer open`)
    const frame = encodeRequest(request)
    const { promise, resolve, reject } = Promise.withResolvers<ChunkResponse>()
    this.#queue.push({ request, resolve, reject })
    // `send` queues synchronously, so requests go out in call order even
    // when an earlier write is still waiting for the stream to drain.
    this.#lp.write(frame).catch((err: unknown) => {
      this.#fail(new ChunkChannelError('stream', this.peer, `cannot write to ${this.peer}: ${(err as Error)?.message ?? String(err)}`, { cause: err }))
    })
    if (!this.#pumping) void this.#pump()
    return promise
  }

  /** Closes gracefully (the server sees the end and closes its side); outstanding requests fail `closed`. */
  async close (): Promise<void> {
    if (this.#failure === undefined) {
      this.#failure = new ChunkChannelError('closed', this.peer, `chunks stream to ${this.peer} was closed`)
      this.#rejectAll(this.#failure)
    }
    if (this.#stream.status !== 'open') return
    try {
      await this.#stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) })
    } catch (err) {
      this.#stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Resets the stream; outstanding requests fail with `err`. */
  abort (err: ChunkChannelError): void {
    this.#fail(err)
  }

  /** Reads answers while requests are outstanding; one read timeout per answer. */
  async #pump (): Promise<void> {
    this.#pumping = true
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) {
        const timeout = AbortSignal.timeout(this.#requestTimeoutMs)
        let response: ChunkResponse
        try {
          const frame = await this.#lp.read({ signal: timeout })
          response = decodeResponse(frame, this.#maxResponseBytes)
        } catch (err) {
          if (this.#failure !== undefined) return
          if (timeout.aborted) {
            this.#fail(new ChunkChannelError('timeout', this.peer, `${this.peer} did not answer within ${this.#requestTimeoutMs} ms`, { cause: err }))
          } else if ((err as Error)?.name === 'ChunkProtocolError' || (err as Error)?.name === 'InvalidDataLengthError') {
            this.#fail(new ChunkChannelError('protocol', this.peer, `${this.peer} sent an invalid frame: ${(err as Error).message}`, { cause: err }))
          } else {
            this.#fail(new ChunkChannelError('stream', this.peer, `reading from ${this.peer} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }))
          }
          return
        }
        const head = this.#queue.shift()
        if (head === undefined) return
        const mismatch = mismatchOf(head.request, response)
        if (mismatch !== undefined) {
          const err = new ChunkChannelError('protocol', this.peer, `${this.peer} answered ${mismatch}`)
          head.reject(err)
          this.#fail(err)
          return
        }
        head.resolve(response)
      }
    } finally {
      this.#pumping = false
    }
  }

  #fail (err: ChunkChannelError): void {
    if (this.#failure !== undefined) return
    this.#failure = err
    this.#stream.abort(err)
    this.#rejectAll(err)
  }

  #rejectAll (err: Error): void {
    for (const pending of this.#queue.splice(0)) pending.reject(err)
  }
}

/** Why `response` is not an answer to `request`, or undefined if it is. */
function mismatchOf (request: ChunkRequest, response: ChunkResponse): string | undefined {
  if (request.t === 'have') {
    if (response.t !== 'have') return `'${response.t}' to a 'have' request`
    const same: boolean = response.root.equals(request.root)
    if (!same) return `'have' for ${response.root.toString()} when asked about ${request.root.toString()}`
    return undefined
  }
  if (response.t === 'have') return `'have' to a 'get' request`
  if (response.index !== request.index) return `chunk ${response.index} when asked for chunk ${request.index}`
  return undefined
}
