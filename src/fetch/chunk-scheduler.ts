/**
 * Which chunk to ask of which peer: the pure part of a download (no I/O, no
 * timers; time is passed in), so its policy can be tested exhaustively.
 *
 * Policy (DESIGN.md, "Wire and storage"; BitTorrent's rarest-first):
 * - Chunks are taken rarest-first among the *regular* peers' bitfields, ties
 *   broken by a random permutation fixed per download, so followers starting
 *   together spread over different chunks and soon have something to trade.
 * - A *last-resort* peer (the vendor's seed) is asked only for a chunk no
 *   usable regular peer holds, or whose regular holders all failed it: while
 *   a regular holder is merely busy (or backing off), the chunk waits for it.
 * - Followers that start together split the chunks only the seed has (with
 *   `self`): each asks the seed for its own share (rendezvous hashing of
 *   peer ids and chunk indexes, see `shareOwner`), and waits for the
 *   others' owners to advertise theirs unless the swarm goes quiet. Without the split, followers picking seed
 *   chunks at random asked for the same ones at once and the seed uploaded
 *   2–3 copies of a 32 MiB artifact to 10 followers (bench/fetch.bench.ts);
 *   with it, about one.
 * - Each peer has a bound on requests in flight; a failed chunk goes back to
 *   the pool, avoiding the peers that failed it; when every holder has failed
 *   it, they all become eligible again after a backoff; attempts are bounded.
 */
import { hasBit } from '../overlay/chunk-protocol.ts'

export interface ChunkSchedulerInit {
  /** Chunks in the artifact. */
  chunkCount: number
  /** Requests in flight per regular peer. */
  maxInFlightPerPeer: number
  /**
   * Requests in flight per last-resort peer while some regular peer knows
   * the artifact (other followers to trade with); with none, a last-resort
   * peer is the only source and gets `maxInFlightPerPeer`.
   */
  maxInFlightLastResort: number
  /** Failures after which a chunk is reported exhausted. */
  maxAttemptsPerChunk: number
  /** Wait before retrying a chunk all of whose holders failed it; doubled per failure. */
  retryBackoffMs: number
  /** Cap of that backoff. */
  retryBackoffMaxMs: number
  /**
   * How long this node must have had nothing in flight to regular peers,
   * and seen no peer advertise a new chunk, before it asks the seed for a
   * chunk in another follower's share (that follower is normally fetching
   * it; asking too would cost the seed a second copy). Only matters with
   * `self`.
   */
  shareGraceMs: number
  /**
   * How long after the download first made progress a peer that knows the
   * artifact, but was not seen gaining a chunk, still counts as a follower
   * whose share of the seed's chunks is left to it.
   */
  joinGraceMs: number
  /**
   * This node's own peer id. With it, followers that start together split
   * the chunks only the seed holds (`shareOwner`): each asks the seed for
   * its own share first, so the seed's first copies go to different
   * followers, who then trade them.
   */
  self?: string
  /** Random source in [0, 1) for tie-breaks (tests inject a seeded one). */
  random?: () => number
}

/** Ask `peer` for chunk `index`. */
export interface Assignment {
  peer: string
  index: number
}

export interface AssignResult {
  assignments: Assignment[]
  /**
   * A regular peer could take a request and some chunk is still needed,
   * yet nothing was assigned: bitfields (or the peer list) are probably stale.
   */
  starved: boolean
}

export interface FailResult {
  /** The chunk has now failed `maxAttemptsPerChunk` times. */
  exhausted: boolean
  attempts: number
}

const NEEDED = 0
const IN_FLIGHT = 1
const STORING = 2
const HELD = 3

export type ChunkState = 'needed' | 'in-flight' | 'storing' | 'held'
const STATE_NAMES: readonly ChunkState[] = ['needed', 'in-flight', 'storing', 'held']

interface PeerState {
  readonly id: string
  lastResort: boolean
  bits: Uint8Array | undefined
  inFlight: number
  dropped: boolean
  /** Whether the peer can take requests now (the I/O side has a stream to it). */
  ready: boolean
  /** No new requests before this time (ms). */
  notBefore: number
  /** The peer's bitfield has grown since we first saw it: it is downloading too. */
  gaining: boolean
  /** When the peer first answered with a non-empty bitfield (it knows the artifact). */
  knownSince: number | undefined
  /** When the peer became a candidate (ms). */
  addedAt: number
}

export class ChunkScheduler {
  readonly chunkCount: number
  readonly #maxInFlightPerPeer: number
  readonly #maxInFlightLastResort: number
  readonly #maxAttempts: number
  readonly #retryBackoffMs: number
  readonly #retryBackoffMaxMs: number
  readonly #shareGraceMs: number
  readonly #joinGraceMs: number
  /** Since when nothing has been in flight to regular peers (undefined while something is). */
  #idleSince: number | undefined
  /** When a regular peer last advertised a chunk it did not have before. */
  #swarmProgressAt = -Infinity
  /** About when the download first made progress (a chunk stored here, or a peer gaining one). */
  #progressSince: number | undefined
  /** Chunks stored by this download. */
  #stored = 0
  readonly #random: () => number
  readonly #self: string | undefined
  readonly #state: Uint8Array
  /** Regular, not-dropped peers whose bitfield has the chunk. */
  readonly #availability: Uint32Array
  readonly #attempts: Uint32Array
  /** Chunk not to be assigned before this time (ms). */
  readonly #notBefore: Float64Array
  /** Peer a chunk is in flight from (or being stored from). */
  readonly #source: Array<string | undefined>
  /** Peers that failed a chunk since it was last reset. */
  readonly #failedBy = new Map<number, Set<string>>()
  /** Chunk indexes in a random order: the tie-break among equally rare chunks. */
  readonly #order: Uint32Array
  readonly #peers = new Map<string, PeerState>()
  /** The split of the seed-only chunks for the current swarm (cached per swarm). */
  #share: (Share & { key: string }) | undefined
  /** Chunks of other followers' shares the last `assign` left for their owners. */
  #deferred = 0
  #held = 0
  #inFlight = 0
  #storing = 0

  constructor (init: ChunkSchedulerInit) {
    const count = init.chunkCount
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`chunkCount must be a positive integer, got ${count}`)
    this.chunkCount = count
    this.#maxInFlightPerPeer = Math.max(1, init.maxInFlightPerPeer)
    this.#maxInFlightLastResort = Math.max(1, init.maxInFlightLastResort)
    this.#maxAttempts = Math.max(1, init.maxAttemptsPerChunk)
    this.#retryBackoffMs = init.retryBackoffMs
    this.#retryBackoffMaxMs = init.retryBackoffMaxMs
    this.#shareGraceMs = init.shareGraceMs
    this.#joinGraceMs = init.joinGraceMs
    this.#random = init.random ?? Math.random
    this.#self = init.self
    this.#state = new Uint8Array(count)
    this.#availability = new Uint32Array(count)
    this.#attempts = new Uint32Array(count)
    this.#notBefore = new Float64Array(count)
    this.#source = new Array<string | undefined>(count).fill(undefined)
    this.#order = new Uint32Array(count)
    for (let i = 0; i < count; i++) this.#order[i] = i
    shuffle(this.#order, this.#random)
  }

  // -- chunks ---------------------------------------------------------------

  get held (): number { return this.#held }
  get inFlight (): number { return this.#inFlight }
  get storing (): number { return this.#storing }
  get complete (): boolean { return this.#held === this.chunkCount }
  /** Chunks neither held, in flight nor being stored. */
  get needed (): number { return this.chunkCount - this.#held - this.#inFlight - this.#storing }

  stateOf (index: number): ChunkState {
    return STATE_NAMES[this.#state[this.#checkIndex(index)] ?? NEEDED] ?? 'needed'
  }

  attemptsOf (index: number): number {
    return this.#attempts[this.#checkIndex(index)] ?? 0
  }

  /** A chunk already in the store (resume): never requested. */
  markHeld (index: number): void {
    this.#checkIndex(index)
    const state = this.#state[index]
    if (state === HELD) return
    if (state !== NEEDED) throw new Error(`chunk ${index} is ${this.stateOf(index)}, cannot mark it held`)
    this.#state[index] = HELD
    this.#held++
  }

  /** The response for an in-flight chunk arrived: the peer's slot is free while the bytes are verified and stored. */
  received (peer: string, index: number): void {
    this.#expect(index, IN_FLIGHT, peer)
    this.#state[index] = STORING
    this.#inFlight--
    this.#storing++
    const state = this.#peers.get(peer)
    if (state !== undefined) state.inFlight--
  }

  /** The chunk is verified and stored. */
  stored (peer: string, index: number): void {
    this.#expect(index, STORING, peer)
    this.#stored++
    this.#state[index] = HELD
    this.#source[index] = undefined
    this.#storing--
    this.#held++
    this.#failedBy.delete(index)
  }

  /**
   * An attempt from `peer` failed (timeout, stream error, bad bytes): the
   * chunk is needed again and `peer` is avoided for it; once every holder
   * has failed it, all become eligible again after a backoff.
   */
  fail (peer: string, index: number, now: number): FailResult {
    this.#release(peer, index)
    const attempts = (this.#attempts[index] ?? 0) + 1
    this.#attempts[index] = attempts
    let failed = this.#failedBy.get(index)
    if (failed === undefined) {
      failed = new Set()
      this.#failedBy.set(index, failed)
    }
    failed.add(peer)
    if (!this.#hasUnfailedHolder(index, failed, true)) {
      this.#failedBy.delete(index)
      this.#notBefore[index] = now + Math.min(this.#retryBackoffMaxMs, this.#retryBackoffMs * 2 ** (attempts - 1))
    }
    return { exhausted: attempts >= this.#maxAttempts, attempts }
  }

  /**
   * The peer answered `missing` for a chunk it advertised: it is needed
   * again (no attempt counted) and the peer no longer counts as its holder
   * until its next bitfield says so.
   */
  missing (peer: string, index: number): void {
    this.#release(peer, index)
    const state = this.#peers.get(peer)
    if (state?.bits !== undefined && hasBit(state.bits, index)) {
      const bits = state.bits.slice()
      bits[index >> 3] = (bits[index >> 3] ?? 0) & ~(0x80 >> (index & 7))
      this.setHave(peer, bits)
    }
  }

  /** Needed chunks that no peer still in the download (regular or last resort) holds, in index order. */
  unavailable (): number[] {
    const out: number[] = []
    for (let i = 0; i < this.chunkCount; i++) {
      if (this.#state[i] !== NEEDED) continue
      if ((this.#availability[i] ?? 0) > 0) continue
      let lastResortHolds = false
      for (const peer of this.#peers.values()) {
        if (peer.lastResort && !peer.dropped && peer.bits !== undefined && hasBit(peer.bits, i)) {
          lastResortHolds = true
          break
        }
      }
      if (!lastResortHolds) out.push(i)
    }
    return out
  }

  /** Chunks not yet held, in index order. */
  remaining (): number[] {
    const out: number[] = []
    for (let i = 0; i < this.chunkCount; i++) if (this.#state[i] !== HELD) out.push(i)
    return out
  }

  // -- peers ----------------------------------------------------------------

  /** Adds a candidate; a peer already known keeps its state (and becomes last resort if asked). */
  addPeer (id: string, options: { lastResort?: boolean, now?: number } = {}): void {
    const existing = this.#peers.get(id)
    if (existing !== undefined) {
      if (options.lastResort === true && !existing.lastResort) {
        this.#adjustAvailability(existing, -1)
        existing.lastResort = true
      }
      return
    }
    this.#peers.set(id, { id, lastResort: options.lastResort === true, bits: undefined, inFlight: 0, dropped: false, ready: true, notBefore: 0, gaining: false, knownSince: undefined, addedAt: options.now ?? -Infinity })
  }

  hasPeer (id: string): boolean {
    return this.#peers.has(id)
  }

  isDropped (id: string): boolean {
    return this.#peers.get(id)?.dropped === true
  }

  isLastResort (id: string): boolean {
    return this.#peers.get(id)?.lastResort === true
  }

  /** Requests in flight to `id`. */
  inFlightOf (id: string): number {
    return this.#peers.get(id)?.inFlight ?? 0
  }

  /** Whether the peer's latest bitfield has chunk `index`. */
  holds (id: string, index: number): boolean {
    const bits = this.#peers.get(id)?.bits
    return bits !== undefined && hasBit(bits, index)
  }

  /**
   * Replaces the peer's bitfield (already validated for this artifact; empty
   * means it holds nothing). A regular peer that gained chunks is the swarm
   * making progress, which `now` records (see `shareGraceMs`).
   */
  setHave (id: string, bits: Uint8Array, now?: number): void {
    const peer = this.#peers.get(id)
    if (peer === undefined || peer.dropped) return
    if (!peer.lastResort) {
      if (bits.byteLength > 0) peer.knownSince ??= now ?? -Infinity
      if (peer.bits !== undefined && gained(peer.bits, bits)) {
        peer.gaining = true
        if (now !== undefined) {
          this.#swarmProgressAt = Math.max(this.#swarmProgressAt, now)
          this.#progressSince ??= now
        }
      }
      this.#adjustAvailability(peer, -1)
    }
    peer.bits = bits
    if (!peer.lastResort) this.#adjustAvailability(peer, +1)
  }

  /** Whether the peer can take requests now (default true; false while it has no open stream). */
  setReady (id: string, ready: boolean): void {
    const peer = this.#peers.get(id)
    if (peer !== undefined) peer.ready = ready
  }

  /** The peer gets no new requests before `until` (its in-flight ones are the caller's to fail). */
  backOff (id: string, until: number): void {
    const peer = this.#peers.get(id)
    if (peer !== undefined) peer.notBefore = Math.max(peer.notBefore, until)
  }

  /** The peer is out of this download for good; its in-flight chunks are the caller's to fail. */
  dropPeer (id: string): void {
    const peer = this.#peers.get(id)
    if (peer === undefined || peer.dropped) return
    if (!peer.lastResort) this.#adjustAvailability(peer, -1)
    peer.dropped = true
  }

  /** Earliest future time at which a backoff ends (so the caller can wake then), or undefined. */
  nextWakeAt (now: number): number | undefined {
    let next = Infinity
    for (const peer of this.#peers.values()) {
      if (!peer.dropped && peer.notBefore > now) next = Math.min(next, peer.notBefore)
    }
    for (let i = 0; i < this.chunkCount; i++) {
      const at = this.#notBefore[i] ?? 0
      if (this.#state[i] === NEEDED && at > now) next = Math.min(next, at)
    }
    const graceEnds = this.#graceEndsAt()
    if (this.#deferred > 0 && graceEnds !== undefined && graceEnds > now) next = Math.min(next, graceEnds)
    // A provisional swarm member that never gains drops out, and a candidate
    // that never answers stops holding the shares back: the shares change then.
    for (const peer of this.#peers.values()) {
      if (peer.lastResort || peer.dropped || peer.gaining) continue
      if (peer.bits === undefined && peer.addedAt + this.#shareGraceMs > now) next = Math.min(next, peer.addedAt + this.#shareGraceMs)
      const expires = this.#provisionalUntil(peer)
      if (expires !== undefined && expires > now) next = Math.min(next, expires)
    }
    return next === Infinity ? undefined : next
  }

  // -- the decision ---------------------------------------------------------

  /**
   * Fills free request slots, rarest chunk first, at most `limit` new
   * requests. Marks the returned chunks in flight.
   *
   * Chunks only a last-resort peer holds: with a share (see `self`), this
   * node's share is asked of the seed at full depth, and other followers'
   * shares only once nothing has been in flight to regular peers, and no
   * peer advertised a new chunk, for `shareGraceMs` (their owners are
   * fetching them; asking too would be a second copy from the seed).
   * Without `self` there is no split: they are asked at random,
   * `maxInFlightLastResort` at a time while other peers know the artifact,
   * at full depth when the seed is the only source.
   */
  assign (now: number, limit = Infinity): AssignResult {
    const assignments: Assignment[] = []
    const share = this.share(now)
    // Full depth from the seed for this node's share, or when it is alone
    // (with `self` and no swarm member). Without `self` there is no split:
    // seed-only chunks are picked at random, `maxInFlightLastResort` at a
    // time while other peers know the artifact.
    const ownCap = share !== undefined || this.#self !== undefined || !this.#hasSwarm()
      ? this.#maxInFlightPerPeer
      : this.#maxInFlightLastResort
    const otherCap = this.#maxInFlightLastResort
    const lastResortCap = Math.max(ownCap, otherCap)
    const regular: PeerState[] = []
    const lastResort: PeerState[] = []
    for (const peer of this.#peers.values()) {
      if (peer.dropped || !peer.ready || peer.bits === undefined || peer.notBefore > now) continue
      if (peer.lastResort) {
        if (peer.inFlight < lastResortCap) lastResort.push(peer)
      } else if (peer.inFlight < this.#maxInFlightPerPeer) {
        regular.push(peer)
      }
    }
    if (limit <= 0 || this.needed === 0 || (regular.length === 0 && lastResort.length === 0)) {
      return { assignments, starved: false }
    }
    // Only an idle *regular* peer makes this starvation: the seed waiting
    // while regular holders are busy is the policy working.
    const regularFree = regular.length > 0
    // Random order among peers, so equally loaded holders share the work.
    shuffle(regular, this.#random)
    shuffle(lastResort, this.#random)

    const take = (index: number, holder: PeerState, pool: PeerState[], cap: number): void => {
      this.#state[index] = IN_FLIGHT
      this.#source[index] = holder.id
      this.#inFlight++
      holder.inFlight++
      if (holder.inFlight >= cap) pool.splice(pool.indexOf(holder), 1)
      assignments.push({ peer: holder.id, index })
    }

    // Candidates bucketed by rarity (a counting sort), each bucket in the
    // download's random order: O(chunks + peers) per call. Among chunks no
    // regular peer holds, this node's share comes first (rarity -1).
    const buckets = new Map<number, number[]>()
    let maxRarity = 0
    for (const index of this.#order) {
      if (this.#state[index] !== NEEDED || (this.#notBefore[index] ?? 0) > now) continue
      let rarity = this.#availability[index] ?? 0
      if (rarity === 0 && share?.owns(index) === true) rarity = -1
      let bucket = buckets.get(rarity)
      if (bucket === undefined) {
        bucket = []
        buckets.set(rarity, bucket)
      }
      bucket.push(index)
      if (rarity > maxRarity) maxRarity = rarity
    }

    /** Other followers' shares of the seed-only chunks, asked only if this node turns out idle. */
    const deferred: number[] = []
    outer:
    for (let rarity = -1; rarity <= maxRarity; rarity++) {
      for (const index of buckets.get(rarity) ?? []) {
        if (assignments.length >= limit || (regular.length === 0 && lastResort.length === 0)) break outer
        const failed = this.#failedBy.get(index)
        const holder = pickHolder(regular, index, failed, this.#maxInFlightPerPeer)
        if (holder !== undefined) {
          take(index, holder, regular, this.#maxInFlightPerPeer)
          continue
        }
        // The seed only for a chunk no usable regular peer holds: a busy
        // regular holder is waited for, not bypassed.
        if (rarity > 0 && this.#hasUnfailedHolder(index, failed, false)) continue
        // Nobody else holds it: another follower's share waits for its owner.
        // (A chunk whose regular holders failed goes to the seed.)
        if (share !== undefined && rarity === 0) {
          deferred.push(index)
          continue
        }
        const seed = pickHolder(lastResort, index, failed, ownCap)
        if (seed !== undefined) take(index, seed, lastResort, lastResortCap)
      }
    }

    if (this.#regularInFlight() > 0) this.#idleSince = undefined
    else this.#idleSince ??= now
    this.#deferred = deferred.length
    const graceEnds = this.#graceEndsAt()
    if (deferred.length > 0 && graceEnds !== undefined && now >= graceEnds) {
      for (const index of deferred) {
        if (assignments.length >= limit || lastResort.length === 0) break
        const seed = pickHolder(lastResort, index, this.#failedBy.get(index), otherCap)
        if (seed !== undefined) take(index, seed, lastResort, lastResortCap)
      }
    }
    return { assignments, starved: assignments.length === 0 && regularFree }
  }

  /**
   * This node's part of the seed-only chunks, split among the swarm (itself
   * and the regular peers downloading the artifact) by `shareOwner`;
   * undefined without `self` or without other members. A peer counts once
   * seen gaining chunks, and provisionally while it knows the artifact but
   * holds nothing yet (followers starting together), until a grace period
   * after the download starts making progress: a node may know a release's
   * layout long before its stage lets it download, and waiting on its share
   * for good would stall the others.
   */
  share (now: number): Share | undefined {
    const self = this.#self
    if (self === undefined) return undefined
    if (this.#stored > 0) this.#progressSince ??= now
    const members = [self]
    for (const peer of this.#peers.values()) {
      if (peer.lastResort || peer.dropped || peer.id === self) continue
      // Followers starting together must agree on the swarm before claiming
      // their shares: wait (a little) for every candidate's first bitfield.
      if (peer.bits === undefined && now - peer.addedAt < this.#shareGraceMs) return PENDING
      const expires = this.#provisionalUntil(peer)
      if (peer.gaining || (expires !== undefined && now < expires)) members.push(peer.id)
    }
    if (members.length < 2) return undefined
    members.sort()
    const key = members.join('\n')
    if (this.#share?.key !== key) {
      // Recomputed only when the swarm changes: O(chunks × members).
      const owned = new Uint8Array(this.chunkCount)
      for (let index = 0; index < this.chunkCount; index++) owned[index] = shareOwner(members, index) === self ? 1 : 0
      this.#share = { key, members: members.length, owns: (index) => owned[index] === 1 }
    }
    return this.#share
  }

  // -- internals --------------------------------------------------------------

  /**
   * Until when a peer that knows the artifact but was not yet seen gaining a
   * chunk still counts as a swarm member: `joinGraceMs` after it showed up
   * or after the download first made progress, whichever is later. The
   * clock waits for progress because on a loaded machine the seed's first
   * chunks can take seconds to reach everyone.
   */
  #provisionalUntil (peer: PeerState): number | undefined {
    if (peer.knownSince === undefined) return undefined
    return Math.max(peer.knownSince, this.#progressSince ?? Infinity) + this.#joinGraceMs
  }

  /** Whether some regular peer knows the artifact (a non-empty bitfield): maybe other followers to trade with. */
  #hasSwarm (): boolean {
    for (const peer of this.#peers.values()) {
      if (!peer.lastResort && !peer.dropped && peer.bits !== undefined && peer.bits.byteLength > 0) return true
    }
    return false
  }

  /**
   * When this node may ask the seed for other followers' shares: once it has
   * had nothing in flight to regular peers, and the swarm has advertised no
   * new chunk, for `shareGraceMs`. Progress-based, so a loaded machine where
   * the seed's first copy takes long does not read as dead owners.
   */
  #graceEndsAt (): number | undefined {
    if (this.#idleSince === undefined) return undefined
    return Math.max(this.#idleSince, this.#swarmProgressAt) + this.#shareGraceMs
  }

  #regularInFlight (): number {
    let count = 0
    for (const peer of this.#peers.values()) if (!peer.lastResort) count += peer.inFlight
    return count
  }

  /**
   * Whether some peer (regular only, or also last resort) holds the chunk and
   * is worth waiting for: not dropped and not among those that failed this
   * chunk. A peer backing off still counts: a connection the libp2p monitor
   * aborted under load fails every peer on it at once, and sending all their
   * chunks to the seed would cost it copies the swarm will soon provide.
   */
  #hasUnfailedHolder (index: number, failed: Set<string> | undefined, includeLastResort: boolean): boolean {
    for (const peer of this.#peers.values()) {
      if (peer.dropped || peer.bits === undefined) continue
      if (peer.lastResort && !includeLastResort) continue
      if (failed?.has(peer.id) === true) continue
      if (hasBit(peer.bits, index)) return true
    }
    return false
  }

  #adjustAvailability (peer: PeerState, delta: 1 | -1): void {
    const bits = peer.bits
    if (bits === undefined || peer.dropped) return
    const count = Math.min(this.chunkCount, bits.byteLength * 8)
    for (let byte = 0; byte < bits.byteLength; byte++) {
      const value = bits[byte] ?? 0
      if (value === 0) continue
      for (let bit = 0; bit < 8; bit++) {
        const index = byte * 8 + bit
        if (index >= count) break
        if ((value & (0x80 >> bit)) !== 0) this.#availability[index] = (this.#availability[index] ?? 0) + delta
      }
    }
  }

  /** Takes a chunk out of flight (or storing) from `peer` back to needed. */
  #release (peer: string, index: number): void {
    this.#checkIndex(index)
    const state = this.#state[index]
    if ((state !== IN_FLIGHT && state !== STORING) || this.#source[index] !== peer) {
      throw new Error(`chunk ${index} is ${this.stateOf(index)}${this.#source[index] === undefined ? '' : ` from ${this.#source[index]}`}, not in flight from ${peer}`)
    }
    if (state === IN_FLIGHT) {
      this.#inFlight--
      const owner = this.#peers.get(peer)
      if (owner !== undefined) owner.inFlight--
    } else {
      this.#storing--
    }
    this.#state[index] = NEEDED
    this.#source[index] = undefined
  }

  #expect (index: number, state: number, peer: string): void {
    this.#checkIndex(index)
    if (this.#state[index] !== state || this.#source[index] !== peer) {
      throw new Error(`chunk ${index} is ${this.stateOf(index)}${this.#source[index] === undefined ? '' : ` from ${this.#source[index]}`}, expected ${STATE_NAMES[state] ?? state} from ${peer}`)
    }
  }

  #checkIndex (index: number): number {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.chunkCount) {
      throw new RangeError(`chunk index ${index} is outside [0, ${this.chunkCount})`)
    }
    return index
  }
}

/**
 * The least-loaded peer of `pool` with fewer than `cap` requests in flight
 * that holds `index` and has not failed it (first wins ties; the pool is shuffled).
 */
function pickHolder (pool: PeerState[], index: number, failed: Set<string> | undefined, cap: number): PeerState | undefined {
  let best: PeerState | undefined
  for (const peer of pool) {
    if (peer.inFlight >= cap || peer.bits === undefined || !hasBit(peer.bits, index)) continue
    if (failed?.has(peer.id) === true) continue
    if (best === undefined || peer.inFlight < best.inFlight) best = peer
  }
  return best
}

/** The share while candidates' first bitfields are still coming in: nothing is this node's yet. */
const PENDING: Share = { members: 0, owns: () => false }

/** This node's part of the seed-only chunks (see ChunkScheduler `share`). */
export interface Share {
  /** Followers in the swarm, this node included (0 while the swarm is still being learned). */
  members: number
  /** Whether chunk `index` is this node's to ask of the seed. */
  owns: (index: number) => boolean
}

/**
 * Which member of a swarm asks the seed for chunk `index`: rendezvous
 * (highest random weight) hashing of member id and index. Every follower
 * computes the same owner from the same member list, and when a member
 * joins or leaves only its own chunks change hands; a modulo of a rank
 * would reshuffle almost every chunk, and followers whose views of the
 * swarm differ for a moment would each ask the seed for the same ones.
 */
export function shareOwner (members: readonly string[], index: number): string | undefined {
  let best: string | undefined
  let bestWeight = -1
  const salt = mix32(index + 0x9e3779b9)
  for (const member of members) {
    const weight = mix32(hash32(member) ^ salt)
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && member < best)) {
      best = member
      bestWeight = weight
    }
  }
  return best
}

/** FNV-1a over a string's UTF-16 code units, as an unsigned 32-bit integer. */
function hash32 (text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** A 32-bit integer finalizer (murmur3's fmix32): spreads every input bit over the output. */
function mix32 (value: number): number {
  let h = value >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Whether `after` has a bit set that `before` lacks. */
function gained (before: Uint8Array | undefined, after: Uint8Array): boolean {
  for (let i = 0; i < after.byteLength; i++) {
    if (((after[i] ?? 0) & ~(before?.[i] ?? 0)) !== 0) return true
  }
  return false
}

/** Fisher–Yates, in place. */
export function shuffle<T> (items: { length: number, [i: number]: T }, random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const a = items[i] as T
    items[i] = items[j] as T
    items[j] = a
  }
}
