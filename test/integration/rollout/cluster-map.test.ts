import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { buildClusterMap, clusterCensus, sealClusterMap } from '../../../src/cluster/index.ts'
import { decodeTestOutcome } from '../../../src/overlay/index.ts'
import { openStore } from '../../../src/store/index.ts'
import { SIGNATURE_DOMAINS, openEnvelope } from '../../../src/trust/index.ts'
import { checkResources, clusterIdOf, fingerprintCluster, fingerprintDigest, fingerprintEnvironment, relevantFacts } from '../../../src/env/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import { APP, Swarm } from './swarm.ts'
import type { ClusterSpec, ResourceSpecInput } from '../../../src/env/index.ts'
import type { MachineSpec } from './swarm.ts'

/** What the web shop depends on; the tuning file matters little to the vendor. */
const RESOURCES: ResourceSpecInput[] = [
  { name: 'php.ini', kind: 'ini', path: '/etc/php5/apache2/php.ini' },
  { name: 'php-tuning', kind: 'ini', path: '/etc/php5/conf.d/tuning.ini', weight: 0.25 },
  { name: 'apache2.conf', kind: 'apache', path: '/etc/apache2/apache2.conf' },
  { name: 'motd', kind: 'text', path: '/etc/motd', relevant: false }
]
const WEIGHTS = { 'php-tuning': 0.25 }
const DIAMETER = 0.5

/** Three environments: lenny, lenny with other tuning (same cluster to the vendor), squeeze. */
const ENVIRONMENTS: Record<string, { php: string, tuning: string, apache: string }> = {
  lenny: { php: '[PHP]\nregister_globals = Off\nextension = mysql.so\n', tuning: '[PHP]\nmemory_limit = 128M\n', apache: 'ServerRoot /etc/apache2\nListen 80\nInclude sites/*.conf\n' },
  'lenny-tuned': { php: '[PHP]\nextension = mysql.so\nregister_globals = Off\n', tuning: '[PHP]\nmemory_limit = 512M\n', apache: 'ServerRoot /etc/apache2\n# tuned\nListen 80\nInclude sites/*.conf\n' },
  squeeze: { php: '[PHP]\nregister_globals = Off\nextension = mysqli.so\n', tuning: '[PHP]\nmemory_limit = 128M\n', apache: 'ServerRoot /etc/apache2\nListen 80\nIncludeOptional sites/*.conf\n' }
}
const MACHINES = [
  { name: 'l1', env: 'lenny' }, { name: 'l2', env: 'lenny' }, { name: 't1', env: 'lenny-tuned' },
  { name: 's1', env: 'squeeze' }, { name: 's2', env: 'squeeze' }, { name: 's3', env: 'squeeze' }
]

let swarm: Swarm | undefined
afterEach(async () => { await swarm?.teardown(); swarm = undefined })

async function environmentOf (s: Swarm, name: string, env: string): Promise<ClusterSpec> {
  const root = join(s.work, 'environments', name)
  const files = ENVIRONMENTS[env]
  if (files === undefined) throw new Error(`no environment ${env}`)
  await mkdir(join(root, 'etc/php5/apache2'), { recursive: true })
  await mkdir(join(root, 'etc/php5/conf.d'), { recursive: true })
  await mkdir(join(root, 'etc/apache2/sites'), { recursive: true })
  await writeFile(join(root, 'etc/php5/apache2/php.ini'), files.php)
  await writeFile(join(root, 'etc/php5/conf.d/tuning.ini'), files.tuning)
  await writeFile(join(root, 'etc/apache2/apache2.conf'), files.apache)
  await writeFile(join(root, 'etc/apache2/sites/shop.conf'), '<VirtualHost *:80>\nDocumentRoot /var/www/shop\n</VirtualHost>\n')
  await writeFile(join(root, 'etc/motd'), `This is ${name}\n`)
  return { resources: RESOURCES, root }
}

describe('clusters from real environments and a vendor cluster map', () => {
  it('announces environment cluster ids, moves machines by the vendor map, and stages a release by map clusters', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    const seed = await s.startSeed()
    const specs = new Map<string, MachineSpec>()
    for (const m of MACHINES) specs.set(m.name, { name: m.name, cluster: '', environment: await environmentOf(s, m.name, m.env) })
    await Promise.all([...specs.values()].map(async spec => s.start(spec)))

    // Each machine's cluster is the digest of its relevant environment: identical environments share one.
    const fingerprints = new Map(await Promise.all(MACHINES.map(async m => [m.name, await fingerprintCluster(APP, specs.get(m.name)?.environment ?? {})] as const)))
    const clusterNow = async (name: string): Promise<string | undefined> => (await s.machines.get(name)?.node?.status())?.apps[0]?.clusterId
    for (const m of MACHINES) expect(await clusterNow(m.name), m.name).toBe(clusterIdOf(fingerprints.get(m.name) ?? fingerprints.get('l1')!))
    expect(await clusterNow('l1')).toBe(await clusterNow('l2'))
    expect(await clusterNow('t1')).not.toBe(await clusterNow('l1'))
    expect(await clusterNow('s1')).toBe(await clusterNow('s3'))

    // The vendor clusters the census: other tuning is within the diameter, another Apache config is not.
    const clustering = clusterCensus(MACHINES.map(m => {
      const fp = fingerprints.get(m.name)!
      return { digest: fingerprintDigest(fp), facts: relevantFacts(fp) }
    }), { diameter: DIAMETER, weights: WEIGHTS, reference: relevantFacts(fingerprints.get('l1')!) })
    expect(clustering.clusters.length).toBe(2)
    const map = buildClusterMap({ app: APP, sequence: 1, created: Date.now(), diameter: DIAMETER, weights: WEIGHTS, clusters: clustering.clusters })
    const mapFile = join(s.work, 'cluster-map.cbor')
    await writeFile(mapFile, await sealClusterMap(map, s.vendor.key))
    const [first, second] = map.clusters.map(c => c.name)
    const expected: Record<string, string | undefined> = { l1: first, l2: first, t1: first, s1: second, s2: second, s3: second }
    await seed.seedClusterMap(mapFile)

    await waitFor('every machine in its map cluster', async () => {
      for (const m of MACHINES) if (await clusterNow(m.name) !== expected[m.name]) return false
      return true
    }, { timeoutMs: 60_000, intervalMs: 250, describe: async () => s.describe() })

    // A release staged by the map's clusters: the second after the first.
    await s.seedRelease({
      style: 'staged',
      clusters: [{ name: first, k: 1, q: 1 }, { name: second, after: [first], k: 1, q: 1 }],
      default: { after: [second], k: 1, q: 1 },
      startTimeoutMs: 20_000,
      reportGraceMs: 5_000
    })
    await waitFor('every machine to install', async () => {
      for (const m of MACHINES) if ((await s.releaseStatus(m.name))?.state !== 'installed') return false
      return true
    }, { timeoutMs: 180_000, intervalMs: 500, describe: async () => s.describe() })

    for (const m of MACHINES) expect(await clusterNow(m.name)).toBe(expected[m.name])
    const statuses = new Map(await Promise.all(MACHINES.map(async m => [m.name, (await s.releaseStatus(m.name))!] as const)))
    // The release was rolled out in the map's clusters: each machine of the
    // second began (testing or downloading) only after it held a pass of the
    // first, from the persisted records.
    for (const m of MACHINES.filter(m => expected[m.name] === second)) {
      await s.stop(m.name)
      const store = await openStore({ dir: join(s.machines.get(m.name)?.config.dataDir ?? '', 'store') })
      try {
        const passes: number[] = []
        for await (const [, o] of store.outcomes.entries({ prefix: `${s.release?.id ?? ''}/${first ?? ''}/` })) {
          if (decodeTestOutcome((await openEnvelope(o.envelope, SIGNATURE_DOMAINS.outcome)).payload).pass) passes.push(o.receivedAt)
        }
        const status = statuses.get(m.name)!
        const began = Math.min(status.at.testing ?? Infinity, status.at.downloading ?? Infinity)
        expect(passes.length, `${m.name} holds a pass of ${first}`).toBeGreaterThanOrEqual(1)
        expect(began, `${m.name} (in ${second}) began after a pass of ${first}`).toBeGreaterThanOrEqual(Math.min(...passes))
      } finally {
        await store.close()
      }
    }
  })

  it('re-clusters machines by the env spec a release ships, and stages that release by those clusters', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    await s.startSeed()
    // The owners name no resources: before the release, every machine is in one cluster.
    const machines = [{ name: 'p1', env: 'lenny' }, { name: 'p2', env: 'lenny' }, { name: 'q1', env: 'squeeze' }]
    const roots = new Map<string, string>()
    for (const m of machines) {
      const environment = await environmentOf(s, m.name, m.env)
      roots.set(m.name, environment.root ?? '')
      await s.start({ name: m.name, cluster: '', environment: { root: environment.root } })
    }
    const clusterNow = async (name: string): Promise<string | undefined> => (await s.machines.get(name)?.node?.status())?.apps[0]?.clusterId
    const before = await clusterNow('p1')
    for (const m of machines) expect(await clusterNow(m.name)).toBe(before)

    // The vendor ships the resources that matter with the release; the plan names the clusters they give.
    const shipped = { resources: checkResources(RESOURCES, 'test') }
    const idOf = async (name: string): Promise<string> => clusterIdOf(await fingerprintEnvironment({ app: APP, resources: shipped.resources }, { root: roots.get(name) ?? '', environment: {} }))
    const [p, q] = [await idOf('p1'), await idOf('q1')]
    expect(await idOf('p2')).toBe(p)
    expect(q).not.toBe(p)
    await s.seedRelease({
      style: 'staged',
      clusters: [{ name: p, k: 1, q: 1 }, { name: q, after: [p], k: 1, q: 1 }],
      default: { after: [q], k: 1, q: 1 },
      startTimeoutMs: 20_000,
      reportGraceMs: 5_000
    }, { envSpec: shipped })
    await waitFor('every machine to install', async () => {
      for (const m of machines) if ((await s.releaseStatus(m.name))?.state !== 'installed') return false
      return true
    }, { timeoutMs: 180_000, intervalMs: 500, describe: async () => s.describe() })
    expect(await clusterNow('p1')).toBe(p)
    expect(await clusterNow('p2')).toBe(p)
    expect(await clusterNow('q1')).toBe(q)
    const q1 = await s.releaseStatus('q1')
    const firstOfP = Math.min(...await Promise.all(['p1', 'p2'].map(async n => (await s.releaseStatus(n))?.at.testing ?? Infinity)))
    // q1 (the only member of its cluster) tests only after p's representative did.
    expect(q1?.at.testing ?? 0).toBeGreaterThan(firstOfP)
  })
})
