/**
 * The census end to end with real libp2p nodes on 127.0.0.1 (TCP + Noise +
 * Yamux): a seed-like node with the vendor key as its identity runs the
 * collector and the control API; three machines fingerprint real
 * environment directories and report to the vendor's peer id (derived from
 * the trusted vendor key); a forged census is refused and not stored. The
 * census is then fetched as `vendor census` does, clustered as `vendor
 * cluster` does, and the signed map opened again.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterFor, openClusterMap } from '../../../src/cluster/index.ts'
import { fingerprintCluster, fingerprintDigest } from '../../../src/env/index.ts'
import type { ClusterSpec } from '../../../src/env/index.ts'
import { createCensusCollector } from '../../../src/node/census-collector.ts'
import type { CensusCollector, CensusEntry } from '../../../src/node/census-collector.ts'
import { createCensusReporter } from '../../../src/node/census-reporter.ts'
import type { CensusReportEvent, CensusReporter } from '../../../src/node/census-reporter.ts'
import { openControlStream, startControlServer } from '../../../src/node/control-server.ts'
import { createOverlayLibp2p, sealCensus, sendCensus } from '../../../src/overlay/index.ts'
import type { OverlayLibp2p } from '../../../src/overlay/index.ts'
import { censusKey, openStore } from '../../../src/store/index.ts'
import type { Store } from '../../../src/store/index.ts'
import { generateSigningKey, publicKeyToText, savePrivateKey } from '../../../src/trust/index.ts'
import { openVendorDir, saveCensus, vendorCluster } from '../../../src/vendor/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'

const FIXTURES = new URL('../../fixtures/env/', import.meta.url).pathname
const APP = 'webshop'

let work: string
let vendorKey: Ed25519PrivateKey
let seed: OverlayLibp2p
let seedStore: Store
let collector: CensusCollector
let control: { close(): Promise<void> }
const nodes: OverlayLibp2p[] = []
const reporters: CensusReporter[] = []
const events: CensusReportEvent[] = []
const machines: Array<{ key: Ed25519PrivateKey, node: OverlayLibp2p, cluster: ClusterSpec }> = []

/**
 * An environment directory standing for `/`: the real php.ini fixture
 * (optionally with one directive changed) and a MySQL client library.
 */
async function makeEnvironment (name: string, phpIniEdit?: (text: string) => string): Promise<ClusterSpec> {
  const root = join(work, 'env', name)
  await mkdir(join(root, 'etc/php/8.2/apache2'), { recursive: true })
  await mkdir(join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true })
  const phpIni = await readFile(join(FIXTURES, 'php.ini'), 'utf8')
  await writeFile(join(root, 'etc/php/8.2/apache2/php.ini'), phpIniEdit === undefined ? phpIni : phpIniEdit(phpIni))
  await copyFile(join(FIXTURES, 'mysql/my.cnf'), join(root, 'usr/lib/x86_64-linux-gnu/libmysqlclient.so.21'))
  return {
    root,
    resources: [
      { name: 'php.ini', kind: 'ini', path: '/etc/php/8.2/apache2/php.ini', weight: 0.5 },
      { name: 'libmysqlclient', kind: 'binary', path: '/usr/lib/x86_64-linux-gnu/libmysqlclient.so.21', weight: 2 }
    ]
  }
}

async function startNode (key: Ed25519PrivateKey): Promise<OverlayLibp2p> {
  const node = await createOverlayLibp2p({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(node)
  return node
}

async function listCensus (): Promise<CensusEntry[]> {
  const out: CensusEntry[] = []
  for await (const entry of collector.census(APP)) out.push(entry)
  return out
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mirage-census-int-'))
  vendorKey = await generateSigningKey()
  seed = await startNode(vendorKey)
  seedStore = await openStore({ dir: join(work, 'seed', 'store') })
  collector = createCensusCollector({ registrar: seed, store: seedStore }, { serves: app => app === APP })
  await collector.start()
  control = await startControlServer(join(work, 'seed'), { status: async () => ({}), census: app => collector.census(app) })

  const environments = [
    await makeEnvironment('a'),
    await makeEnvironment('b'),
    // One directive changed: a different environment, one item away.
    await makeEnvironment('c', text => text.replace('short_open_tag = Off', 'short_open_tag = On'))
  ]
  for (const cluster of environments) {
    const key = await generateSigningKey()
    const node = await startNode(key)
    // The seed is the machine's bootstrap peer; the census goes to the peer id of the vendor key.
    await node.dial(seed.getMultiaddrs())
    machines.push({ key, node, cluster })
  }
})

afterAll(async () => {
  await Promise.all(reporters.map(async r => r.stop()))
  await collector?.stop()
  await control?.close()
  await Promise.all(nodes.map(async n => n.stop()))
  await seedStore?.close()
  await rm(work, { recursive: true, force: true })
})

describe('the census over the overlay', () => {
  it('three machines report their real fingerprints to the vendor\'s peer id, and the seed stores them', async () => {
    const vendorText = publicKeyToText(vendorKey.publicKey)
    expect(peerIdFromPublicKey(vendorKey.publicKey).equals(seed.peerId)).toBe(true)
    for (const machine of machines) {
      const reporter = createCensusReporter({ dialer: machine.node, privateKey: machine.key }, {
        apps: [{ app: APP, vendorKeys: [vendorText], cluster: machine.cluster }],
        initialDelayMs: 0,
        retryMinMs: 200,
        onEvent: event => events.push(event)
      })
      reporters.push(reporter)
      reporter.start()
    }
    const census = await waitFor('three machines in the census', async () => {
      const entries = await listCensus()
      return entries.length === 3 ? entries : undefined
    }, { timeoutMs: 120_000, describe: () => JSON.stringify(events) })
    expect(new Set(census.map(e => e.peerId))).toEqual(new Set(machines.map(m => m.node.peerId.toString())))
    for (const machine of machines) {
      const stored = census.find(e => e.peerId === machine.node.peerId.toString())
      expect(stored?.fingerprint).toEqual({ ...await fingerprintCluster(APP, machine.cluster), notes: [] })
    }
    // Two machines share an environment; the third differs by one directive.
    expect(new Set(census.map(e => fingerprintDigest(e.fingerprint))).size).toBe(2)
    expect(collector.stats()).toMatchObject({ accepted: 3, refused: {} })
  })

  it('refuses a census signed by another key than the stream\'s peer, and a replayed one, storing neither', async () => {
    const forger = await startNode(await generateSigningKey())
    const replayer = await startNode(await generateSigningKey())
    await forger.dial(seed.getMultiaddrs())
    await replayer.dial(seed.getMultiaddrs())
    const victim = machines[0]
    if (victim === undefined) throw new Error('no machines')
    const before = await seedStore.census.get(censusKey({ app: APP, peerId: victim.node.peerId.toString() }))

    // A census of a made-up machine, sent over the forger's connection.
    const strangerKey = await generateSigningKey()
    const forged = await sealCensus({ v: 1, app: APP, at: Date.now(), fingerprint: { ...await fingerprintCluster(APP, victim.cluster), notes: [] } }, strangerKey)
    expect(await sendCensus(forger, seed.peerId, forged)).toEqual({ ok: false, reason: 'wrong-signer' })

    // The victim's own census, validly signed and newer (as if captured), replayed by another peer.
    const replayed = await sealCensus({ v: 1, app: APP, at: Date.now() + 1, fingerprint: { ...await fingerprintCluster(APP, machines[2]?.cluster ?? {}), notes: [] } }, victim.key)
    expect(await sendCensus(replayer, seed.peerId, replayed)).toEqual({ ok: false, reason: 'wrong-signer' })
    expect(collector.stats().refused).toEqual({ 'wrong-signer': 2 })

    expect(await seedStore.census.get(censusKey({ app: APP, peerId: forger.peerId.toString() }))).toBeUndefined()
    expect(await seedStore.census.get(censusKey({ app: APP, peerId: replayer.peerId.toString() }))).toBeUndefined()
    expect(await seedStore.census.get(censusKey({ app: APP, peerId: peerIdFromPublicKey(strangerKey.publicKey).toString() }))).toBeUndefined()
    expect(await seedStore.census.get(censusKey({ app: APP, peerId: victim.node.peerId.toString() }))).toEqual(before)
    expect(await listCensus()).toHaveLength(3)
  })

  it('the census fetched through the control API clusters into a signed map that opens again', async () => {
    const censusFile = join(work, 'census.json')
    const summary = await saveCensus(await openControlStream(join(work, 'seed'), `/census?app=${APP}`), censusFile, APP)
    expect(summary).toEqual({ machines: 3, fingerprints: 2 })

    const vendorDir = join(work, 'vendor')
    await mkdir(vendorDir, { mode: 0o700 })
    await savePrivateKey(join(vendorDir, 'vendor.key'), vendorKey)
    const vendor = await openVendorDir(vendorDir)

    // Diameter 0: only identical environments share a cluster.
    const exact = await vendorCluster({ vendor, app: APP, censusPath: censusFile, diameter: 0 })
    expect(exact.map.sequence).toBe(1)
    expect(exact.map.clusters.map(c => c.machines).sort()).toEqual([1, 2])
    // The weights the spec declared travelled with the fingerprints.
    expect(exact.weights).toEqual({ libmysqlclient: 2, 'php.ini': 0.5 })
    const opened = await openClusterMap(await readFile(exact.file), vendorKey.publicKey)
    expect(opened.map).toEqual(exact.map)
    for (const machine of machines) {
      const digest = fingerprintDigest(await fingerprintCluster(APP, machine.cluster))
      expect(clusterFor(opened.map, digest)).toBeDefined()
    }
    const [a, b, c] = await Promise.all(machines.map(async m => clusterFor(opened.map, fingerprintDigest(await fingerprintCluster(APP, m.cluster)))))
    expect(a).toBe(b)
    expect(c).not.toBe(a)

    // One directive of php.ini weighs 0.5: within diameter 1 the three machines form one cluster.
    const wide = await vendorCluster({ vendor, app: APP, censusPath: censusFile, diameter: 1 })
    expect(wide.map.sequence).toBe(2)
    expect(wide.map.clusters).toEqual([{ name: 'c01', machines: 3, fingerprints: 2, order: 1 }])
    // The older map is a rollback for a node that holds the newer one.
    await expect(openClusterMap(exact.bytes, vendorKey.publicKey, { installedSequence: wide.map.sequence })).rejects.toMatchObject({ name: 'ClusterMapRefusedError' })
  })
})
