import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { APP_NAME_PATTERN, CanonicalEncodingError, MAX_ENVELOPE_BYTES, decodeCanonical, encodeCanonical } from '../trust/index.ts'
import { SYNC_PROTOCOL } from './constants.ts'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

const log = logger('mirage:overlay:sync')

/**
 * Catch-up for nodes that join or restart late (gossip is not storage).
 * One request per stream: `{ t: 'sync', app }`, with `members: true` to
 * get member announcements too (a node asks for them until it has had
 * them once: sent on every connect, they would cost n³ items as a swarm
 * forms); the server answers with
 * `{ t: 'item', kind, bytes }` frames (each a signed envelope exactly as it
 * was gossiped) and a final `{ t: 'end', count }`. The receiver validates
 * every item exactly as if it had arrived on gossip. See docs/PROTOCOL.md.
 */
export const SYNC_ITEM_KINDS = ['release', 'override', 'test-start', 'outcome', 'cluster-map', 'member'] as const
export type SyncItemKind = typeof SYNC_ITEM_KINDS[number]

export interface SyncItem { kind: SyncItemKind, bytes: Uint8Array }

/** Items one answer may carry: far above an app's releases and outcomes, and a bound on a hostile server. */
export const MAX_SYNC_ITEMS = 20_000
/** A request is tiny. */
export const MAX_SYNC_REQUEST_BYTES = 256
/** An item frame carries one envelope. */
export const MAX_SYNC_FRAME_BYTES = MAX_ENVELOPE_BYTES + 1024
/** Idle limit between frames: a stuck peer must not hold a catch-up forever. */
export const SYNC_IDLE_TIMEOUT_MS = 20_000

const requestSchema = z.strictObject({ t: z.literal('sync'), app: z.string().regex(APP_NAME_PATTERN), members: z.literal(true).optional() })

/** What a sync request asks for. */
export interface SyncRequest {
  app: string
  /** Member announcements too (they are left out unless asked for). */
  members: boolean
}
const frameSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('item'), kind: z.enum(SYNC_ITEM_KINDS), bytes: z.custom<Uint8Array>(v => v instanceof Uint8Array, 'bytes must be bytes') }),
  z.strictObject({ t: z.literal('end'), count: z.int().min(0).max(MAX_SYNC_ITEMS) })
])
export type SyncFrame = z.infer<typeof frameSchema>

/** Malformed or oversized sync traffic. */
export class SyncProtocolError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SyncProtocolError'
  }
}

export function encodeSyncRequest (app: string, options: { members?: boolean } = {}): Uint8Array {
  return encodeCanonical(requestSchema.parse({ t: 'sync', app, ...(options.members === true ? { members: true } : {}) }))
}

export function decodeSyncRequest (bytes: Uint8Array): SyncRequest {
  const request = decodeWith(bytes, MAX_SYNC_REQUEST_BYTES, requestSchema, 'sync request')
  return { app: request.app, members: request.members === true }
}

export function encodeSyncFrame (frame: SyncFrame): Uint8Array {
  return encodeCanonical(frame)
}

export function decodeSyncFrame (bytes: Uint8Array): SyncFrame {
  return decodeWith(bytes, MAX_SYNC_FRAME_BYTES, frameSchema, 'sync frame')
}

function decodeWith<T> (bytes: Uint8Array, max: number, schema: z.ZodType<T>, what: string): T {
  let value: unknown
  try {
    value = decodeCanonical(bytes, max, what)
  } catch (err) {
    if (!(err instanceof CanonicalEncodingError)) throw err
    throw new SyncProtocolError(err.message, { cause: err })
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new SyncProtocolError(`${what}: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
  return parsed.data
}

/** What a node serves: everything it persisted for an app (member announcements only when asked for). */
export type SyncSource = (request: SyncRequest) => AsyncIterable<SyncItem>

interface Registrar {
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
}

/** Serves sync requests from `source`; idempotent start/stop. */
export class SyncServer {
  readonly #registrar: Registrar
  readonly #source: SyncSource
  #started = false

  constructor (registrar: Registrar, source: SyncSource) {
    this.#registrar = registrar
    this.#source = source
  }

  async start (): Promise<void> {
    if (this.#started) return
    await this.#registrar.handle(SYNC_PROTOCOL, async (stream, connection) => {
      await this.#serve(stream).catch((err: unknown) => {
        log('sync for %p failed: %e', connection.remotePeer, err)
        stream.abort(err as Error)
      })
    }, { maxInboundStreams: 8 })
    this.#started = true
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    await this.#registrar.unhandle(SYNC_PROTOCOL)
    this.#started = false
  }

  async #serve (stream: Stream): Promise<void> {
    // The limit applies to what we read (the request); our own frames may be larger.
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_REQUEST_BYTES })
    const request = decodeSyncRequest((await lp.read({ signal: AbortSignal.timeout(SYNC_IDLE_TIMEOUT_MS) })).subarray())
    let count = 0
    for await (const item of this.#source(request)) {
      // Beyond the limit the answer is cut; the client still gets a valid `end` and later rounds go on.
      if (count >= MAX_SYNC_ITEMS) break
      await lp.write(encodeSyncFrame({ t: 'item', kind: item.kind, bytes: item.bytes }), { signal: AbortSignal.timeout(SYNC_IDLE_TIMEOUT_MS) })
      count++
    }
    await lp.write(encodeSyncFrame({ t: 'end', count }), { signal: AbortSignal.timeout(SYNC_IDLE_TIMEOUT_MS) })
    await stream.close({ signal: AbortSignal.timeout(SYNC_IDLE_TIMEOUT_MS) })
  }
}

interface Dialer {
  dialProtocol(peer: PeerId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
}

/**
 * Asks one peer for everything it has of `app` (with member announcements
 * when `options.members`), handing each item to `onItem` (which validates
 * it like gossip). Returns how many items came.
 */
export async function syncFromPeer (
  dialer: Dialer, peer: PeerId, app: string, onItem: (item: SyncItem) => Promise<void>, signal?: AbortSignal, options: { members?: boolean } = {}
): Promise<number> {
  const stream = await dialer.dialProtocol(peer, SYNC_PROTOCOL, { signal: signal ?? AbortSignal.timeout(SYNC_IDLE_TIMEOUT_MS) })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
    await lp.write(encodeSyncRequest(app, options), { signal: AbortSignal.timeout(SYNC_IDLE_TIMEOUT_MS) })
    for (let received = 0; received <= MAX_SYNC_ITEMS; received++) {
      const frame = decodeSyncFrame((await lp.read({ signal: AbortSignal.timeout(SYNC_IDLE_TIMEOUT_MS) })).subarray())
      if (frame.t === 'end') {
        if (frame.count !== received) throw new SyncProtocolError(`peer ${peer.toString()} announced ${frame.count} sync items but sent ${received}`)
        await stream.close().catch(() => {})
        return received
      }
      if (received === MAX_SYNC_ITEMS) break
      await onItem({ kind: frame.kind, bytes: frame.bytes })
    }
    throw new SyncProtocolError(`peer ${peer.toString()} sent more than ${MAX_SYNC_ITEMS} sync items`)
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
