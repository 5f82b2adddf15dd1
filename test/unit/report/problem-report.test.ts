/**
 * The report: building it on the machine (tail bounds, redaction of every
 * free-text field, content-bearing diff items hashed, diff bounds), its
 * canonical encoding, and a schema whose errors name the field.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { describe, expect, it } from 'vitest'
import { diffFingerprints, hashValue } from '../../../src/env/index.ts'
import {
  HASHED_ITEM_PREFIX, MAX_REPORT_OUTPUT_TAIL_BYTES, MAX_REPORT_PAYLOAD_BYTES, boundTail, buildProblemReport, checkProblemReport, createRedactor,
  decodeProblemReport, encodeProblemReport
} from '../../../src/report/index.ts'
import { bytesEqual, encodeCanonical } from '../../../src/trust/index.ts'
import { makeMachine, reportInput, sampleReport } from './report-fixtures.ts'
import type { Fingerprint } from '../../../src/env/index.ts'
import type { ProblemReport } from '../../../src/report/index.ts'

const machine = (await makeMachine()).peerId.toString()

function reason (fn: () => unknown): string {
  try {
    fn()
    return 'none'
  } catch (err) {
    return `${(err as Error).name}:${(err as { reason?: string }).reason ?? ''}:${(err as { field?: string }).field ?? ''}`
  }
}

function fingerprint (variant: string): Fingerprint {
  return {
    format: 1,
    app: 'webshop',
    resources: {
      'php.ini': { kind: 'ini', relevant: true, weight: 1 },
      '.env': { kind: 'text', relevant: true, weight: 1 },
      'env:LANG': { kind: 'env', relevant: false, weight: 1 }
    },
    facts: [
      { resource: 'php.ini', item: 'PHP.memory_limit', value: `h-mem-${variant}` },
      { resource: '.env', item: variant === 'a' ? 'DB_PASSWORD=hunter2-local' : 'DB_PASSWORD=other-one', value: '1' },
      { resource: '.env', item: 'APP_ENV=prod', value: '1' },
      { resource: 'env:LANG', item: '', value: `h-lang-${variant}` }
    ],
    notes: []
  }
}

describe('problem report', () => {
  it('round-trips through its canonical encoding', () => {
    const report = sampleReport(machine)
    const bytes = encodeProblemReport(report)
    expect(decodeProblemReport(bytes)).toEqual(report)
    expect(bytesEqual(encodeProblemReport(decodeProblemReport(bytes)), bytes)).toBe(true)
  })

  it('carries what the vendor needs, with nulls for what is absent', () => {
    const report = sampleReport(machine, { phase: 'health-check', role: 'follower', timings: { testStartedAt: 10, testEndedAt: 20, installedAt: 5 } })
    expect(report).toMatchObject({
      v: 1,
      app: 'webshop',
      releaseVersion: '2.1.0',
      clusterId: 'php82-mysql8',
      machine,
      role: 'follower',
      phase: 'health-check',
      failure: { name: 'test/run.sh', exitCode: 1, signal: null, timedOut: false, durationMs: 4_200, resourceUse: null },
      timings: { testStartedAt: 10, testEndedAt: 20, installedAt: 5 },
      environment: null,
      redactions: {}
    })
  })

  it('refuses invalid reports with an error naming the field', () => {
    const good = sampleReport(machine)
    const cases: Array<[unknown, string]> = [
      [{ ...good, app: 'Web Shop' }, 'app'],
      [{ ...good, releaseId: 'not-a-cid' }, 'releaseId'],
      [{ ...good, machine: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }, 'machine'],
      [{ ...good, machine: 'someone' }, 'machine'],
      [{ ...good, role: 'leader' }, 'role'],
      [{ ...good, phase: 'install' }, 'phase'],
      [{ ...good, failure: { ...good.failure, exitCode: 0 } }, 'failure'],
      [{ ...good, failure: { ...good.failure, exitCode: 1.5 } }, 'failure.exitCode'],
      [{ ...good, failure: { ...good.failure, signal: 'kill' } }, 'failure.signal'],
      [{ ...good, failure: { ...good.failure, resourceUse: { userCpuMs: -1, systemCpuMs: 0 } } }, 'failure.resourceUse.userCpuMs'],
      [{ ...good, output: { ...good.output, tail: 'x'.repeat(MAX_REPORT_OUTPUT_TAIL_BYTES + 1) } }, 'output.tail'],
      [{ ...good, timings: { ...good.timings, testEndedAt: good.timings.testStartedAt - 1 } }, 'timings.testEndedAt'],
      [{ ...good, phase: 'health-check' }, 'timings.installedAt'],
      [{ ...good, redactions: { 'owner-secret': 0 } }, 'redactions.owner-secret'],
      [{ ...good, redactions: { 'what-ever': 1 } }, 'redactions'],
      [{ ...good, extra: 1 }, ''],
      [{ ...good, v: 2 }, 'v'],
      [{ ...good, environment: { diff: { app: 'webshop', same: false, sameCluster: false, resources: [{ resource: 'x' }] }, omitted: 0 } }, 'environment.diff.resources[0].kind']
    ]
    for (const [value, field] of cases) {
      expect(reason(() => checkProblemReport(value)), JSON.stringify(value).slice(0, 80)).toBe(`ReportError:invalid:${field}`)
    }
  })

  it('refuses malformed, non-canonical and oversized payloads before the schema', () => {
    const bytes = encodeProblemReport(sampleReport(machine))
    expect(reason(() => decodeProblemReport(bytes.subarray(0, bytes.length - 3)))).toBe('ReportError:invalid:')
    expect(reason(() => decodeProblemReport(new Uint8Array(MAX_REPORT_PAYLOAD_BYTES + 1)))).toBe('ReportError:oversized:')
    // A map with its keys out of canonical order.
    const reordered = Uint8Array.from([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])
    expect(reason(() => decodeProblemReport(reordered))).toBe('ReportError:invalid:')
    expect(reason(() => decodeProblemReport(dagCbor.encode([1, 2])))).toBe('ReportError:invalid:')
  })
})

describe('building a report', () => {
  it('redacts the tail, the test name and the diff, and records the counts', () => {
    const redactor = createRedactor(['hunter2-local'])
    const input = reportInput(machine, {
      test: { name: 'run.sh --token=abcd1234', exitCode: 2, signal: null, timedOut: false, durationMs: 1 },
      output: { tail: 'connect mysql://app:hunter2-local@db/shop\nError: denied for AKIAIOSFODNN7EXAMPLE\n', bytes: 60 }
    })
    const report = buildProblemReport(input, redactor)
    const json = JSON.stringify(report)
    for (const secret of ['hunter2-local', 'abcd1234', 'AKIAIOSFODNN7EXAMPLE']) expect(json).not.toContain(secret)
    expect(report.failure.name).toBe('run.sh --token=[REDACTED:key-value]')
    expect(report.redactions).toEqual({ 'owner-secret': 1, 'url-credentials': 1, 'aws-access-key': 1, 'key-value': 1 })
  })

  it('bounds the tail to 64 KiB at a character boundary and drops the partial first line of a cut output', () => {
    const line = 'ünïcödé line with password=should-not-leak\n'
    const long = line.repeat(4000)
    const { text, truncated } = boundTail(long, Buffer.byteLength(long))
    expect(truncated).toBe(true)
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_REPORT_OUTPUT_TAIL_BYTES)
    expect(text.startsWith('ünïcödé')).toBe(true)
    expect(text.includes('\uFFFD')).toBe(false)
    // A tail the runner already cut (more bytes written than kept) starts mid-line: the fragment goes.
    expect(boundTail('rd=hunter2\nError: boom\n', 5_000)).toEqual({ text: 'Error: boom\n', truncated: true })
    expect(boundTail('whole output\n', 13)).toEqual({ text: 'whole output\n', truncated: false })
    // One huge line: a bounded part is dropped, the rest kept.
    expect(boundTail('x'.repeat(10_000), 20_000).text.length).toBe(10_000 - 4096)
  })

  it('keeps the tail within bounds even when markers are longer than what they replace', () => {
    const report = buildProblemReport(reportInput(machine, { output: { tail: `${'t=1 AKIAIOSFODNN7EXAMPLE\n'.repeat(3000)}`, bytes: 75_000 } }), createRedactor())
    expect(Buffer.byteLength(report.output.tail)).toBeLessThanOrEqual(MAX_REPORT_OUTPUT_TAIL_BYTES)
    expect(report.output.tail).not.toContain('AKIAIOSFODNN7EXAMPLE')
  })

  it('carries the fingerprint diff with names only: lines of text resources become salted hashes', () => {
    const a = fingerprint('a')
    const diff = diffFingerprints(a, fingerprint('b'))
    // The raw diff names the .env lines, secret included: that is what must not leave.
    expect(JSON.stringify(diff)).toContain('hunter2-local')
    const kinds = Object.fromEntries(Object.entries(a.resources).map(([name, info]) => [name, info.kind]))
    const report = buildProblemReport(reportInput(machine, { environment: { diff, resourceKinds: kinds, salt: 'salt-1' } }), createRedactor())
    const json = JSON.stringify(report)
    expect(json).not.toContain('hunter2-local')
    expect(json).not.toContain('other-one')
    expect(json).not.toContain('h-mem-')
    const env = report.environment?.diff.resources.find(r => r.resource === '.env')
    expect(env?.onlyA).toEqual([`${HASHED_ITEM_PREFIX}${hashValue('salt-1', 'DB_PASSWORD=hunter2-local')}`])
    expect(report.environment?.diff.resources.find(r => r.resource === 'php.ini')?.changed).toEqual(['PHP.memory_limit'])
    expect(report.environment?.omitted).toBe(0)
    expect(decodeProblemReport(encodeProblemReport(report))).toEqual(report)
  })

  it('bounds a huge diff, relevant resources first, and counts what it left out', () => {
    const resources = Array.from({ length: 400 }, (_, i) => ({
      resource: `r${String(i).padStart(3, '0')}`,
      kind: 'items' as const,
      changed: Array.from({ length: 10 }, (_, j) => `item-${j}-${'y'.repeat(300)}`),
      onlyA: [],
      onlyB: [],
      attributes: [],
      relevant: i % 2 === 1
    }))
    const kinds = Object.fromEntries(resources.map(r => [r.resource, 'ini']))
    const report = buildProblemReport(reportInput(machine, {
      environment: { diff: { app: 'webshop', same: false, sameCluster: false, resources }, resourceKinds: kinds, salt: 's' }
    }), createRedactor())
    const env = report.environment as NonNullable<ProblemReport['environment']>
    expect(env.diff.resources.length).toBe(200)
    expect(env.diff.resources.every(r => r.relevant)).toBe(true)
    expect(env.diff.resources.reduce((n, r) => n + r.changed.length, 0)).toBe(500)
    // 200 resources left out whole, and 1,500 of the 2,000 names of those kept.
    expect(env.omitted).toBe(200 + 1_500)
    expect(encodeCanonical(report).byteLength).toBeLessThan(MAX_REPORT_PAYLOAD_BYTES)
  })
})
