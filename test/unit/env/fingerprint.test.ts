import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  checkFingerprint, checkResources, clusterIdOf, diffFingerprints, fingerprintDigest, fingerprintEnvironment,
  formatFingerprintDiff, parseDpkgStatus, parseEnvSpec, packageMatches
} from '../../../src/env/index.ts'
import type { Fact, Fingerprint, ResourceSpecInput } from '../../../src/env/index.ts'

const FIXTURES = new URL('../../fixtures/env/', import.meta.url).pathname

const DPKG_STATUS = `Package: libmysqlclient21
Status: install ok installed
Architecture: amd64
Version: 8.0.36-0+deb12u1

Package: php8.2-mysql
Status: install ok installed
Architecture: amd64
Version: 8.2.7-1~deb12u1

Package: php8.2-old
Status: deinstall ok config-files
Architecture: amd64
Version: 8.2.1-1
`

/** The resources a web shop depends on, paths as on a real machine. */
const RESOURCES: ResourceSpecInput[] = [
  { name: 'php.ini', kind: 'ini', path: '/etc/php/8.2/apache2/php.ini' },
  { name: 'my.cnf', kind: 'mycnf', path: '/etc/mysql/my.cnf' },
  { name: 'apache2.conf', kind: 'apache', path: '/etc/apache2/apache2.conf' },
  { name: 'app.json', kind: 'json', path: '/srv/shop/app.json' },
  { name: 'app.yaml', kind: 'yaml', path: '/srv/shop/app.yaml', relevant: false },
  { name: 'httpd', kind: 'binary', path: '/usr/sbin/apache2' },
  { name: 'modules', kind: 'binary', path: '/usr/lib/apache2/modules/*.so' },
  { name: 'motd', kind: 'text', path: '/etc/motd', relevant: false },
  { name: 'lang', kind: 'env', variable: 'LANG' },
  { name: 'echo', kind: 'command', command: ['/bin/echo', 'kernel', '6.1'] },
  { name: 'debs', kind: 'packages', packages: ['libmysqlclient*', 'php8.2-*', 'nginx'] }
]

let work: string
beforeEach(async () => { work = await mkdtemp(join(tmpdir(), 'mirage-fp-')) })
afterEach(async () => { await rm(work, { recursive: true, force: true }) })

/** A machine's root directory laid out like a Debian web server, from the fixtures. */
async function machine (name: string): Promise<string> {
  const root = join(work, name)
  await mkdir(join(root, 'etc/php/8.2/apache2'), { recursive: true })
  await cp(join(FIXTURES, 'php.ini'), join(root, 'etc/php/8.2/apache2/php.ini'))
  await cp(join(FIXTURES, 'mysql'), join(root, 'etc/mysql'), { recursive: true })
  await cp(join(FIXTURES, 'apache2'), join(root, 'etc/apache2'), { recursive: true })
  await mkdir(join(root, 'srv/shop'), { recursive: true })
  await cp(join(FIXTURES, 'app.json'), join(root, 'srv/shop/app.json'))
  await cp(join(FIXTURES, 'app.yaml'), join(root, 'srv/shop/app.yaml'))
  await mkdir(join(root, 'usr/sbin'), { recursive: true })
  await writeFile(join(root, 'usr/sbin/apache2'), 'ELF apache 2.4.57')
  await mkdir(join(root, 'usr/lib/apache2/modules'), { recursive: true })
  await writeFile(join(root, 'usr/lib/apache2/modules/mod_php.so'), 'php module')
  await writeFile(join(root, 'usr/lib/apache2/modules/mod_ssl.so'), 'ssl module')
  await writeFile(join(root, 'etc/motd'), 'Welcome\n')
  await mkdir(join(root, 'var/lib/dpkg'), { recursive: true })
  await writeFile(join(root, 'var/lib/dpkg/status'), DPKG_STATUS)
  return root
}

async function fingerprint (root: string, env: NodeJS.ProcessEnv = { LANG: 'C.UTF-8' }, resources = RESOURCES): Promise<Fingerprint> {
  return fingerprintEnvironment({ app: 'webshop', resources: checkResources(resources, 'test') }, { root, environment: env })
}

async function edit (file: string, change: (text: string) => string): Promise<void> {
  await writeFile(file, change(await readFile(file, 'utf8')))
}

/** Facts that differ between two fingerprints, as "resource item". */
function changedFacts (a: Fingerprint, b: Fingerprint): string[] {
  const key = (f: Fact): string => `${f.resource} ${f.item}`
  const inB = new Map(b.facts.map(f => [key(f), f.value]))
  const inA = new Map(a.facts.map(f => [key(f), f.value]))
  return [...new Set([...inA.keys(), ...inB.keys()])].filter(k => inA.get(k) !== inB.get(k)).sort()
}

describe('fingerprints', () => {
  it('reads every kind of resource into facts whose values are salted hashes', async () => {
    const fp = await fingerprint(await machine('m1'))
    expect(Object.keys(fp.resources)).toEqual(RESOURCES.map(r => r.name).sort())
    for (const fact of fp.facts) expect(fact.value).toMatch(/^[0-9a-f]{32}$/)
    const items = (resource: string): string[] => fp.facts.filter(f => f.resource === resource).map(f => f.item)
    expect(items('php.ini').length).toBeGreaterThan(20)
    expect(items('my.cnf').some(i => i.startsWith('mysqld.'))).toBe(true)
    expect(items('apache2.conf').some(i => /LoadModule/i.test(i))).toBe(true)
    expect(items('modules')).toEqual(['/usr/lib/apache2/modules/mod_php.so', '/usr/lib/apache2/modules/mod_ssl.so'])
    expect(items('debs')).toEqual(['libmysqlclient21:amd64', 'nginx', 'php8.2-mysql:amd64'])
    expect(items('lang')).toEqual([''])
    // No value leaks: the raw text of a value appears nowhere.
    expect(JSON.stringify(fp)).not.toContain('C.UTF-8')
    expect(JSON.stringify(fp)).not.toContain('8.0.36')
    expect(fp.notes).toEqual([])
  })

  it('is identical for identical environments in different places, and depends on the salt', async () => {
    const a = await fingerprint(await machine('m1'))
    const b = await fingerprint(await machine('m2'))
    expect(b).toEqual(a)
    expect(clusterIdOf(b)).toBe(clusterIdOf(a))
    const salted = await fingerprintEnvironment({ app: 'webshop', salt: 'vendor-salt', resources: checkResources(RESOURCES, 'test') }, { root: join(work, 'm1'), environment: { LANG: 'C.UTF-8' } })
    expect(salted.facts.map(f => f.value)).not.toEqual(a.facts.map(f => f.value))
  })

  it('changes exactly one fact when one directive changes, and none for comments or order', async () => {
    const root = await machine('m1')
    const before = await fingerprint(root)
    const ini = join(root, 'etc/php/8.2/apache2/php.ini')
    await edit(ini, t => `; a new comment\n\n${t.replace(/^memory_limit\s*=.*$/m, 'memory_limit = 512M')}`)
    expect(changedFacts(before, await fingerprint(root))).toEqual(['php.ini PHP.memory_limit'])
    const cnf = join(root, 'etc/mysql/conf.d/mysqld.cnf')
    await edit(cnf, t => `# tuned by the owner\n${t.split('\n').reverse().join('\n').replace(/^\[mysqld\]$/m, '')}`.replace(/^/, '[mysqld]\n'))
    expect(changedFacts(before, await fingerprint(root))).toEqual(['php.ini PHP.memory_limit'])
  })

  it('keeps the cluster id when only irrelevant resources change', async () => {
    const root = await machine('m1')
    const before = await fingerprint(root)
    await writeFile(join(root, 'etc/motd'), 'Hello\n')
    await edit(join(root, 'srv/shop/app.yaml'), t => `${t}\nextra: 1\n`)
    const after = await fingerprint(root)
    expect(changedFacts(before, after).length).toBeGreaterThan(0)
    expect(clusterIdOf(after)).toBe(clusterIdOf(before))
    expect(fingerprintDigest(after)).toBe(fingerprintDigest(before))
    await writeFile(join(root, 'usr/lib/apache2/modules/mod_ssl.so'), 'ssl module 2')
    expect(clusterIdOf(await fingerprint(root))).not.toBe(clusterIdOf(before))
  })

  it('records missing resources as facts and parses a malformed file as text, with a note', async () => {
    const root = await machine('m1')
    const before = await fingerprint(root)
    await rm(join(root, 'usr/sbin/apache2'))
    await rm(join(root, 'var/lib/dpkg/status'))
    await writeFile(join(root, 'srv/shop/app.json'), '{"broken": ')
    const after = await fingerprint(root, {})
    expect(after.facts.filter(f => f.resource === 'httpd').map(f => f.item)).toEqual([''])
    expect(changedFacts(before, after)).toContain('httpd ')
    expect(changedFacts(before, after)).toContain('lang ')
    expect(after.notes.join('\n')).toMatch(/app\.json: \/srv\/shop\/app\.json.*fingerprinted as plain text/)
    expect(after.notes.join('\n')).not.toContain(work)
    expect(after.notes.join('\n')).toContain('no Debian package database')
    // Too many lines even for the text fallback: the content hash stands in.
    await writeFile(join(root, 'srv/shop/app.json'), `{\n${Array.from({ length: 10_001 }, (_v, i) => `"k${i}": ${i}`).join('\n')}`)
    const huge = await fingerprint(root, {})
    expect(huge.facts.filter(f => f.resource === 'app.json').map(f => f.item)).toEqual([''])
    expect(huge.notes.join('\n')).toMatch(/app\.json: .*fingerprinted by content hash/)
  })

  it('explains differences resource by resource and item by item', async () => {
    const a = await fingerprint(await machine('m1'))
    const rootB = await machine('m2')
    await edit(join(rootB, 'etc/php/8.2/apache2/php.ini'), t => t.replace(/^memory_limit\s*=.*$/m, 'memory_limit = 1G'))
    await writeFile(join(rootB, 'etc/motd'), 'other\n')
    const b = await fingerprint(rootB, { LANG: 'de_DE.UTF-8' })
    const diff = diffFingerprints(a, b)
    expect(diff.sameCluster).toBe(false)
    expect(diff.resources.map(r => r.resource)).toEqual(['lang', 'motd', 'php.ini'])
    expect(diff.resources.find(r => r.resource === 'php.ini')?.changed).toEqual(['PHP.memory_limit'])
    const text = formatFingerprintDiff(diff, { a: 'A', b: 'B' })
    expect(text).toContain('PHP.memory_limit: different value')
    expect(text).toContain('motd (not relevant)')
    expect(diffFingerprints(a, a).same).toBe(true)
  })
})

describe('fingerprint files', () => {
  it('round-trips through JSON and refuses malformed ones with the field named', async () => {
    const fp = await fingerprint(await machine('m1'))
    expect(checkFingerprint(JSON.parse(JSON.stringify(fp)), 'f')).toEqual(fp)
    expect(() => checkFingerprint({ ...fp, format: 2 }, 'f.json')).toThrow(/f\.json: format/)
    expect(() => checkFingerprint({ ...fp, facts: [{ resource: 'x', item: '', value: 'zz' }] }, 'f')).toThrow(/facts\.0\.value: must be a value hash/)
    expect(() => checkFingerprint({ ...fp, facts: [...fp.facts].reverse() }, 'f')).toThrow(/sorted/)
    expect(() => checkFingerprint({ ...fp, facts: [{ resource: 'ghost', item: '', value: 'a'.repeat(32) }] }, 'f')).toThrow(/not listed/)
    expect(() => checkFingerprint({ ...fp, facts: Array.from({ length: 100_001 }, () => fp.facts[0]) }, 'f')).toThrow(/facts/)
    expect(() => checkFingerprint('not an object', 'f')).toThrow(/f:/)
    expect(() => checkFingerprint(JSON.parse('{"format":1,"app":"w","resources":{"__proto__":{"kind":"text","relevant":true,"weight":1}},"facts":[],"notes":[]}'), 'f')).toThrow(/resource name/)
  })
})

describe('env specs', () => {
  it('accepts a spec and names the field of every mistake', () => {
    const spec = parseEnvSpec(JSON.stringify({ format: 1, app: 'webshop', resources: RESOURCES }), 'spec.json')
    expect(spec.resources.find(r => r.name === 'php.ini')).toMatchObject({ relevant: true, weight: 1 })
    const bad = (resources: unknown[]): string => {
      try {
        parseEnvSpec(JSON.stringify({ format: 1, app: 'webshop', resources }), 'spec.json')
        return 'accepted'
      } catch (err) { return (err as Error).message }
    }
    expect(bad([{ name: 'x', kind: 'ini' }])).toMatch(/resources\[0\]\.path: a ini resource needs "path"/)
    expect(bad([{ name: 'x', kind: 'env', path: '/a' }])).toMatch(/resources\[0\]\.path: a env resource takes "variable"/)
    expect(bad([{ name: 'x', kind: 'ini', path: 'relative.ini' }])).toMatch(/must be absolute/)
    expect(bad([{ name: 'x', kind: 'nope', path: '/a' }])).toMatch(/resources\[0\]\.kind/)
    expect(bad([{ name: 'x', kind: 'text', path: '/a' }, { name: 'x', kind: 'text', path: '/b' }])).toMatch(/resources\[1\]\.name: "x" is already/)
    expect(bad([{ name: 'x', kind: 'text', path: '/a', surprise: 1 }])).toMatch(/resources\[0\]/)
    expect(() => parseEnvSpec('{', 'spec.json')).toThrow(/spec\.json: not JSON/)
    expect(() => parseEnvSpec(' '.repeat(1024 * 1024 + 1), 'spec.json')).toThrow(/larger than/)
  })
})

describe('the Debian package database', () => {
  it('lists installed packages only, and matches globs', () => {
    expect(parseDpkgStatus(DPKG_STATUS).map(p => `${p.name}=${p.version}`)).toEqual(['libmysqlclient21=8.0.36-0+deb12u1', 'php8.2-mysql=8.2.7-1~deb12u1'])
    expect(parseDpkgStatus('garbage\n\n: no name\nPackage:\n')).toEqual([])
    expect(packageMatches('php8.2-*', 'php8.2-mysql')).toBe(true)
    expect(packageMatches('php8.2-*', 'php8.20')).toBe(false)
    expect(packageMatches('lib?ysql*', 'libmysqlclient21')).toBe(true)
  })
})
