import { describe, it, expect, beforeAll } from 'vitest'
import {
  MAX_CLUSTER_MAP_BYTES, buildClusterMap, clusterCensus, clusterFor, decodeClusterMap, encodeClusterMap, openClusterMap, sealClusterMap,
  validateClusterMap
} from '../../../src/cluster/index.ts'
import type { ClusterMap, OrderedCluster } from '../../../src/cluster/index.ts'
import {
  MAX_ENVELOPE_BYTES, SIGNATURE_DOMAINS, bytesEqual, decodeCanonical, encodeCanonical, generateSigningKey, publicKeyToText, sealEnvelope,
  trustedVendorKeys
} from '../../../src/trust/index.ts'
import { fact, machinesWith, rejected, thrown } from './cluster-fixtures.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'

const CREATED = Date.UTC(2026, 10, 27)

/** A census of 40 machines in 4 environments: two near the reference, two near each other. */
function sampleClusters (): OrderedCluster[] {
  const env = (x: string, y: string, z: string) => [fact('php.ini', 'x', x), fact('my.cnf', 'y', y), fact('libmysqlclient', '', z)]
  const machines = [
    ...machinesWith(env('r', 'r', 'r'), 20),
    ...machinesWith(env('r', 'r', 'new'), 5),
    ...machinesWith(env('a', 'b', 'c'), 10),
    ...machinesWith(env('a', 'b', 'd'), 5)
  ]
  return clusterCensus(machines, { diameter: 1, weights: { 'php.ini': 2 }, reference: env('r', 'r', 'r') }).clusters
}

function sampleMap (overrides: Partial<ClusterMap> = {}): ClusterMap {
  return { ...buildClusterMap({ app: 'webshop', sequence: 3, created: CREATED, diameter: 1, weights: { 'php.ini': 2 }, clusters: sampleClusters() }), ...overrides }
}

function invalid (value: unknown): { reason?: string, path?: string, message: string } {
  const err = thrown(() => decodeClusterMap(encodeCanonical(value)))
  expect(err.name).toBe('ClusterMapInvalidError')
  return err
}

let vendor: Ed25519PrivateKey
let stranger: Ed25519PrivateKey
beforeAll(async () => {
  vendor = await generateSigningKey()
  stranger = await generateSigningKey()
})

describe('cluster map', () => {
  it('assigns every fingerprint to its cluster, with sizes and the suggested order', () => {
    const clusters = sampleClusters()
    const map = buildClusterMap({ app: 'webshop', sequence: 3, created: CREATED, diameter: 1, weights: { 'php.ini': 2 }, clusters })
    expect(map.format).toBe(1)
    expect(map.clusters).toEqual([
      { name: 'c01', machines: 25, fingerprints: 2, order: 1 },
      { name: 'c02', machines: 15, fingerprints: 2, order: 2 }
    ])
    for (const c of clusters) for (const digest of c.digests) expect(clusterFor(map, digest)).toBe(c.name)
    expect(Object.keys(map.assignments)).toHaveLength(4)
    expect(map.weights).toEqual({ 'php.ini': 2 })
  })

  it('covers only its own fingerprints: unknown digests and Object property names map to nothing', () => {
    const map = sampleMap()
    for (const digest of ['f'.repeat(64), 'constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(clusterFor(map, digest)).toBeUndefined()
  })

  it('round-trips through one canonical encoding', () => {
    const map = sampleMap()
    const bytes = encodeClusterMap(map)
    const decoded = decodeClusterMap(bytes)
    expect(decoded).toEqual(map)
    expect(bytesEqual(encodeClusterMap(decoded), bytes)).toBe(true)
    expect(decodeClusterMap(encodeClusterMap({ ...map, diameter: 2.5, weights: { libc: 0.5, env: 0 } })).diameter).toBe(2.5)
  })

  it('refuses malformed maps, naming the field', () => {
    const map = sampleMap()
    const [first, second] = map.clusters as [ClusterMap['clusters'][0], ClusterMap['clusters'][0]]
    const digest = Object.keys(map.assignments)[0] as string
    expect(invalid({ ...map, format: 2 }).reason).toBe('format')
    expect(invalid({ ...map, sequence: 0 }).path).toBe('sequence')
    expect(invalid({ ...map, sequence: 1.5 }).path).toBe('sequence')
    expect(invalid({ ...map, created: -1 }).path).toBe('created')
    expect(invalid({ ...map, app: 'Web Shop' }).path).toBe('app')
    expect(invalid({ ...map, diameter: -1 }).path).toBe('diameter')
    expect(invalid({ ...map, weights: { libc: -2 } }).path).toBe('weights.libc')
    expect(invalid({ ...map, extra: true }).message).toContain('"extra"')
    expect(invalid({ ...map, clusters: [{ ...first, name: 'bad name' }, second] }).path).toBe('clusters[0].name')
    expect(invalid({ ...map, clusters: [{ ...first, machines: 0 }, second] }).path).toBe('clusters[0].machines')
    expect(invalid({ ...map, clusters: [{ ...first, colour: 'red' }, second] }).path).toBe('clusters[0]')
    expect(invalid({ ...map, assignments: { ...map.assignments, [digest]: 'bad name' } }).path).toBe(`assignments.${digest}`)
    expect(invalid({ ...map, assignments: { ...map.assignments, '-not-a-digest': 'c01' } }).path).toMatch(/^assignments/)
    expect(invalid([map]).reason).toBe('schema')
    expect(invalid('cluster map').reason).toBe('schema')
  })

  it('refuses maps whose fields disagree', () => {
    const map = sampleMap()
    const [first, second] = map.clusters as [ClusterMap['clusters'][0], ClusterMap['clusters'][0]]
    const digest = Object.keys(map.assignments)[0] as string
    const swapped = invalid({ ...map, clusters: [second, first] })
    expect([swapped.reason, swapped.path]).toEqual(['order', 'clusters[0].order'])
    const twice = invalid({ ...map, clusters: [first, { ...second, name: first.name }] })
    expect([twice.reason, twice.path]).toEqual(['names', 'clusters[1].name'])
    const stray = invalid({ ...map, assignments: { ...map.assignments, [digest]: 'c99' } })
    expect([stray.reason, stray.path]).toEqual(['assignments', `assignments.${digest}`])
    const miscounted = invalid({ ...map, clusters: [{ ...first, fingerprints: 3, machines: 30 }, second] })
    expect([miscounted.reason, miscounted.path]).toEqual(['counts', 'clusters[0].fingerprints'])
    const fewMachines = invalid({ ...map, clusters: [{ ...first, machines: 1 }, second] })
    expect([fewMachines.reason, fewMachines.path]).toEqual(['counts', 'clusters[0].machines'])
    // Building refuses a digest in two clusters.
    const clusters = sampleClusters()
    const doubled = [clusters[0]!, { ...clusters[1]!, digests: [...clusters[1]!.digests, clusters[0]!.digests[0]!] }]
    expect(thrown(() => buildClusterMap({ app: 'webshop', sequence: 1, created: CREATED, diameter: 1, clusters: doubled })).reason).toBe('assignments')
  })

  it('refuses bytes that are not canonical CBOR, or too many of them', () => {
    const bytes = encodeClusterMap(sampleMap())
    expect(thrown(() => decodeClusterMap(Uint8Array.from([...bytes, 0]))).reason).toBe('encoding')
    expect(thrown(() => decodeClusterMap(new Uint8Array([0xff, 0xfe]))).reason).toBe('encoding')
    expect(thrown(() => decodeClusterMap(new Uint8Array(0))).reason).toBe('encoding')
    expect(thrown(() => decodeClusterMap(new Uint8Array(MAX_CLUSTER_MAP_BYTES + 1))).reason).toBe('too-large')
  })

  it('refuses to build or seal a map too large for one signed envelope', async () => {
    const digests = Array.from({ length: 30_000 }, (_, i) => i.toString(16).padStart(64, '0'))
    const huge: OrderedCluster[] = [{ name: 'c01', order: 1, digests, machines: 30_000, diameter: 0, referenceDistance: 0 }]
    const map = buildClusterMap({ app: 'webshop', sequence: 1, created: CREATED, diameter: 0, clusters: huge })
    const err = thrown(() => encodeClusterMap(map))
    expect([err.name, err.reason]).toEqual(['ClusterMapInvalidError', 'too-large'])
    expect((await rejected(sealClusterMap(map, vendor))).reason).toBe('too-large')
    // 20,000 such fingerprints fit, and open again.
    const fits = buildClusterMap({ app: 'webshop', sequence: 1, created: CREATED, diameter: 0, clusters: [{ ...huge[0]!, digests: digests.slice(0, 20_000), machines: 20_000 }] })
    const sealed = await sealClusterMap(fits, vendor)
    expect(sealed.byteLength).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES)
    expect(clusterFor((await openClusterMap(sealed, vendor.publicKey)).map, digests[19_999]!)).toBe('c01')
  })
})

describe('signed cluster map', () => {
  it('opens what the vendor sealed, by its key or by the trusted keys of its app', async () => {
    const map = sampleMap()
    const sealed = await sealClusterMap(map, vendor)
    const byKey = await openClusterMap(sealed, vendor.publicKey)
    expect(byKey.map).toEqual(map)
    expect(byKey.signer.equals(vendor.publicKey)).toBe(true)
    expect(byKey.bytes).toBe(sealed)
    const trusted = trustedVendorKeys({ webshop: [publicKeyToText(vendor.publicKey)] })
    expect((await openClusterMap(sealed, trusted)).map).toEqual(map)
  })

  it('refuses a map signed by a key not trusted for its app', async () => {
    const sealed = await sealClusterMap(sampleMap(), stranger)
    expect((await rejected(openClusterMap(sealed, vendor.publicKey))).reason).toBe('untrusted-signer')
    const trusted = trustedVendorKeys({ webshop: [publicKeyToText(vendor.publicKey)], other: [publicKeyToText(stranger.publicKey)] })
    const err = await rejected(openClusterMap(sealed, trusted))
    expect([err.name, err.reason]).toEqual(['SignatureError', 'untrusted-signer'])
  })

  it('refuses a forged signature: changed content, swapped signer, signature from elsewhere', async () => {
    const sealed = await sealClusterMap(sampleMap(), vendor)
    const fields = decodeCanonical(sealed, MAX_ENVELOPE_BYTES, 'test') as { d: string, k: Uint8Array, p: Uint8Array, s: Uint8Array }
    // The same map, moved to another cluster: the payload changes under the vendor's signature.
    const tampered = sampleMap()
    const digest = Object.keys(tampered.assignments)[0] as string
    const moved = { ...tampered, assignments: { ...tampered.assignments, [digest]: tampered.assignments[digest] === 'c01' ? 'c02' : 'c01' } }
    const forgedPayload = encodeCanonical({ ...fields, p: encodeCanonical(moved) })
    const err = await rejected(openClusterMap(forgedPayload, vendor.publicKey))
    expect([err.name, err.reason]).toEqual(['SignatureError', 'bad-signature'])
    // A stranger's signature under the vendor's key.
    const strangers = decodeCanonical(await sealClusterMap(sampleMap(), stranger), MAX_ENVELOPE_BYTES, 'test') as { s: Uint8Array }
    expect((await rejected(openClusterMap(encodeCanonical({ ...fields, s: strangers.s }), vendor.publicKey))).reason).toBe('bad-signature')
    // The vendor's signature on the same bytes, but for a release.
    const asRelease = await sealEnvelope(SIGNATURE_DOMAINS.release, fields.p, vendor)
    expect((await rejected(openClusterMap(asRelease, vendor.publicKey))).reason).toBe('wrong-domain')
  })

  it('refuses validly signed payloads that are not a cluster map', async () => {
    const signedJunk = await sealEnvelope(SIGNATURE_DOMAINS.clusterMap, new Uint8Array([0xff, 0xfe, 0x00]), vendor)
    const junk = await rejected(openClusterMap(signedJunk, vendor.publicKey))
    expect([junk.name, junk.reason]).toEqual(['ClusterMapInvalidError', 'encoding'])
    const signedText = await sealEnvelope(SIGNATURE_DOMAINS.clusterMap, encodeCanonical('a cluster map'), vendor)
    const text = await rejected(openClusterMap(signedText, vendor.publicKey))
    expect([text.name, text.reason]).toEqual(['ClusterMapInvalidError', 'schema'])
    const signedWrong = await sealEnvelope(SIGNATURE_DOMAINS.clusterMap, encodeCanonical({ ...sampleMap(), sequence: 0 }), vendor)
    const wrong = await rejected(openClusterMap(signedWrong, vendor.publicKey))
    expect([wrong.name, wrong.path]).toEqual(['ClusterMapInvalidError', 'sequence'])
  })

  it('refuses oversized and malformed envelopes before any work', async () => {
    expect((await rejected(openClusterMap(new Uint8Array(MAX_ENVELOPE_BYTES + 1), vendor.publicKey))).reason).toBe('oversized')
    expect((await rejected(openClusterMap(new Uint8Array([0xa0]), vendor.publicKey))).reason).toBe('malformed')
    expect((await rejected(openClusterMap(new Uint8Array([1, 2, 3]), vendor.publicKey))).name).toBe('SignatureError')
  })

  it('refuses a map not newer than the one in use (rollback)', async () => {
    const sealed = await sealClusterMap(sampleMap({ sequence: 3 }), vendor)
    expect((await openClusterMap(sealed, vendor.publicKey, { installedSequence: 2 })).map.sequence).toBe(3)
    for (const installedSequence of [3, 4]) {
      const err = await rejected(openClusterMap(sealed, vendor.publicKey, { installedSequence }))
      expect([err.name, err.reason]).toEqual(['ClusterMapRefusedError', 'rollback'])
    }
  })

  it('end to end: every machine of a census finds, through the opened map, the cluster clustering gave it', async () => {
    const env = (i: number) => [fact('php.ini', 'x', String(i % 7)), fact('my.cnf', 'y', String(i % 3)), fact('libc', '', String(i % 2))]
    const machines = Array.from({ length: 300 }, (_, i) => machinesWith(env(i), 1)[0]!)
    const { clusters } = clusterCensus(machines, { diameter: 1, reference: env(0) })
    const map = buildClusterMap({ app: 'webshop', sequence: 1, created: CREATED, diameter: 1, clusters })
    const opened = await openClusterMap(await sealClusterMap(map, vendor), trustedVendorKeys({ webshop: [publicKeyToText(vendor.publicKey)] }))
    const nameOf = new Map(clusters.flatMap(c => c.digests.map(d => [d, c.name] as const)))
    for (const m of machines) expect(clusterFor(opened.map, m.digest)).toBe(nameOf.get(m.digest))
    expect(opened.map.clusters.reduce((sum, c) => sum + c.machines, 0)).toBe(300)
    expect(opened.map.clusters[0]?.name).toBe('c01')
  })

  it('validates what it builds: a map built from clustering passes validateClusterMap unchanged', () => {
    const map = sampleMap()
    expect(validateClusterMap(map)).toEqual(map)
  })
})
