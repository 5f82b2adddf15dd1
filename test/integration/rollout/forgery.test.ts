import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openChunkStore } from '../../../src/content/index.ts'
import { createChunkServer, createOverlayLibp2p, encodeTestOutcome, topicName } from '../../../src/overlay/index.ts'
import { signRelease } from '../../../src/release/index.ts'
import { importReleaseDir } from '../../../src/node/seed-release.ts'
import { PEER_KEY_FILE } from '../../../src/node/index.ts'
import { SIGNATURE_DOMAINS, encodeCanonical, decodeCanonical, generateSigningKey, loadPrivateKey, sealEnvelope, MAX_ENVELOPE_BYTES } from '../../../src/trust/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import { APP, Swarm, scoreOf, treeDigest } from './swarm.ts'
import type { OverlayLibp2p } from '../../../src/overlay/index.ts'
import type { ChunkStore } from '../../../src/content/index.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

let swarm: Swarm | undefined
let rogue: OverlayLibp2p | undefined
afterEach(async () => {
  await rogue?.stop()
  rogue = undefined
  await swarm?.teardown()
  swarm = undefined
})

const PLAN = { clusters: [{ name: 'A', k: 1, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }], default: { k: 1, q: 1 }, startTimeoutMs: 60_000 }

function firstAddress (libp2p: OverlayLibp2p): Multiaddr {
  const address = libp2p.getMultiaddrs()[0]
  if (address === undefined) throw new Error('the node listens nowhere')
  return address
}

describe('forged and tampered input', () => {
  it('rejects forged outcomes and an untrusted release, scores the sender down, and leaves state unchanged', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    const release = await s.seedRelease(PLAN)
    // a1's test hangs: A stays "testing", so a forged pass would be the only way through.
    await Promise.all([s.start({ name: 'a1', cluster: 'A', testEnv: { HANG: '1' } }), s.start({ name: 'b1', cluster: 'B' })])
    await waitFor('a1 testing', async () => (await s.releaseStatus('a1'))?.state === 'testing', { timeoutMs: 60_000, describe: async () => s.describe() })
    const victim = s.machines.get('b1')?.node
    if (victim === undefined) throw new Error('b1 is not running')
    const before = await s.releaseStatus('b1')

    rogue = await createOverlayLibp2p({ privateKey: await generateSigningKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
    const rogueId = rogue.peerId.toString()
    const outcomes = topicName(APP, 'outcomes')
    rogue.services.pubsub.subscribe(outcomes)
    rogue.services.pubsub.subscribe(topicName(APP, 'releases'))
    await rogue.dial(firstAddress(victim.libp2p))
    await waitFor('the rogue in the victim\'s topic peers', () => victim.libp2p.services.pubsub.getSubscribers(outcomes).some(p => p.toString() === rogueId), { timeoutMs: 30_000 })

    const pass = (clusterId: string) => encodeTestOutcome({ v: 1, app: APP, releaseId: release.id, clusterId, pass: true, exitCode: 0, durationMs: 5, logDigest: new Uint8Array(32), at: Date.now() })
    // 1. A pass signed by a key that is not a member of A.
    const byStranger = await sealEnvelope(SIGNATURE_DOMAINS.outcome, pass('A'), await generateSigningKey())
    // 2. A pass really signed by the member a1, altered after signing.
    const a1Key = await loadPrivateKey(join(s.machines.get('a1')?.config.dataDir ?? '', PEER_KEY_FILE))
    const genuine = decodeCanonical(await sealEnvelope(SIGNATURE_DOMAINS.outcome, pass('A'), a1Key), MAX_ENVELOPE_BYTES, 'test') as Record<string, Uint8Array>
    const altered = Uint8Array.from(genuine.p ?? [])
    altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1
    const tampered = encodeCanonical({ ...genuine, p: altered })
    // 3. A newer release signed by a key nobody trusts.
    const stranger = await signRelease({ ...release.manifest, sequence: 2, version: '2.0.1' }, await generateSigningKey())

    await rogue.services.pubsub.publish(outcomes, byStranger)
    await rogue.services.pubsub.publish(outcomes, tampered)
    await rogue.services.pubsub.publish(topicName(APP, 'releases'), stranger.bytes)

    await waitFor('the rogue scored down by the victim', () => scoreOf(victim.libp2p, rogueId) < 0, { timeoutMs: 30_000 })
    const after = await s.releaseStatus('b1')
    expect(after?.clusters.find(c => c.clusterId === 'A')).toEqual(before?.clusters.find(c => c.clusterId === 'A'))
    expect(after?.state).toBe(before?.state)
    expect(after?.at.installed).toBeUndefined()
    // Nothing of it was stored: the victim still knows one release, and no outcome at all.
    const status = await victim.status()
    expect(status.apps[0]?.releases.map(r => r.id)).toEqual([release.id])
    expect(after?.clusters.find(c => c.clusterId === 'A')?.passes).toBe(0)
  })

  it('drops a peer that serves a tampered chunk and installs the correct tree', async () => {
    swarm = await Swarm.create(2 * 1024 * 1024)
    const s = swarm
    const release = await s.seedRelease(PLAN)
    const seed = await s.startSeed()

    // A rogue that holds every chunk, serves each with one bit flipped, and advertises itself as a holder.
    rogue = await createOverlayLibp2p({ privateKey: await generateSigningKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
    const real = await openChunkStore(join(s.work, 'rogue-chunks'))
    await importReleaseDir(join(s.work, 'release'), s.vendor.key.publicKey, real)
    const corrupt: ChunkStore = {
      dir: real.dir,
      put: async (d, b) => real.put(d, b),
      add: async b => real.add(b),
      has: async d => real.has(d),
      path: d => real.path(d),
      delete: async d => real.delete(d),
      get: async d => { const bytes = Uint8Array.from(await real.get(d)); bytes[0] = (bytes[0] ?? 0) ^ 1; return bytes }
    }
    const { artifact } = release.manifest
    const server = createChunkServer({ registrar: rogue }, { source: { layout: () => artifact, store: () => corrupt, holds: () => true } })
    await server.start()
    await rogue.dial(firstAddress(seed.libp2p))
    await rogue.contentRouting.provide(artifact.root)

    await s.start({ name: 'a1', cluster: 'A' })
    await waitFor('a1 installed', async () => (await s.releaseStatus('a1'))?.state === 'installed', { timeoutMs: 120_000, describe: async () => s.describe() })
    expect(server.stats().chunksServed, 'the rogue was asked').toBeGreaterThan(0)
    const a1 = await s.releaseStatus('a1')
    expect(a1?.bytesFrom[rogue.peerId.toString()] ?? 0).toBe(0)
    expect(await treeDigest(join(s.machines.get('a1')?.config.apps[APP]?.installDir ?? '', 'current'))).toEqual(await treeDigest(s.artifactDir))
    await server.stop()
  })
})
