/**
 * `mirage vendor halt`, `vendor clear` and `vendor publish --targets`
 * through the real command: overrides signed with growing sequences that
 * nodes accept, handed to a running seed's control API or, with no seed,
 * left in a file with the command that seeds it; the report key in every
 * published manifest; the note for a vendor directory older than report
 * keys; bad usage exits 2.
 */
import { createServer } from 'node:http'
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { controlSocketPath } from '../../src/node/index.ts'
import { validateOverride } from '../../src/overlay/index.ts'
import { inspectSignedRelease } from '../../src/release/index.ts'
import { trustedVendorKeys } from '../../src/trust/index.ts'
import { runMirage } from '../helpers/run-mirage.ts'
import type { Server } from 'node:http'

let work: string
let vendorDir: string
let seedDir: string
let seedConfig: string
let releaseDir: string
let releaseId: string
let vendorKey: string

async function publish (out: string, extra: string[] = []): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return runMirage(['vendor', 'publish', '--vendor', vendorDir, '--app', 'webshop', '--version', `2.1.${Math.floor(Math.random() * 1e6)}`,
    '--artifact', join(work, 'artifact'), '--plan', join(work, 'plan.json'), '--out', out, ...extra])
}

async function validate (file: string): ReturnType<typeof validateOverride> {
  return validateOverride(await readFile(file), {
    app: 'webshop', trust: trustedVendorKeys({ webshop: [vendorKey] }), releaseApp: () => 'webshop', highestSequence: () => undefined
  })
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mirage-e2e-overrides-'))
  vendorDir = join(work, 'vendor')
  const init = await runMirage(['vendor', 'init', '--dir', vendorDir, '--json'])
  expect(init.code, init.stderr).toBe(0)
  const keys = JSON.parse(init.stdout) as { publicKey: string, reportKey: string }
  expect(keys.reportKey).toMatch(/^mirage-report-key:/)
  vendorKey = keys.publicKey
  await mkdir(join(work, 'artifact'))
  await writeFile(join(work, 'artifact', 'mirage-test'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
  await writeFile(join(work, 'plan.json'), JSON.stringify({
    clusters: [{ name: 'A', k: 1, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }, { name: 'C', after: ['B'], k: 1, q: 1 }],
    default: { after: ['A'], k: 1, q: 1 }
  }))
  releaseDir = join(work, 'release-1')
  const published = await publish(releaseDir, ['--json'])
  expect(published.code, published.stderr).toBe(0)
  const result = JSON.parse(published.stdout) as { id: string, reportKey: string }
  expect(result.reportKey).toBe(keys.reportKey)
  releaseId = result.id
  seedDir = join(work, 'seed')
  await mkdir(seedDir)
  seedConfig = join(work, 'seed.json')
  await writeFile(seedConfig, JSON.stringify({ dataDir: seedDir }))
})

afterAll(async () => { await rm(work, { recursive: true, force: true }) })

describe('mirage vendor halt / clear with no seed running', () => {
  it('signs the override, says where it is and how to seed it', async () => {
    const run = await runMirage(['vendor', 'halt', '--vendor', vendorDir, '--release', releaseDir, '--reason', 'checkout fails on php 8.2', '--config', seedConfig])
    expect(run.code, run.stderr).toBe(0)
    const file = join(vendorDir, 'overrides', 'webshop-1-halt.cbor')
    expect(run.stdout).toContain(`signed halt of webshop 2.1.`)
    expect(run.stdout).toContain(`(${releaseId}) for every cluster, override sequence 1`)
    expect(run.stdout).toContain(`written to ${file}`)
    expect(run.stdout).toContain(`no seed is running on ${seedDir}`)
    expect(run.stdout).toContain(`mirage vendor seed --vendor ${vendorDir} --override ${file} --config ${seedConfig}`)
    const verdict = await validate(file)
    expect(verdict).toMatchObject({ ok: true, override: { app: 'webshop', releaseId, action: 'halt', sequence: 1, reason: 'checkout fails on php 8.2' } })
  })

  it('clear by release id with --app and --cluster, as JSON; the sequence grows', async () => {
    const run = await runMirage(['vendor', 'clear', '--vendor', vendorDir, '--release', releaseId, '--app', 'webshop', '--cluster', 'B', '--config', seedConfig, '--json'])
    expect(run.code, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout) as Record<string, unknown>
    expect(result).toMatchObject({ action: 'clear', app: 'webshop', releaseId, clusterId: 'B', sequence: 2, seeded: false, file: join(vendorDir, 'overrides', 'webshop-2-clear.cbor') })
    expect(result.hint).toContain('--override')
    expect(await validate(result.file as string)).toMatchObject({ ok: true, override: { action: 'clear', clusterId: 'B', sequence: 2 } })
  })
})

describe('mirage vendor halt with a seed running', () => {
  let server: Server
  const received: unknown[] = []
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8').on('data', (text: string) => { body += text }).on('end', () => {
        if (req.method === 'POST' && req.url === '/overrides') {
          received.push(JSON.parse(body))
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ app: 'webshop', sequence: 3, action: 'halt' }))
        } else {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'no such endpoint' }))
        }
      })
    })
    await new Promise<void>(resolve => server.listen(controlSocketPath(seedDir), resolve))
  })
  afterAll(async () => { await new Promise(resolve => server.close(resolve)) })

  it('hands the file to the seed through POST /overrides', async () => {
    const run = await runMirage(['vendor', 'halt', '--vendor', vendorDir, '--release', releaseDir, '--cluster', 'A', '--config', seedConfig])
    expect(run.code, run.stderr).toBe(0)
    const file = join(vendorDir, 'overrides', 'webshop-3-halt.cbor')
    expect(received).toEqual([{ file }])
    expect(run.stdout).toContain('handed it to the running seed')
    expect(run.stdout).not.toContain('no seed is running')
  })

  it('vendor seed --override hands an existing override to the running seed', async () => {
    const file = join(vendorDir, 'overrides', 'webshop-1-halt.cbor')
    const run = await runMirage(['vendor', 'seed', '--vendor', vendorDir, '--override', file, '--config', seedConfig])
    expect(run.code, run.stderr).toBe(0)
    expect(received.at(-1)).toEqual({ file })
    expect(run.stdout).toContain('handed the override to the running seed')
  })
})

describe('mirage vendor halt / clear usage', () => {
  it('bad arguments exit 2 and spend no sequence', async () => {
    const base = ['--vendor', vendorDir, '--config', seedConfig]
    for (const [args, text] of [
      [['vendor', 'halt', ...base, '--release', releaseId], '--app'],
      [['vendor', 'halt', ...base, '--release', join(work, 'nowhere'), '--app', 'webshop'], 'neither a release directory nor a release id'],
      [['vendor', 'halt', ...base, '--release', releaseDir, '--app', 'blog'], 'not "blog"'],
      [['vendor', 'clear', ...base, '--release', releaseDir, '--cluster', 'a/b'], '--cluster must be a cluster name'],
      [['vendor', 'halt', ...base, '--release', releaseDir, '--reason', 'two\nlines'], 'reason'],
      [['vendor', 'halt', '--vendor', vendorDir, '--release', releaseDir], 'missing --config']
    ] as Array<[string[], string]>) {
      const run = await runMirage(args)
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2)
      expect(run.stderr).toContain(text)
    }
    const log = JSON.parse(await readFile(join(vendorDir, 'overrides.json'), 'utf8')) as { webshop: { sequence: number } }
    expect(log.webshop.sequence).toBe(3)
  })
})

describe('mirage vendor publish --targets', () => {
  it('signs the targets, sorted, with the report key', async () => {
    const out = join(work, 'fix')
    const run = await publish(out, ['--targets', 'B,A'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain('only for clusters A, B')
    const release = await inspectSignedRelease(await readFile(join(out, 'manifest.cbor')))
    expect(release.manifest.targets).toEqual(['A', 'B'])
    expect(release.manifest.reportKey).toBe((await readFile(join(vendorDir, 'report.pub'), 'utf8')).trim())
  })

  it('refuses a target that would wait for an untargeted cluster, naming both (exit 1, nothing published)', async () => {
    const out = join(work, 'bad-fix')
    const run = await publish(out, ['--targets', 'B,C'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('"B" is targeted')
    expect(run.stderr).toContain('cluster "A"')
    expect(run.stderr).not.toContain('bug')
    const bad = await publish(join(work, 'bad-names'), ['--targets', 'A,,B'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--targets must be cluster names')
    const twice = await publish(join(work, 'twice'), ['--targets', 'A,A'])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain('twice')
  })

  it('a vendor directory older than report keys gets one, with a note on stderr', async () => {
    const old = join(work, 'old-vendor')
    expect((await runMirage(['vendor', 'init', '--dir', old])).code).toBe(0)
    await unlink(join(old, 'report.key'))
    await unlink(join(old, 'report.pub'))
    const run = await runMirage(['vendor', 'publish', '--vendor', old, '--app', 'webshop', '--version', '1.0.0',
      '--artifact', join(work, 'artifact'), '--plan', join(work, 'plan.json'), '--out', join(work, 'old-release'), '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain('note: created the report key')
    const result = JSON.parse(run.stdout) as { reportKey: string }
    expect(result.reportKey).toBe((await readFile(join(old, 'report.pub'), 'utf8')).trim())
  })
})
