/**
 * The vendor directory's report key (issue 5 item 4): made by `init`
 * beside the signing key, made on open for a directory that predates it,
 * one key even when two commands open such a directory at once.
 */
import { mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openReport, reportPublicKeyFromText, reportPublicKeyToText, sealReport } from '../../../src/report/index.ts'
import {
  VENDOR_REPORTS_DIR, VENDOR_REPORT_KEY_FILE, VENDOR_REPORT_PUBLIC_KEY_FILE, initVendorDir, openVendorDir, vendorReportsDir
} from '../../../src/vendor/index.ts'
import { makeMachine, sampleReport } from '../report/report-fixtures.ts'

let work: string
beforeEach(async () => { work = await mkdtemp(join(tmpdir(), 'mirage-vendor-dir-')) })
afterEach(async () => { await rm(work, { recursive: true, force: true }) })

describe('vendor report key', () => {
  it('init makes report.key (0600) and report.pub (its text); open gives the same key', async () => {
    const dir = join(work, 'v')
    const vendor = await initVendorDir(dir)
    expect(vendor.reportKeyCreated).toBe(true)
    expect((await stat(join(dir, VENDOR_REPORT_KEY_FILE))).mode & 0o777).toBe(0o600)
    expect(await readFile(join(dir, VENDOR_REPORT_KEY_FILE), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    const pub = (await readFile(join(dir, VENDOR_REPORT_PUBLIC_KEY_FILE), 'utf8')).trim()
    expect(pub).toBe(vendor.reportPublicKeyText)
    expect(reportPublicKeyFromText(pub)).toEqual(vendor.reportPublicKey)
    expect(reportPublicKeyToText(vendor.reportPublicKey)).toBe(pub)

    const reopened = await openVendorDir(dir)
    expect(reopened.reportKeyCreated).toBe(false)
    expect(reopened.reportPublicKey).toEqual(vendor.reportPublicKey)
    // The key opens what is sealed to the public key.
    const machine = await makeMachine()
    const sealed = await sealReport(sampleReport(machine.peerId.toString()), machine.key, reopened.reportPublicKey)
    expect((await openReport(sealed, reopened.reportKey)).machine.toString()).toBe(machine.peerId.toString())
  })

  it('an older directory without a report key gets one on open, once', async () => {
    const dir = join(work, 'old')
    const original = await initVendorDir(dir)
    await unlink(join(dir, VENDOR_REPORT_KEY_FILE))
    await unlink(join(dir, VENDOR_REPORT_PUBLIC_KEY_FILE))
    const opened = await openVendorDir(dir)
    expect(opened.reportKeyCreated).toBe(true)
    expect(opened.publicKeyText).toBe(original.publicKeyText)
    expect(opened.reportPublicKey).not.toEqual(original.reportPublicKey)
    expect((await readFile(join(dir, VENDOR_REPORT_PUBLIC_KEY_FILE), 'utf8')).trim()).toBe(opened.reportPublicKeyText)
    const again = await openVendorDir(dir)
    expect(again.reportKeyCreated).toBe(false)
    expect(again.reportPublicKey).toEqual(opened.reportPublicKey)
  })

  it('two commands opening an older directory at once end up with one key', async () => {
    const dir = join(work, 'race')
    await initVendorDir(dir)
    await unlink(join(dir, VENDOR_REPORT_KEY_FILE))
    const opened = await Promise.all(Array.from({ length: 6 }, async () => openVendorDir(dir)))
    expect(opened.filter(v => v.reportKeyCreated)).toHaveLength(1)
    for (const v of opened) expect(v.reportPublicKey).toEqual(opened[0]?.reportPublicKey)
    // No temp file is left behind.
    const { readdir } = await import('node:fs/promises')
    expect((await readdir(dir)).filter(name => name.includes('.tmp-'))).toEqual([])
  })

  it('rewrites a report.pub that does not match the key', async () => {
    const dir = join(work, 'pub')
    const vendor = await initVendorDir(dir)
    const { writeFile } = await import('node:fs/promises')
    await writeFile(join(dir, VENDOR_REPORT_PUBLIC_KEY_FILE), 'stale\n')
    await openVendorDir(dir)
    expect((await readFile(join(dir, VENDOR_REPORT_PUBLIC_KEY_FILE), 'utf8')).trim()).toBe(vendor.reportPublicKeyText)
  })

  it('refuses a report key others can read, as for the signing key', async () => {
    const dir = join(work, 'perm')
    await initVendorDir(dir)
    const { chmod } = await import('node:fs/promises')
    await chmod(join(dir, VENDOR_REPORT_KEY_FILE), 0o644)
    await expect(openVendorDir(dir)).rejects.toMatchObject({ name: 'KeyFileError', reason: 'permissions' })
  })

  it('names the inbox', () => {
    expect(VENDOR_REPORTS_DIR).toBe('reports')
    expect(vendorReportsDir('/srv/vendor')).toBe('/srv/vendor/reports')
  })
})
