/**
 * Issuing halt and clear overrides from the vendor directory: signed with
 * the vendor key, sequences that grow per app and persist, a log recorded
 * before the file (a failed write skips a sequence, never reuses one),
 * concurrent commands serialised, and releases named by directory or id.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { validateOverride } from '../../../src/overlay/index.ts'
import { parsePlanJson, publishRelease } from '../../../src/release/index.ts'
import { trustedVendorKeys } from '../../../src/trust/index.ts'
import { OVERRIDE_LOG_FILE, initVendorDir, issueOverride, openVendorDir, readOverrideLog, resolveReleaseRef } from '../../../src/vendor/index.ts'
import { releaseIdFor } from '../report/report-fixtures.ts'
import type { VendorDir } from '../../../src/vendor/index.ts'

const RELEASE = releaseIdFor('webshop 2.1.0')

let work: string
let vendor: VendorDir
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'mirage-vendor-overrides-'))
  vendor = await initVendorDir(join(work, 'vendor'))
})
afterEach(async () => { await rm(work, { recursive: true, force: true }) })

async function validate (bytes: Uint8Array, highestSequence?: number): ReturnType<typeof validateOverride> {
  return validateOverride(bytes, {
    app: 'webshop',
    trust: trustedVendorKeys({ webshop: [vendor.publicKeyText] }),
    releaseApp: () => undefined,
    highestSequence: () => highestSequence
  })
}

describe('issueOverride', () => {
  it('signs a halt that nodes accept, written where the log says', async () => {
    const issued = await issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'halt', reason: 'checkout fails on php 8.2', now: () => 1_790_000_000_000 })
    expect(issued.file).toBe(join(vendor.dir, 'overrides', 'webshop-1-halt.cbor'))
    expect(issued.override).toEqual({ v: 1, app: 'webshop', releaseId: RELEASE, action: 'halt', sequence: 1, issuedAt: 1_790_000_000_000, reason: 'checkout fails on php 8.2' })
    const bytes = await readFile(issued.file)
    expect(Uint8Array.from(bytes)).toEqual(issued.bytes)
    expect(await validate(bytes)).toEqual({ ok: true, override: issued.override, releaseKnown: false })
    expect(await readOverrideLog(vendor.dir)).toEqual({
      webshop: { sequence: 1, issuedAt: new Date(1_790_000_000_000).toISOString(), action: 'halt', releaseId: RELEASE, file: issued.file }
    })
  })

  it('sequences grow per app and persist across reopening the directory', async () => {
    const first = await issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'halt' })
    const second = await issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, clusterId: 'php82-mysql8', action: 'clear' })
    const blog = await issueOverride(vendor, { app: 'blog', releaseId: releaseIdFor('blog 1'), action: 'halt' })
    expect([first.override.sequence, second.override.sequence, blog.override.sequence]).toEqual([1, 2, 1])
    expect(second.override.clusterId).toBe('php82-mysql8')
    expect(second.file).toMatch(/webshop-2-clear\.cbor$/)
    const reopened = await openVendorDir(vendor.dir)
    const third = await issueOverride(reopened, { app: 'webshop', releaseId: RELEASE, action: 'clear' })
    expect(third.override.sequence).toBe(3)
    // A node that accepted sequence 2 accepts 3 and refuses 2 again.
    expect((await validate(third.bytes, 2)).ok).toBe(true)
    expect(await validate(second.bytes, 2)).toMatchObject({ ok: false, reason: 'replayed' })
    expect((await readdir(join(vendor.dir, 'overrides'))).sort()).toEqual(['blog-1-halt.cbor', 'webshop-1-halt.cbor', 'webshop-2-clear.cbor', 'webshop-3-clear.cbor'])
  })

  it('a failed write skips a sequence and never reuses it; no temp files stay', async () => {
    await issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'halt' })
    // The next file's name is taken by a directory: the rename into place fails.
    await mkdir(join(vendor.dir, 'overrides', 'webshop-2-clear.cbor'))
    await expect(issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'clear' })).rejects.toThrow()
    expect((await readOverrideLog(vendor.dir)).webshop?.sequence).toBe(2)
    const next = await issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'clear' })
    expect(next.override.sequence).toBe(3)
    const names = [...await readdir(vendor.dir), ...await readdir(join(vendor.dir, 'overrides'))]
    expect(names.filter(name => name.includes('.tmp-') || name.endsWith('.lock'))).toEqual([])
  })

  it('concurrent commands get distinct sequences', async () => {
    const issued = await Promise.all(Array.from({ length: 6 }, async (_, i) =>
      issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: i % 2 === 0 ? 'halt' : 'clear' })))
    expect(issued.map(o => o.override.sequence).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6])
    expect((await readOverrideLog(vendor.dir)).webshop?.sequence).toBe(6)
  })

  it('takes over a lock left by a process that no longer runs', async () => {
    await writeFile(join(vendor.dir, `${OVERRIDE_LOG_FILE}.lock`), '2147483646 deadbeef\n')
    expect((await issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'halt' })).override.sequence).toBe(1)
  })

  it('waits for a live lock holder, then says the directory is busy', async () => {
    await writeFile(join(vendor.dir, `${OVERRIDE_LOG_FILE}.lock`), `${process.pid} cafe\n`)
    await expect(issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'halt' })).rejects.toMatchObject({ name: 'VendorDirError', reason: 'busy' })
    expect(await readOverrideLog(vendor.dir)).toEqual({})
  })

  it('refuses what no node would accept, without spending a sequence', async () => {
    await expect(issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'halt', reason: 'two\nlines' }))
      .rejects.toMatchObject({ name: 'VendorOverrideError', reason: 'invalid', message: expect.stringContaining('reason') })
    await expect(issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'halt', reason: 'x'.repeat(501) })).rejects.toMatchObject({ reason: 'invalid' })
    await expect(issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, clusterId: 'a/b', action: 'halt' })).rejects.toMatchObject({ reason: 'invalid' })
    await expect(issueOverride(vendor, { app: 'webshop', releaseId: 'not-a-cid', action: 'halt' })).rejects.toMatchObject({ reason: 'invalid' })
    expect(await readOverrideLog(vendor.dir)).toEqual({})
  })

  it('refuses to go on from a damaged log (it is never reset)', async () => {
    await writeFile(join(vendor.dir, OVERRIDE_LOG_FILE), '{ "webshop": { "sequence": "many" } }')
    await expect(issueOverride(vendor, { app: 'webshop', releaseId: RELEASE, action: 'halt' })).rejects.toMatchObject({ name: 'VendorDirError', reason: 'state-corrupt' })
    expect(await readFile(join(vendor.dir, OVERRIDE_LOG_FILE), 'utf8')).toContain('many')
  })
})

describe('resolveReleaseRef', () => {
  it('reads app and id from a release directory, or takes an id with its app', async () => {
    const artifact = join(work, 'artifact')
    await mkdir(artifact)
    await writeFile(join(artifact, 'mirage-test'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
    const plan = parsePlanJson(JSON.stringify({ default: { k: 1, q: 1 } }))
    const release = await publishRelease({
      app: 'webshop', version: '2.1.0', sequence: 1, artifactDir: artifact, test: { command: ['mirage-test'], timeoutMs: 60_000 }, plan, key: vendor.key, outDir: join(work, 'release')
    })
    expect(await resolveReleaseRef(vendor, join(work, 'release'))).toEqual({ app: 'webshop', releaseId: release.id, version: '2.1.0' })
    expect(await resolveReleaseRef(vendor, join(work, 'release'), 'webshop')).toMatchObject({ releaseId: release.id })
    await expect(resolveReleaseRef(vendor, join(work, 'release'), 'blog')).rejects.toMatchObject({ name: 'VendorOverrideError', reason: 'app' })
    expect(await resolveReleaseRef(vendor, RELEASE, 'webshop')).toEqual({ app: 'webshop', releaseId: RELEASE })
    await expect(resolveReleaseRef(vendor, RELEASE)).rejects.toMatchObject({ reason: 'app', message: expect.stringContaining('--app') })
    await expect(resolveReleaseRef(vendor, join(work, 'nowhere'), 'webshop')).rejects.toMatchObject({ reason: 'release' })
    await expect(resolveReleaseRef(vendor, artifact, 'webshop')).rejects.toMatchObject({ reason: 'release', message: expect.stringContaining('manifest.cbor') })
    await expect(resolveReleaseRef(vendor, RELEASE, 'Web Shop')).rejects.toMatchObject({ reason: 'app' })
  })
})
