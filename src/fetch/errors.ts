/**
 * Errors of the fetch area. Callers check `err.name`, not `instanceof`.
 */

/** Why a chunks-protocol stream to a peer was given up. */
export type ChunkChannelErrorReason =
  /** Opening the stream failed (dial, protocol negotiation). */
  | 'dial'
  /** The oldest outstanding request got no answer within the request timeout. */
  | 'timeout'
  /** The peer sent a frame that is not a valid answer to what was asked. */
  | 'protocol'
  /** The stream was reset, closed or failed underneath. */
  | 'stream'
  /** We closed or abandoned the stream ourselves. */
  | 'closed'

/** A request on a chunks-protocol stream failed; `peer` says to whom. */
export class ChunkChannelError extends Error {
  readonly reason: ChunkChannelErrorReason
  readonly peer: string

  constructor (reason: ChunkChannelErrorReason, peer: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ChunkChannelError'
    this.reason = reason
    this.peer = peer
  }
}

/** No progress was possible for the stall timeout: some chunks have no reachable holder. */
export class DownloadStalledError extends Error {
  /** Indexes of the chunks no remaining peer holds (all still-missing chunks if every one has a holder). */
  readonly missing: number[]
  /** How many chunks were still not stored. */
  readonly remaining: number

  constructor (missing: number[], remaining: number, stalledMs: number, options?: ErrorOptions) {
    const shown = missing.length > 20 ? `${missing.slice(0, 20).join(', ')}, … (${missing.length} in all)` : missing.join(', ')
    super(`download stalled for ${Math.round(stalledMs)} ms with ${remaining} chunks missing; no reachable peer holds chunk${missing.length === 1 ? '' : 's'} ${shown}`, options)
    this.name = 'DownloadStalledError'
    this.missing = missing
    this.remaining = remaining
  }
}

/** One chunk failed on every try (timeouts, bad bytes, stream errors) up to the attempt limit. */
export class ChunkAttemptsExhaustedError extends Error {
  readonly index: number
  readonly attempts: number

  constructor (index: number, attempts: number, lastError: string, options?: ErrorOptions) {
    super(`chunk ${index} failed ${attempts} times, giving up (last: ${lastError})`, options)
    this.name = 'ChunkAttemptsExhaustedError'
    this.index = index
    this.attempts = attempts
  }
}

/** The download was asked for something inconsistent (a layout that is not the root's). */
export class DownloadInitError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'DownloadInitError'
  }
}
