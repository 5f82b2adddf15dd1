import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it, expect } from 'vitest'
import { openChunkStore } from '../../src/content/index.ts'
import { chunksPath, encodeManifest, manifestPath, inspectSignedRelease } from '../../src/release/index.ts'
import { SIGNATURE_DOMAINS, generateSigningKey, sealEnvelope } from '../../src/trust/index.ts'
import { samplePlanJson } from '../helpers/release-fixtures.ts'
import { runMirage } from '../helpers/run-mirage.ts'

let work: string
beforeAll(async () => { work = await mkdtemp(join(tmpdir(), 'mirage-e2e-')) })
afterAll(async () => { await rm(work, { recursive: true, force: true }) })

/** A 20 MB artifact: a few random files, a test program, a config. */
async function makeArtifact (dir: string): Promise<void> {
  await mkdir(join(dir, 'data'), { recursive: true })
  for (let i = 0; i < 5; i++) await writeFile(join(dir, 'data', `blob-${i}.bin`), randomBytes(4 * 1024 * 1024))
  await writeFile(join(dir, 'app.ini'), 'listen = 127.0.0.1:8080\n')
  await writeFile(join(dir, 'mirage-test'), '#!/bin/sh\nexit 0\n')
  await chmod(join(dir, 'mirage-test'), 0o755)
}

describe('mirage command line', () => {
  it('has --help on every command and sub-command, exit 0', async () => {
    for (const args of [['--help'], ['vendor', '--help'], ['vendor', 'init', '--help'], ['vendor', 'publish', '--help'],
      ['release', '--help'], ['release', 'verify', '--help'], ['release', 'show', '--help'], ['quickstart', '--help']]) {
      const run = await runMirage(args)
      expect(run.code, args.join(' ')).toBe(0)
      expect(run.stdout).toMatch(/^Usage: mirage/)
    }
  })

  it('exits 2 on usage errors, naming what was wrong', async () => {
    const unknown = await runMirage(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command "frobnicate"')
    const missing = await runMirage(['vendor', 'init'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('missing --dir')
    const badOption = await runMirage(['vendor', 'init', '--dir', join(work, 'x'), '--colour'])
    expect(badOption.code).toBe(2)
    expect(badOption.stderr).toContain("'--colour'")
    const badValue = await runMirage(['vendor', 'publish', '--vendor', 'v', '--app', 'a', '--version', '1.0.0', '--artifact', 'a', '--plan', 'p', '--out', 'o', '--chunk-size', 'huge'])
    expect(badValue.code).toBe(2)
    expect(badValue.stderr).toContain('--chunk-size')
    const badKey = await runMirage(['release', 'verify', work, '--vendor-key', 'not-a-key-nor-a-file'])
    expect(badKey.code).toBe(2)
    expect((await runMirage(['vendor'])).code).toBe(2)
  })

  it('publishes a 20 MB release, verifies it, and names a flipped chunk and a foreign signature', async () => {
    const vendorDir = join(work, 'vendor')
    const init = await runMirage(['vendor', 'init', '--dir', vendorDir])
    expect(init.code).toBe(0)
    const publicKey = init.stdout.trim()
    expect(publicKey).toMatch(/^12D3KooW\w+$/)
    expect((await stat(join(vendorDir, 'vendor.key'))).mode & 0o777).toBe(0o600)
    const again = await runMirage(['vendor', 'init', '--dir', vendorDir])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('refusing to replace')

    const artifact = join(work, 'artifact')
    await makeArtifact(artifact)
    const planPath = join(work, 'plan.json')
    await writeFile(planPath, samplePlanJson)
    const releaseDir = join(work, 'release')
    const publish = await runMirage(['vendor', 'publish', '--vendor', vendorDir, '--app', 'webshop', '--version', '2.0.0',
      '--artifact', artifact, '--plan', planPath, '--out', releaseDir, '--json'])
    expect(publish.stderr).toBe('')
    expect(publish.code).toBe(0)
    const published = JSON.parse(publish.stdout) as { id: string, sequence: number, chunks: number, size: number }
    expect(published.sequence).toBe(1)
    expect(published.size).toBeGreaterThan(20 * 1024 * 1024)
    expect(published.chunks).toBe(Math.ceil(published.size / (1024 * 1024)))

    const ok = await runMirage(['release', 'verify', releaseDir, '--vendor-key', publicKey])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain(`OK ${releaseDir}`)
    // The key may also be given as the vendor directory or its vendor.pub.
    expect((await runMirage(['release', 'verify', releaseDir, '--vendor-key', vendorDir])).code).toBe(0)

    const show = await runMirage(['release', 'show', releaseDir, '--json'])
    expect(show.code).toBe(0)
    const shown = JSON.parse(show.stdout) as { id: string, version: string, signer: string, plan: { clusters: Array<{ name: string }> } }
    expect(shown).toMatchObject({ id: published.id, version: '2.0.0', signer: publicKey })
    expect(shown.plan.clusters.map(c => c.name)).toEqual(['php5-mysql', 'reference'])
    const human = await runMirage(['release', 'show', releaseDir])
    expect(human.stdout).toContain('webshop 2.0.0 (sequence 1)')
    expect(human.stdout).toMatch(/php5-mysql\s+reference\s+3\s+2/)

    // Flip one byte in chunk 7.
    const release = await inspectSignedRelease(await readFile(manifestPath(releaseDir)))
    const digest = release.manifest.artifact.chunks[7]
    if (digest === undefined) throw new Error('expected at least 8 chunks')
    const chunkFile = (await openChunkStore(chunksPath(releaseDir))).path(digest)
    const handle = await open(chunkFile, 'r+')
    await handle.write(Buffer.from([0x42 ^ (await handle.read(Buffer.alloc(1), 0, 1, 4096)).buffer[0]!]), 0, 1, 4096)
    await handle.close()
    const flipped = await runMirage(['release', 'verify', releaseDir, '--vendor-key', publicKey])
    expect(flipped.code).toBe(1)
    expect(flipped.stderr).toContain(`chunk 7 (${Buffer.from(digest).toString('hex')}) is corrupt`)
    expect(flipped.stderr).toContain('1 defect')
    const flippedJson = JSON.parse((await runMirage(['release', 'verify', releaseDir, '--vendor-key', publicKey, '--json'])).stdout) as { ok: boolean, defects: Array<{ kind: string, index: number }> }
    expect(flippedJson.ok).toBe(false)
    expect(flippedJson.defects).toEqual([expect.objectContaining({ kind: 'chunk', index: 7, problem: 'corrupt' })])

    // The same manifest, signed by another key.
    const otherKey = await generateSigningKey()
    const forged = await sealEnvelope(SIGNATURE_DOMAINS.release, encodeManifest(release.manifest), otherKey)
    await writeFile(manifestPath(releaseDir), forged)
    const foreign = await runMirage(['release', 'verify', releaseDir, '--vendor-key', publicKey])
    expect(foreign.code).toBe(1)
    expect(foreign.stderr).toContain('signature')
    expect(foreign.stderr).toContain(`not by the vendor key ${publicKey}`)
  })

  it('keeps sequences growing and refuses nonsense plans with the reason', async () => {
    const vendorDir = join(work, 'vendor-seq')
    expect((await runMirage(['vendor', 'init', '--dir', vendorDir])).code).toBe(0)
    const artifact = join(work, 'small-artifact')
    await mkdir(artifact)
    await writeFile(join(artifact, 'check'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
    const planPath = join(work, 'plan-seq.json')
    await writeFile(planPath, samplePlanJson)
    const publish = async (out: string, extra: string[] = []) => runMirage(['vendor', 'publish', '--vendor', vendorDir, '--app', 'blog',
      '--version', '1.0.0', '--artifact', artifact, '--plan', planPath, '--out', join(work, out), '--test', 'check', '--json', ...extra])
    expect(JSON.parse((await publish('r1')).stdout)).toMatchObject({ sequence: 1 })
    expect(JSON.parse((await publish('r2')).stdout)).toMatchObject({ sequence: 2 })
    const backwards = await publish('r3', ['--sequence', '2'])
    expect(backwards.code).toBe(1)
    expect(backwards.stderr).toContain('rollback')
    const overwrite = await publish('r1')
    expect(overwrite.code).toBe(1)
    expect(overwrite.stderr).toContain('not empty')

    await writeFile(planPath, JSON.stringify({ clusters: [{ name: 'a', after: ['b'], k: 1, q: 1 }, { name: 'b', after: ['a'], k: 1, q: 1 }], default: { k: 1, q: 1 } }))
    const cyclic = await publish('r4')
    expect(cyclic.code).toBe(1)
    expect(cyclic.stderr).toMatch(/cycle: (a → b → a|b → a → b)/)
    await writeFile(planPath, samplePlanJson)
    const noTest = await publish('r5', ['--test', 'missing-test'])
    expect(noTest.code).toBe(1)
    expect(noTest.stderr).toContain('"missing-test" is not a file')
  })

  it('runs the quickstart end to end', async () => {
    const run = await runMirage(['quickstart', '--dir', join(work, 'quickstart')], { timeoutMs: 120_000 })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('quickstart passed')
    expect(run.stdout).toMatch(/chunk 1 \([0-9a-f]{64}\) is corrupt/)
  })
})
