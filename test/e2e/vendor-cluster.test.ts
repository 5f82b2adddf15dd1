/**
 * `mirage vendor census` and `mirage vendor cluster` through the real
 * command: the census fetched from a control API, a signed map that
 * `openClusterMap` accepts, sequences that grow, the options, and the exit
 * codes of bad input (1, naming the entry) and bad usage (2).
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterFor, openClusterMap } from '../../src/cluster/index.ts'
import { fingerprintDigest } from '../../src/env/index.ts'
import { startControlServer } from '../../src/node/control-server.ts'
import { publicKeyFromText } from '../../src/trust/index.ts'
import { makeMachine, sampleFingerprint, valueHash } from '../helpers/census-fixtures.ts'
import { runMirage } from '../helpers/run-mirage.ts'
import type { Fingerprint } from '../../src/env/index.ts'

let work: string
let vendorDir: string
let censusFile: string
let census: Array<{ peerId: string, receivedAt: number, fingerprint: Fingerprint }>

/** A fingerprint `distance` php.ini items away from the sample (each weighs 0.5). */
function variant (changed: number): Fingerprint {
  const fingerprint = sampleFingerprint()
  const extra = Array.from({ length: changed }, (_, i) => ({ resource: 'php.ini', item: `PHP.extra_${i}`, value: valueHash(`extra-${i}`) }))
  fingerprint.facts = [...fingerprint.facts, ...extra].sort((a, b) => a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : a.item < b.item ? -1 : a.item > b.item ? 1 : 0)
  return fingerprint
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mirage-e2e-cluster-'))
  vendorDir = join(work, 'vendor')
  const init = await runMirage(['vendor', 'init', '--dir', vendorDir])
  expect(init.code, init.stderr).toBe(0)
  // Five machines: three identical, one an item away, one far away (8 items).
  const fingerprints = [variant(0), variant(0), variant(0), variant(1), variant(8)]
  census = await Promise.all(fingerprints.map(async (fingerprint, i) => ({ peerId: (await makeMachine()).peerId.toString(), receivedAt: 1_790_000_000_000 + i, fingerprint })))
  censusFile = join(work, 'census.json')
  await writeFile(censusFile, `[\n${census.map(e => JSON.stringify(e)).join(',\n')}\n]\n`)
})

afterAll(async () => { await rm(work, { recursive: true, force: true }) })

async function openMap (file: string): Promise<Awaited<ReturnType<typeof openClusterMap>>> {
  const publicKey = publicKeyFromText((await readFile(join(vendorDir, 'vendor.pub'), 'utf8')).trim())
  return openClusterMap(await readFile(file), publicKey)
}

describe('mirage vendor cluster', () => {
  it('writes a signed map that openClusterMap accepts, prints the table, and the sequence grows', async () => {
    const first = await runMirage(['vendor', 'cluster', '--vendor', vendorDir, '--app', 'webshop', '--census', censusFile, '--diameter', '0.5'])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/cluster map webshop sequence 1 \(diameter 0\.5\)/)
    expect(first.stdout).toMatch(/cluster\s+machines\s+fingerprints\s+order/)
    expect(first.stdout).toMatch(/c01\s+4\s+2\s+1/)
    expect(first.stdout).toMatch(/c02\s+1\s+1\s+2/)
    expect(first.stdout).toMatch(/2 clusters, 5 machines, 3 distinct fingerprints, \d+ ms/)
    const { map } = await openMap(join(vendorDir, 'cluster-maps', 'webshop-1.cbor'))
    expect(map.sequence).toBe(1)
    for (const entry of census) expect(clusterFor(map, fingerprintDigest(entry.fingerprint))).toBeDefined()

    const second = await runMirage(['vendor', 'cluster', '--vendor', vendorDir, '--app', 'webshop', '--census', censusFile, '--diameter', '10', '--json'])
    expect(second.code, second.stderr).toBe(0)
    const result = JSON.parse(second.stdout) as { sequence: number, file: string, clusters: unknown[], totals: { machines: number, fingerprints: number } }
    expect(result).toMatchObject({ sequence: 2, clusters: [{ name: 'c01', machines: 5, fingerprints: 3, order: 1 }], totals: { machines: 5, fingerprints: 3 } })
    expect((await openMap(result.file)).map.sequence).toBe(2)
    expect(JSON.parse(await readFile(join(vendorDir, 'cluster-maps.json'), 'utf8'))).toMatchObject({ webshop: { sequence: 2, clusters: 1, machines: 5 } })

    const lower = await runMirage(['vendor', 'cluster', '--vendor', vendorDir, '--app', 'webshop', '--census', censusFile, '--diameter', '1', '--sequence', '2'])
    expect(lower.code).toBe(1)
    expect(lower.stderr).toContain('sequence 2 is not above 2')
  })

  it('takes --out, --weights, --reference, --prefix and an explicit --sequence', async () => {
    const weights = join(work, 'weights.json')
    // php.ini now weighs 0.125 an item: the far machine (8 items) is 1 away.
    await writeFile(weights, JSON.stringify({ 'php.ini': 0.125 }))
    const reference = join(work, 'reference.json')
    await writeFile(reference, JSON.stringify({ webshop: variant(8) }))
    const out = join(work, 'map.cbor')
    const run = await runMirage(['vendor', 'cluster', '--vendor', vendorDir, '--app', 'webshop', '--census', censusFile, '--diameter', '0.2',
      '--weights', weights, '--reference', reference, '--prefix', 'php-', '--sequence', '10', '--out', out, '--json'])
    expect(run.code, run.stderr).toBe(0)
    const { map } = await openMap(out)
    expect(map).toMatchObject({ sequence: 10, weights: { 'php.ini': 0.125, libmysql: 2 } })
    // Closest to the reference first: the far machine's own cluster leads.
    expect(map.clusters[0]).toMatchObject({ name: 'php-01', machines: 1 })
    expect(clusterFor(map, fingerprintDigest(variant(8)))).toBe('php-01')
  })

  it('a malformed census exits 1 naming the entry; bad input files exit 1', async () => {
    const bad = join(work, 'bad-census.json')
    const broken = census.map((e, i) => i === 3 ? { ...e, fingerprint: { ...e.fingerprint, facts: [...e.fingerprint.facts].reverse() } } : e)
    await writeFile(bad, JSON.stringify(broken))
    const run = await runMirage(['vendor', 'cluster', '--vendor', vendorDir, '--app', 'webshop', '--census', bad, '--diameter', '1'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`entry [3] (peer ${census[3]?.peerId ?? ''})`)
    expect(run.stderr).toContain('sorted')
    expect(run.stderr).not.toContain('bug')

    const wrongApp = await runMirage(['vendor', 'cluster', '--vendor', vendorDir, '--app', 'blog', '--census', censusFile, '--diameter', '1'])
    expect(wrongApp.code).toBe(1)
    expect(wrongApp.stderr).toContain('entry [0]')

    const weights = join(work, 'bad-weights.json')
    await writeFile(weights, JSON.stringify({ 'php.ini': -1 }))
    const badWeights = await runMirage(['vendor', 'cluster', '--vendor', vendorDir, '--app', 'webshop', '--census', censusFile, '--diameter', '1', '--weights', weights])
    expect(badWeights.code).toBe(1)
    expect(badWeights.stderr).toContain('bad-weights.json')
    // Nothing was signed by the failed runs.
    expect((await readdir(join(vendorDir, 'cluster-maps'))).sort()).toEqual(['webshop-1.cbor', 'webshop-2.cbor'])
  })

  it('bad usage exits 2 with a clear message', async () => {
    const base = ['vendor', 'cluster', '--vendor', vendorDir, '--app', 'webshop', '--census', censusFile]
    for (const [args, text] of [
      [[...base, '--diameter=-1'], '--diameter must be a number'],
      [[...base, '--diameter', '1e400'], '--diameter must be a number'],
      [[...base, '--diameter', 'wide'], '--diameter must be a number'],
      [base, 'missing --diameter'],
      [[...base, '--diameter', '1', '--sequence', '0'], '--sequence'],
      [[...base, '--diameter', '1', '--prefix', '../x'], '--prefix'],
      [['vendor', 'cluster', '--vendor', vendorDir, '--app', 'Web Shop', '--census', censusFile, '--diameter', '1'], '--app must be an app name']
    ] as Array<[string[], string]>) {
      const run = await runMirage(args)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr).toContain(text)
      expect(run.stderr).toContain('mirage vendor cluster --help')
    }
  })
})

describe('mirage vendor census', () => {
  it('writes the census a running seed serves, atomically and validated', async () => {
    const seedDir = join(work, 'seed')
    const { mkdir } = await import('node:fs/promises')
    await mkdir(seedDir)
    const config = join(work, 'seed.json')
    await writeFile(config, JSON.stringify({ dataDir: seedDir }))
    const control = await startControlServer(seedDir, {
      status: async () => ({}),
      async * census (app: string) { if (app === 'webshop') yield * census }
    })
    try {
      const out = join(work, 'fetched.json')
      const run = await runMirage(['vendor', 'census', '--config', config, '--app', 'webshop', '--out', out])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain('census of webshop: 5 machines, 3 distinct fingerprints')
      expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(census)
      const toStdout = await runMirage(['vendor', 'census', '--config', config, '--app', 'webshop'])
      expect(JSON.parse(toStdout.stdout)).toEqual(census)
      const empty = await runMirage(['vendor', 'census', '--config', config, '--app', 'blog', '--json', '--out', join(work, 'empty.json')])
      expect(JSON.parse(empty.stdout)).toMatchObject({ app: 'blog', machines: 0, fingerprints: 0 })
    } finally {
      await control.close()
    }
    const none = await runMirage(['vendor', 'census', '--config', config, '--app', 'webshop'])
    expect(none.code).toBe(1)
    expect(none.stderr).toContain('no Mirage node is running')
  })
})
