/**
 * Member announcements through intake into the membership store: the path
 * a gossiped or synced announcement takes (PROTOCOL.md §9.4), on a real
 * store, with real signatures.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MEMBER_ANNOUNCEMENT_MAX_AGE_MS, MEMBER_ANNOUNCEMENT_MAX_SKEW_MS, MessageIntake } from '../../../src/node/message-intake.ts'
import { Membership } from '../../../src/node/membership.ts'
import type { MemberSeen } from '../../../src/node/membership.ts'
import { encodeMemberAnnouncement, encodeTestStart } from '../../../src/overlay/index.ts'
import type { MemberAnnouncement, OverlayLibp2p } from '../../../src/overlay/index.ts'
import { membershipKey, openStore } from '../../../src/store/index.ts'
import type { Store } from '../../../src/store/index.ts'
import { MAX_ENVELOPE_BYTES, SIGNATURE_DOMAINS, bytesEqual, decodeCanonical, encodeCanonical, generateSigningKey, sealEnvelope, trustedVendorKeys } from '../../../src/trust/index.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'

const APP = 'webshop'
let dir: string
let store: Store
let seen: MemberSeen[]
let intake: MessageIntake
let key: Ed25519PrivateKey
let peerId: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirage-members-'))
  store = await openStore({ dir })
  seen = []
  // `announced` reads and writes the store only: this membership never touches the network.
  const membership = new Membership({ libp2p: undefined as unknown as OverlayLibp2p, store, own: [], announceIntervalMs: 300_000, onMember: m => { seen.push(m) } })
  intake = new MessageIntake({
    store,
    trust: trustedVendorKeys({}),
    self: 'this-node',
    installedSequence: async () => undefined,
    isMember: async () => false,
    onRelease: () => {},
    onTestStart: () => {},
    onOutcome: () => {},
    onMemberAnnouncement: async (a, from, envelope) => { await membership.announced({ app: a.app, clusterId: a.clusterId, role: a.role, peerId: from, seenAt: Date.now() }, envelope, a.at) }
  })
  key = await generateSigningKey()
  peerId = peerIdFromPrivateKey(key).toString()
})

afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

async function announcement (fields: Partial<MemberAnnouncement> = {}, signer = key): Promise<Uint8Array> {
  return sealEnvelope(SIGNATURE_DOMAINS.member, encodeMemberAnnouncement({ v: 1, app: APP, clusterId: 'A', role: 'auto', at: Date.now(), ...fields }), signer)
}

const stored = async (clusterId = 'A') => store.memberships.get(membershipKey({ app: APP, clusterId, peerId }))

describe('member announcements', () => {
  it('remembers the signer as a member, with the envelope sync hands on', async () => {
    const envelope = await announcement({ role: 'representative', at: Date.now() - 1000 })
    expect(await intake.take('member', envelope, APP)).toBe('accept')
    const record = await stored()
    expect(record).toMatchObject({ app: APP, clusterId: 'A', peerId, role: 'representative' })
    expect(bytesEqual(record?.envelope ?? new Uint8Array(0), envelope)).toBe(true)
    expect(seen.map(m => [m.peerId, m.clusterId, m.role])).toEqual([[peerId, 'A', 'representative']])
    // The same again changes nothing and tells nobody.
    expect(await intake.take('member', envelope, APP)).toBe('accept')
    expect(seen).toHaveLength(1)
  })

  it('stores members without waiting for fsync: peers and the DHT say it again', async () => {
    const put = vi.spyOn(store.memberships, 'put')
    expect(await intake.take('member', await announcement(), APP)).toBe('accept')
    expect(put).toHaveBeenCalledTimes(1)
    expect(put.mock.calls[0]?.[2]).toEqual({ durable: false })
  })

  it('takes a newer announcement of a member and never an older one', async () => {
    const now = Date.now()
    await intake.take('member', await announcement({ role: 'auto', at: now - 5000 }), APP)
    const newer = await announcement({ role: 'follower', at: now - 1000 })
    expect(await intake.take('member', newer, APP)).toBe('accept')
    expect((await stored())?.role).toBe('follower')
    // A replay of an old one (valid, so not the sender's fault) cannot turn the role back.
    expect(await intake.take('member', await announcement({ role: 'representative', at: now - 3000 }), APP)).toBe('accept')
    const record = await stored()
    expect(record?.role).toBe('follower')
    expect(bytesEqual(record?.envelope ?? new Uint8Array(0), newer)).toBe(true)
  })

  it('rejects a forged or misplaced announcement and stores nothing', async () => {
    const genuine = decodeCanonical(await announcement(), MAX_ENVELOPE_BYTES, 'test') as Record<string, Uint8Array>
    const payload = Uint8Array.from(genuine.p ?? [])
    payload[payload.length - 1] = (payload[payload.length - 1] ?? 0) ^ 1
    const altered = encodeCanonical({ ...genuine, p: payload })
    expect(await intake.take('member', altered, APP)).toBe('reject')
    // Another app's announcement on this app's topic.
    expect(await intake.take('member', await announcement({ app: 'other' }), APP)).toBe('reject')
    // Another kind of signed message passed off as an announcement.
    const start = await sealEnvelope(SIGNATURE_DOMAINS.testStart, encodeTestStart({ v: 1, app: APP, releaseId: 'bafyreidmv45g5hj3zk2i2zfizn4rzu2764k7vx4i3bhmzuwlbxch6eklau', clusterId: 'A', at: 1 }), key)
    expect(await intake.take('member', start, APP)).toBe('reject')
    // Malformed and oversized bytes.
    expect(await intake.take('member', new Uint8Array([0xa1, 0x61]), APP)).toBe('reject')
    expect(await intake.take('member', new Uint8Array(MAX_ENVELOPE_BYTES + 1), APP)).toBe('reject')
    expect(await stored()).toBeUndefined()
    expect(seen).toEqual([])
  })

  it('ignores an announcement past its age or from a clock too far ahead', async () => {
    const now = Date.now()
    expect(await intake.take('member', await announcement({ at: now - MEMBER_ANNOUNCEMENT_MAX_AGE_MS - 60_000 }), APP)).toBe('ignore')
    expect(await intake.take('member', await announcement({ at: now + MEMBER_ANNOUNCEMENT_MAX_SKEW_MS + 60_000 }), APP)).toBe('ignore')
    expect(await stored()).toBeUndefined()
    // Inside both bounds: taken.
    expect(await intake.take('member', await announcement({ at: now + 60_000 }), APP)).toBe('accept')
    expect(await stored()).toBeDefined()
  })
})
