/**
 * The two optional signed fields of issue 5: `reportKey` (where machines
 * seal problem reports) and `targets` (the clusters a fix is for), with the
 * rule that a targeted cluster comes only after targeted clusters. A
 * manifest without them encodes exactly as before.
 */
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { artifactRoot } from '../../../src/content/index.ts'
import { generateReportKeyPair, reportPublicKeyToText } from '../../../src/report/index.ts'
import {
  checkTargets, decodeManifest, encodeManifest, inspectSignedRelease, parsePlanJson, publishRelease, releaseIdOf, signRelease
} from '../../../src/release/index.ts'
import { bytesEqual, encodeCanonical, generateSigningKey } from '../../../src/trust/index.ts'
import { manifestRefusal, sampleManifest } from '../../helpers/release-fixtures.ts'
import type { ReleaseManifest } from '../../../src/release/index.ts'

const reportKey = reportPublicKeyToText(generateReportKeyPair().publicKey)

/** A plan A ← B ← C (C after B after A), D alone, default after A. */
const chainPlan = parsePlanJson(JSON.stringify({
  clusters: [{ name: 'A', k: 1, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }, { name: 'C', after: ['B'], k: 1, q: 1 }, { name: 'D', k: 1, q: 1 }],
  default: { after: ['A'], k: 1, q: 1 }
}))

describe('manifest reportKey', () => {
  it('round-trips, signed, and is part of the release id', async () => {
    const m = { ...sampleManifest(), reportKey }
    const bytes = encodeManifest(m)
    expect(decodeManifest(bytes)).toEqual(m)
    expect(bytesEqual(encodeManifest(decodeManifest(bytes)), bytes)).toBe(true)
    const { reportKey: _, ...without } = m
    expect(await releaseIdOf(bytes)).not.toBe(await releaseIdOf(encodeManifest(without)))
    const vendor = await generateSigningKey()
    const opened = await inspectSignedRelease((await signRelease(m, vendor)).bytes)
    expect(opened.manifest.reportKey).toBe(reportKey)
  })

  it('refuses a key that is not the canonical text of a report key, naming the field', () => {
    const m = sampleManifest()
    const signingKeyText = '12D3KooWHbCT2hmgndJmFqv8PqGJwcv164SPUsTo6LUx4vhnpe6r'
    for (const bad of [signingKeyText, `${reportKey} `, reportKey.slice(0, -1), `${reportKey.slice(0, -1)}d`, 'mirage-report-key:', 'x'.repeat(500), '']) {
      const err = manifestRefusal({ ...m, reportKey: bad })
      expect(err.path, bad).toBe('reportKey')
    }
    expect(manifestRefusal({ ...m, reportKey: signingKeyText }).message).toContain('signing key')
    expect(manifestRefusal({ ...m, reportKey: 42 }).path).toBe('reportKey')
  })
})

describe('manifest targets', () => {
  it('round-trips sorted targets and refuses unsorted, repeated, empty or malformed ones', () => {
    const m = { ...sampleManifest(), plan: chainPlan, targets: ['A', 'B', 'zz-unnamed'] }
    const bytes = encodeManifest(m)
    expect(decodeManifest(bytes)).toEqual(m)
    expect(bytesEqual(encodeManifest(decodeManifest(bytes)), bytes)).toBe(true)
    expect(manifestRefusal({ ...m, targets: ['B', 'A'] })).toMatchObject({ reason: 'targets', path: 'targets[1]', message: expect.stringContaining('sorted') })
    expect(manifestRefusal({ ...m, targets: ['A', 'A'] })).toMatchObject({ reason: 'targets', path: 'targets[1]', message: expect.stringContaining('twice') })
    expect(manifestRefusal({ ...m, targets: [] }).path).toBe('targets')
    expect(manifestRefusal({ ...m, targets: ['no/slash'] }).path).toBe('targets[0]')
    expect(manifestRefusal({ ...m, targets: 'A' }).path).toBe('targets')
    expect(manifestRefusal({ ...m, targets: Array.from({ length: 1001 }, (_, i) => `c${String(i).padStart(4, '0')}`) }).path).toBe('targets')
  })

  it('refuses a target that comes after a cluster not targeted, naming both', () => {
    const m = { ...sampleManifest(), plan: chainPlan }
    const err = manifestRefusal({ ...m, targets: ['B', 'C'] })
    expect(err).toMatchObject({ reason: 'targets', path: 'targets[0]' })
    expect(err.message).toContain('"B" is targeted')
    expect(err.message).toContain('cluster "A"')
    // C alone: its rule waits for B.
    expect(manifestRefusal({ ...m, targets: ['C'] }).message).toMatch(/"C".*"B"/)
    // A cluster the plan does not name follows the default rule (after A).
    const viaDefault = manifestRefusal({ ...m, targets: ['other'] })
    expect(viaDefault.message).toContain('default rule')
    expect(viaDefault.message).toContain('"A"')
    // Whole chains, independent clusters, and unnamed clusters with their prerequisites are fine.
    for (const targets of [['A'], ['A', 'B'], ['A', 'B', 'C'], ['D'], ['A', 'other'], ['A', 'B', 'C', 'D', 'other']]) {
      expect(() => decodeManifest(encodeManifest({ ...m, targets })), targets.join(',')).not.toThrow()
    }
  })

  it('checkTargets takes any order and checks every rule', () => {
    expect(() => { checkTargets(chainPlan, ['B', 'A']) }).not.toThrow()
    expect(() => { checkTargets(chainPlan, ['C', 'A']) }).toThrow(/"C".*"B"/)
    expect(() => { checkTargets(chainPlan, ['A', 'A']) }).toThrow(/twice/)
    expect(() => { checkTargets(chainPlan, []) }).toThrow(/at least one/)
  })
})

describe('manifests without the new fields', () => {
  it('encode exactly as before: no key is added, not even as undefined', () => {
    const m = sampleManifest()
    const bytes = encodeManifest(m)
    const decoded = decodeManifest(bytes)
    expect(Object.keys(decoded)).not.toContain('reportKey')
    expect(Object.keys(decoded)).not.toContain('targets')
    // What encodeCanonical made of the same fields before any of this existed.
    expect(bytesEqual(bytes, encodeCanonical(m))).toBe(true)
  })

  it('the worked example of docs/PROTOCOL.md §17.4 keeps its payload and release id', async () => {
    const chunks = [new Uint8Array(65_536).fill(0x61), new Uint8Array(34_464).fill(0x62)].map(c => Uint8Array.from(createHash('sha256').update(c).digest()))
    const layout = { size: 100_000, chunkSize: 65_536, chunks }
    const createdAt = 1_700_000_000_000
    const manifest: ReleaseManifest = {
      format: 1,
      app: 'webshop',
      version: '1.2.0',
      sequence: 3,
      createdAt,
      expiresAt: createdAt + 30 * 86_400_000,
      artifact: { ...layout, root: artifactRoot(layout) },
      test: { command: ['bin/selftest', '--quick'], timeoutMs: 300_000 },
      plan: parsePlanJson(JSON.stringify({
        clusters: [{ name: 'A', k: 2, q: 1 }, { name: 'B', after: ['A'], k: 1, q: 1 }], default: { after: ['A'], k: 1, q: 1 }, startTimeoutMs: 600_000, reportGraceMs: 300_000
      }))
    }
    const payload = encodeManifest(manifest)
    expect(payload.byteLength).toBe(427)
    expect(await releaseIdOf(payload)).toBe('bafyreifrxb7sbak7wl3ewrvggtd5yi2s4cwqawiirhpgcb6v747l5lactu')
  })
})

describe('publishRelease with targets and a report key', () => {
  let work: string
  beforeAll(async () => { work = await mkdtemp(join(tmpdir(), 'mirage-publish-targets-')) })
  afterAll(async () => { await rm(work, { recursive: true, force: true }) })

  async function artifact (): Promise<string> {
    const dir = await mkdtemp(join(work, 'artifact-'))
    await writeFile(join(dir, 'mirage-test'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
    return dir
  }

  it('sorts the targets into the signed manifest, with the report key', async () => {
    const key = await generateSigningKey()
    const outDir = join(work, 'ok')
    const release = await publishRelease({
      app: 'webshop', version: '2.1.1', sequence: 3, artifactDir: await artifact(), test: { command: ['mirage-test'], timeoutMs: 60_000 },
      plan: chainPlan, key, outDir, reportKey, targets: ['B', 'A']
    })
    expect(release.manifest).toMatchObject({ reportKey, targets: ['A', 'B'] })
  })

  it('refuses bad targets before writing a single chunk', async () => {
    const key = await generateSigningKey()
    const outDir = join(work, 'refused')
    await expect(publishRelease({
      app: 'webshop', version: '2.1.1', sequence: 3, artifactDir: await artifact(), test: { command: ['mirage-test'], timeoutMs: 60_000 },
      plan: chainPlan, key, outDir, targets: ['C']
    })).rejects.toMatchObject({ name: 'ManifestInvalidError', reason: 'targets' })
    await mkdir(outDir, { recursive: true })
    expect(await readdir(outDir)).toEqual([])
  })
})
