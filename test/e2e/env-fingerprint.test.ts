import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSigningKey, publicKeyToText } from '../../src/trust/index.ts'
import { runMirage } from '../helpers/run-mirage.ts'

let work: string
let vendorKey: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mirage-env-cli-'))
  vendorKey = publicKeyToText((await generateSigningKey()).publicKey)
})
afterAll(async () => { await rm(work, { recursive: true, force: true }) })

/** A machine: an environment dir, a spec and a node config pointing at both. */
async function machine (name: string, phpIni: string): Promise<string> {
  const dir = join(work, name)
  await mkdir(join(dir, 'root/etc/php'), { recursive: true })
  await writeFile(join(dir, 'root/etc/php/php.ini'), phpIni)
  await writeFile(join(dir, 'root/etc/motd'), `Welcome to ${name}\n`)
  await writeFile(join(dir, 'spec.json'), JSON.stringify({
    format: 1,
    app: 'webshop',
    resources: [
      { name: 'php.ini', kind: 'ini', path: '/etc/php/php.ini' },
      { name: 'motd', kind: 'text', path: '/etc/motd', relevant: false }
    ]
  }))
  const config = join(dir, 'node.json')
  await writeFile(config, JSON.stringify({
    dataDir: 'data',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    apps: { webshop: { vendorKeys: [vendorKey], installDir: 'install', cluster: { spec: 'spec.json', root: 'root' } } }
  }))
  return config
}

describe('mirage env fingerprint and env diff', () => {
  it('fingerprints a machine, and explains what differs between two', async () => {
    const a = await machine('a', '[PHP]\nmemory_limit = 128M\nregister_globals = Off\n')
    const b = await machine('b', '[PHP]\n; tuned\nregister_globals = Off\nmemory_limit = 256M\n')
    const human = await runMirage(['env', 'fingerprint', '--config', a])
    expect(human.stderr).toBe('')
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/webshop: 2 resources, 3 facts, digest [0-9a-f]{64}/)
    expect(human.stdout).toMatch(/cluster env-[a-z2-7]{26} \(from the relevant resources\)/)
    expect(human.stdout).toContain('motd [text, not relevant]')

    for (const [name, config] of [['a', a], ['b', b]] as const) {
      const json = await runMirage(['env', 'fingerprint', '--config', config, '--json', '--app', 'webshop'])
      expect(json.code).toBe(0)
      await writeFile(join(work, `${name}.json`), json.stdout)
    }
    const diff = await runMirage(['env', 'diff', join(work, 'a.json'), join(work, 'b.json')])
    expect(diff.code).toBe(1)
    expect(diff.stdout).toContain('different clusters')
    expect(diff.stdout).toContain('PHP.memory_limit: different value')
    expect(diff.stdout).toContain('motd (not relevant)')
    expect(diff.stdout).not.toContain('register_globals')
    const same = await runMirage(['env', 'diff', join(work, 'a.json'), join(work, 'a.json')])
    expect(same.code).toBe(0)
    expect(same.stdout).toContain('identical environments')
  })

  it('names what is wrong with bad input', async () => {
    await writeFile(join(work, 'junk.json'), '{"webshop": {"format": 1, "app": "webshop", "resources": {}, "facts": [{}], "notes": []}}')
    const junk = await runMirage(['env', 'diff', join(work, 'junk.json'), join(work, 'junk.json')])
    expect(junk.code).toBe(1)
    expect(junk.stderr).toMatch(/junk\.json \(webshop\): facts\.0\.resource/)
    const usage = await runMirage(['env', 'diff', join(work, 'junk.json')])
    expect(usage.code).toBe(2)
    const config = join(work, 'bad-node.json')
    await writeFile(config, JSON.stringify({
      dataDir: 'data', listen: ['/ip4/127.0.0.1/tcp/0'], apps: { webshop: { vendorKeys: [vendorKey], installDir: 'i', cluster: { resources: [{ name: 'x', kind: 'ini' }] } } }
    }))
    const bad = await runMirage(['env', 'fingerprint', '--config', config])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/apps\.webshop\.cluster\.resources.*\[0\]\.path: a ini resource needs "path"/)
    const noApp = await runMirage(['env', 'fingerprint', '--config', await machine('c', ''), '--app', 'blog'])
    expect(noApp.code).toBe(2)
    expect(noApp.stderr).toContain('the config has no app "blog"')
  })
})
