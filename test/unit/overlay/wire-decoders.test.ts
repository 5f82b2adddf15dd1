import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  MAX_ROLLOUT_MESSAGE_BYTES, decodeMemberAnnouncement, decodeSyncFrame, decodeSyncRequest, decodeTestOutcome, decodeTestStart,
  encodeMemberAnnouncement, encodeSyncFrame, encodeSyncRequest, encodeTestOutcome, encodeTestStart, membershipKeyCid, parseTopicName, topicName
} from '../../../src/overlay/index.ts'
import { MAX_ENVELOPE_BYTES, bytesEqual, encodeCanonical } from '../../../src/trust/index.ts'
import type { MemberAnnouncement, TestOutcome } from '../../../src/overlay/index.ts'
import { byteMutation, mutateBytes } from '../../helpers/byte-mutation.ts'

const RELEASE_ID = 'bafyreidmv45g5hj3zk2i2zfizn4rzu2764k7vx4i3bhmzuwlbxch6eklau'
const outcome: TestOutcome = { v: 1, app: 'webshop', releaseId: RELEASE_ID, clusterId: 'php5-mysql', pass: true, exitCode: 0, durationMs: 1234, logDigest: new Uint8Array(32).fill(7), at: 1_790_000_000_000 }

function expectOnly (names: string[], fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    expect(names, `${(err as Error).name}: ${(err as Error).message}`).toContain((err as Error).name)
  }
}

/** Mutations of `valid` either fail to decode with a RolloutMessageError or are accepted only as the one canonical encoding of what they say. */
function expectMutationsRefusedOrCanonical<T> (valid: Uint8Array, decode: (bytes: Uint8Array) => T, encode: (message: T) => Uint8Array, numRuns: number): void {
  fc.assert(fc.property(byteMutation, (m) => {
    expectOnly(['RolloutMessageError'], () => {
      const bytes = mutateBytes(valid, m)
      expect(bytesEqual(encode(decode(bytes)), bytes)).toBe(true)
    })
  }), { numRuns })
}

describe('rollout messages (test start, outcome)', () => {
  it('round-trip', () => {
    expect(decodeTestOutcome(encodeTestOutcome(outcome))).toEqual(outcome)
    const start = { v: 1 as const, app: 'webshop', releaseId: RELEASE_ID, clusterId: 'A', at: 5 }
    expect(decodeTestStart(encodeTestStart(start))).toEqual(start)
  })

  it('refuse malformed, oversized and nonsense payloads with a named error', () => {
    const bad = [
      new Uint8Array([0xff]),
      new Uint8Array(0),
      new Uint8Array(MAX_ROLLOUT_MESSAGE_BYTES + 1),
      encodeCanonical({ ...outcome, v: 2 }),
      encodeCanonical({ ...outcome, extra: 1 }),
      encodeCanonical({ ...outcome, logDigest: new Uint8Array(31) }),
      encodeCanonical({ ...outcome, clusterId: '../etc' }),
      encodeCanonical({ ...outcome, releaseId: 'not-a-cid' }),
      encodeCanonical({ ...outcome, durationMs: -1 }),
      encodeCanonical({ ...outcome, pass: 'yes' }),
      encodeCanonical([outcome])
    ]
    for (const bytes of bad) expect(() => decodeTestOutcome(bytes)).toThrow(expect.objectContaining({ name: 'RolloutMessageError' }))
  })

  it('thousands of mutations: a named error or a canonical re-encoding, never a crash', () => {
    expectMutationsRefusedOrCanonical(encodeTestOutcome(outcome), decodeTestOutcome, encodeTestOutcome, 3000)
  })
})

describe('member announcements', () => {
  const announcement: MemberAnnouncement = { v: 1, app: 'webshop', clusterId: 'php5-mysql', role: 'representative', at: 1_790_000_000_000 }

  it('round-trip', () => {
    expect(decodeMemberAnnouncement(encodeMemberAnnouncement(announcement))).toEqual(announcement)
  })

  it('refuse malformed, oversized and nonsense payloads with a named error', () => {
    const bad = [
      new Uint8Array([0xff]),
      new Uint8Array(0),
      new Uint8Array(MAX_ROLLOUT_MESSAGE_BYTES + 1),
      encodeCanonical({ ...announcement, clusterId: 'x'.repeat(MAX_ROLLOUT_MESSAGE_BYTES) }),
      encodeCanonical({ ...announcement, v: 2 }),
      encodeCanonical({ ...announcement, extra: 1 }),
      encodeCanonical({ ...announcement, role: 'boss' }),
      encodeCanonical({ ...announcement, clusterId: '../etc' }),
      encodeCanonical({ ...announcement, app: 'Web Shop' }),
      encodeCanonical({ ...announcement, at: -1 }),
      encodeCanonical({ ...announcement, at: 1.5 }),
      encodeCanonical([announcement])
    ]
    for (const bytes of bad) expect(() => decodeMemberAnnouncement(bytes)).toThrow(expect.objectContaining({ name: 'RolloutMessageError' }))
  })

  it('thousands of mutations: a named error or a canonical re-encoding, never a crash', () => {
    expectMutationsRefusedOrCanonical(encodeMemberAnnouncement(announcement), decodeMemberAnnouncement, encodeMemberAnnouncement, 2000)
  })
})

describe('sync protocol frames', () => {
  it('round-trip requests and frames', () => {
    expect(decodeSyncRequest(encodeSyncRequest('webshop'))).toEqual({ app: 'webshop', members: false })
    expect(decodeSyncRequest(encodeSyncRequest('webshop', { members: true }))).toEqual({ app: 'webshop', members: true })
    const item = { t: 'item' as const, kind: 'outcome' as const, bytes: new Uint8Array([1, 2, 3]) }
    expect(decodeSyncFrame(encodeSyncFrame(item))).toEqual(item)
    expect(decodeSyncFrame(encodeSyncFrame({ t: 'end', count: 3 }))).toEqual({ t: 'end', count: 3 })
  })

  it('refuse malformed, oversized and unknown frames', () => {
    const bad = [
      new Uint8Array([0xa1]),
      new Uint8Array(MAX_ENVELOPE_BYTES + 2048),
      encodeCanonical({ t: 'item', kind: 'gossip', bytes: new Uint8Array(1) }),
      encodeCanonical({ t: 'end', count: -1 }),
      encodeCanonical({ t: 'end', count: 1_000_000 }),
      encodeCanonical({ t: 'nope' })
    ]
    for (const bytes of bad) expect(() => decodeSyncFrame(bytes)).toThrow(expect.objectContaining({ name: 'SyncProtocolError' }))
    expect(() => decodeSyncRequest(encodeCanonical({ t: 'sync', app: 'Web Shop' }))).toThrow(expect.objectContaining({ name: 'SyncProtocolError' }))
    expect(() => decodeSyncRequest(new Uint8Array(1024))).toThrow(/limit/)
    // "No members" has one encoding: the field left out.
    expect(() => decodeSyncRequest(encodeCanonical({ t: 'sync', app: 'webshop', members: false }))).toThrow(expect.objectContaining({ name: 'SyncProtocolError' }))
    expect(() => decodeSyncRequest(encodeCanonical({ t: 'sync', app: 'webshop', members: 1 }))).toThrow(expect.objectContaining({ name: 'SyncProtocolError' }))
    expect(() => decodeSyncRequest(encodeCanonical({ t: 'sync', app: 'webshop', since: 5 }))).toThrow(expect.objectContaining({ name: 'SyncProtocolError' }))
  })

  it('thousands of mutations of a frame: a named error, never a crash', () => {
    const valid = encodeSyncFrame({ t: 'item', kind: 'release', bytes: new Uint8Array(64).fill(9) })
    fc.assert(fc.property(byteMutation, (m) => { expectOnly(['SyncProtocolError'], () => decodeSyncFrame(mutateBytes(valid, m))) }), { numRuns: 3000 })
  })
})

describe('topics and DHT keys', () => {
  it('build and parse topic names in one place', () => {
    expect(topicName('webshop', 'outcomes')).toBe('/mirage/1/webshop/outcomes')
    expect(parseTopicName('/mirage/1/webshop/outcomes')).toEqual({ app: 'webshop', kind: 'outcomes' })
    for (const bad of ['/mirage/1/webshop', '/mirage/2/webshop/outcomes', '/mirage/1/Web/outcomes', '/mirage/1/webshop/outcomes/x', '/mirage/1/webshop/chat']) {
      expect(parseTopicName(bad)).toBeUndefined()
    }
    expect(() => topicName('../x', 'releases')).toThrow()
  })

  it('derive a distinct membership key per app, cluster and role', async () => {
    const keys = new Set<string>()
    for (const app of ['webshop', 'blog']) for (const cluster of ['A', 'B']) for (const role of ['auto', 'representative', 'follower'] as const) {
      keys.add((await membershipKeyCid(app, cluster, role)).toString())
    }
    expect(keys.size).toBe(12)
    expect((await membershipKeyCid('webshop', 'A', 'auto')).toString()).toBe((await membershipKeyCid('webshop', 'A', 'auto')).toString())
  })
})
