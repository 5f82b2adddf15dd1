/**
 * The vendor's report inbox: sealed reports opened with the vendor
 * directory's report key and grouped by failure; bad files listed with the
 * reason and left in place; `app` filtering before decryption; a report
 * received twice counted once; the newest kept when there are too many.
 */
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { generateReportKeyPair, sealReport } from '../../../src/report/index.ts'
import { initVendorDir, readReportInbox, vendorReportsDir } from '../../../src/vendor/index.ts'
import { T0, makeMachine, releaseIdFor, sampleReport } from '../report/report-fixtures.ts'
import type { VendorDir } from '../../../src/vendor/index.ts'

let work: string
let vendor: VendorDir
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'mirage-vendor-reports-'))
  vendor = await initVendorDir(join(work, 'vendor'))
})
afterEach(async () => { await rm(work, { recursive: true, force: true }) })

/** Writes a sealed report as the seed does: `<sha256>.report`. */
async function deliver (sealed: Uint8Array): Promise<string> {
  const dir = vendorReportsDir(vendor.dir)
  await mkdir(dir, { recursive: true })
  const name = `${createHash('sha256').update(sealed).digest('hex')}.report`
  await writeFile(join(dir, name), sealed)
  return name
}

describe('readReportInbox', () => {
  it('an absent or empty inbox is empty', async () => {
    expect(await readReportInbox(vendor)).toMatchObject({ groups: [], unreadable: [], duplicates: 0, leftOut: 0 })
    await mkdir(vendorReportsDir(vendor.dir))
    expect((await readReportInbox(vendor)).groups).toEqual([])
  })

  it('groups two reports of one failure, keeps another apart, and lists what does not open', async () => {
    const [a, b, c] = await Promise.all([makeMachine(), makeMachine(), makeMachine()])
    if (a === undefined || b === undefined || c === undefined) throw new Error('machines')
    // The same bug on two machines: the error line differs only in a number and a path.
    await deliver(await sealReport(sampleReport(a.peerId.toString(), { at: T0 + 1_000 }), a.key, vendor.reportPublicKey))
    await deliver(await sealReport(sampleReport(b.peerId.toString(), {
      at: T0 + 9_000,
      output: { tail: 'not ok 2 - checkout\nError: expected 200, got 502 at /opt/shop/checkout.php:44\n', bytes: 60 }
    }), b.key, vendor.reportPublicKey))
    await deliver(await sealReport(sampleReport(c.peerId.toString(), {
      role: 'follower', phase: 'health-check', test: { name: 'health', exitCode: null, signal: 'SIGKILL', timedOut: true, durationMs: 30_000 },
      output: { tail: 'waiting for port 8080\n', bytes: 22 }, timings: { testStartedAt: T0, testEndedAt: T0 + 30_000, installedAt: T0 - 1 }, at: T0 + 40_000
    }), c.key, vendor.reportPublicKey))
    const garbage = await deliver(new TextEncoder().encode('not a report at all'))
    const otherKey = await deliver(await sealReport(sampleReport(a.peerId.toString()), a.key, generateReportKeyPair().publicKey))
    const sealed = await sealReport(sampleReport(c.peerId.toString()), c.key, vendor.reportPublicKey)
    const flipped = Uint8Array.from(sealed)
    flipped[flipped.byteLength - 3] = (flipped[flipped.byteLength - 3] ?? 0) ^ 1
    const tampered = await deliver(flipped)
    await writeFile(join(vendorReportsDir(vendor.dir), 'notes.txt'), 'ignored: not a .report file')

    const inbox = await readReportInbox(vendor)
    expect(inbox.groups).toHaveLength(2)
    const [same, other] = inbox.groups
    expect(same).toMatchObject({ app: 'webshop', releaseId: releaseIdFor('webshop 2.1.0'), releaseVersions: ['2.1.0'], clusterId: 'php82-mysql8', count: 2, firstSeen: T0 + 1_000, lastSeen: T0 + 9_000 })
    expect(same?.machines).toEqual([a.peerId.toString(), b.peerId.toString()].sort())
    expect(same?.signature).toMatchObject({ phase: 'test', test: 'test/run.sh', ending: 'exit 1' })
    expect(same?.reports.map(r => r.machine)).toEqual([a.peerId.toString(), b.peerId.toString()])
    expect(same?.reports[0]?.firstErrorLine).toBe('Error: expected 200, got 500 at /srv/app/checkout.php:41')
    // Without details, the tail is only its first error line and there is no diff.
    expect(same?.reports[0]?.report.output.tail).toBe('Error: expected 200, got 500 at /srv/app/checkout.php:41')
    expect(other).toMatchObject({ count: 1, signature: { phase: 'health-check', ending: 'timeout' } })
    expect(inbox.unreadable.map(u => [u.file, u.reason]).sort()).toEqual([[garbage, 'malformed'], [otherKey, 'wrong-key'], [tampered, 'tampered']].sort())
    // Nothing was deleted.
    expect(await readdir(vendorReportsDir(vendor.dir))).toHaveLength(7)

    const detailed = await readReportInbox(vendor, { details: true })
    expect(detailed.groups[0]?.reports[0]?.report.output.tail).toContain('running 12 tests')
    expect(detailed.groups[0]?.reports[0]?.report.output.tail).toContain('not ok 2 - checkout')
  })

  it('filters by app before decrypting, and counts a report received twice once', async () => {
    const machine = await makeMachine()
    const report = sampleReport(machine.peerId.toString())
    // Sealing is randomised: the same report sealed twice is two files.
    await deliver(await sealReport(report, machine.key, vendor.reportPublicKey))
    await deliver(await sealReport(report, machine.key, vendor.reportPublicKey))
    await deliver(await sealReport(sampleReport(machine.peerId.toString(), { app: 'blog', releaseId: releaseIdFor('blog 1') }), machine.key, vendor.reportPublicKey))
    const all = await readReportInbox(vendor)
    expect(all.duplicates).toBe(1)
    // Same count and time: by app.
    expect(all.groups.map(g => [g.app, g.count])).toEqual([['blog', 1], ['webshop', 1]])
    const blog = await readReportInbox(vendor, { app: 'blog' })
    expect(blog.groups.map(g => g.app)).toEqual(['blog'])
    expect(blog.otherApps).toBe(2)
  })

  it('reads only the newest files past the limit, and refuses oversized files unread', async () => {
    const machine = await makeMachine()
    const names: string[] = []
    for (let i = 0; i < 3; i++) {
      const name = await deliver(await sealReport(sampleReport(machine.peerId.toString(), { at: T0 + i }), machine.key, vendor.reportPublicKey))
      await utimes(join(vendorReportsDir(vendor.dir), name), (T0 + i * 60_000) / 1000, (T0 + i * 60_000) / 1000)
      names.push(name)
    }
    const inbox = await readReportInbox(vendor, { maxReports: 2 })
    expect(inbox.leftOut).toBe(1)
    expect(inbox.groups[0]?.reports.map(r => r.file).sort()).toEqual(names.slice(1).sort())

    await writeFile(join(vendorReportsDir(vendor.dir), `${'0'.repeat(64)}.report`), new Uint8Array(256 * 1024 + 1))
    expect((await readReportInbox(vendor)).unreadable).toEqual([{ file: `${'0'.repeat(64)}.report`, reason: 'oversized', message: expect.stringContaining('limit') }])
  })
})
