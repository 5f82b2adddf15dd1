/**
 * Grouping opened reports for the vendor: by release, cluster and failure
 * signature; signatures ignore what differs between machines hitting one
 * bug; the result does not depend on the input's order.
 */
import { describe, expect, it } from 'vitest'
import { failureEnding, failureSignature, firstErrorLine, groupReports, normaliseErrorLine } from '../../../src/report/index.ts'
import { mulberry32 } from '../../helpers/seeded-random.ts'
import { T0, makeMachine, releaseIdFor, sampleReport } from './report-fixtures.ts'
import type { ProblemReport } from '../../../src/report/index.ts'

const machines = await Promise.all(Array.from({ length: 6 }, async () => (await makeMachine()).peerId.toString()))

function failing (machine: string, tail: string, at: number, extra: Partial<Parameters<typeof sampleReport>[1]> = {}): ProblemReport {
  return sampleReport(machine, { output: { tail, bytes: tail.length }, at, ...extra })
}

describe('failure signature', () => {
  it('picks the first error line, else the last line', () => {
    expect(firstErrorLine('ok 1\nok 2\nFATAL: disk full\nError: later\n')).toBe('FATAL: disk full')
    expect(firstErrorLine('step one\n\nstep two  \n\n')).toBe('step two')
    expect(firstErrorLine('')).toBe('')
  })

  it('masks numbers, hex, ids, times and paths', () => {
    expect(normaliseErrorLine('2031-05-01T10:00:00.123Z Error: pid 4242 at 0x7ffd1234 in /srv/app/v2/checkout.php:41'))
      .toBe('<time> Error: pid # at <hex> in <path>:#')
    expect(normaliseErrorLine('request 3f2a9c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6 failed, commit deadbeef12'))
      .toBe('request <uuid> failed, commit <hex>')
    expect(normaliseErrorLine('  two   spaces\tand tab  ')).toBe('two spaces and tab')
  })

  it('is equal for one bug on different machines and differs by phase, test, ending and message', () => {
    const a = failing(machines[0] as string, 'Error: timeout after 5003 ms at /home/alice/app/x.js:10\n', T0)
    const b = failing(machines[1] as string, 'ok\nError: timeout after 4987 ms at /home/bob/app/x.js:10\n', T0 + 1)
    expect(failureSignature(a)).toEqual(failureSignature(b))
    const base = failureSignature(a).id
    expect(failureSignature({ ...a, phase: 'health-check' }).id).not.toBe(base)
    expect(failureSignature({ ...a, failure: { ...a.failure, name: 'other' } }).id).not.toBe(base)
    expect(failureSignature({ ...a, failure: { ...a.failure, exitCode: 2 } }).id).not.toBe(base)
    expect(failureSignature({ ...a, output: { ...a.output, tail: 'Error: connection refused\n' } }).id).not.toBe(base)
    expect(failureSignature(a).id).toMatch(/^[0-9a-f]{16}$/)
  })

  it('names how the test ended', () => {
    const f = { name: 't', exitCode: null, signal: null, timedOut: false, durationMs: 0, resourceUse: null }
    expect(failureEnding({ ...f, timedOut: true, signal: 'SIGKILL' })).toBe('timeout')
    expect(failureEnding({ ...f, signal: 'SIGSEGV' })).toBe('signal SIGSEGV')
    expect(failureEnding({ ...f, exitCode: 3 })).toBe('exit 3')
    expect(failureEnding(f)).toBe('no exit code')
  })
})

describe('groupReports', () => {
  const [m0, m1, m2, m3, m4] = machines as [string, string, string, string, string]
  const reports: ProblemReport[] = [
    failing(m0, 'Error: db timeout after 5000 ms\n', T0 + 10),
    failing(m1, 'Error: db timeout after 4800 ms\n', T0 + 30),
    failing(m2, 'Error: db timeout after 5100 ms\n', T0 + 20),
    failing(m0, 'Error: db timeout after 5000 ms\n', T0 + 40),
    failing(m3, 'Segmentation fault\n', T0 + 5, { test: { name: 'test/run.sh', exitCode: null, signal: 'SIGSEGV', timedOut: false, durationMs: 9 } }),
    failing(m4, 'Error: db timeout after 5000 ms\n', T0 + 50, { clusterId: 'php74' }),
    failing(m4, 'Error: db timeout after 5000 ms\n', T0 + 60, { releaseId: releaseIdFor('webshop 2.1.1'), releaseVersion: '2.1.1' })
  ]

  it('groups by release, cluster and signature with counts, first/last seen and machines, largest first', () => {
    const groups = groupReports(reports.map(report => ({ report })))
    expect(groups.map(g => [g.clusterId, g.count, g.signature.ending])).toEqual([
      ['php82-mysql8', 4, 'exit 1'],
      ['php82-mysql8', 1, 'exit 1'],
      ['php74', 1, 'exit 1'],
      ['php82-mysql8', 1, 'signal SIGSEGV']
    ])
    const top = groups[0]
    expect(top).toMatchObject({ app: 'webshop', releaseId: releaseIdFor('webshop 2.1.0'), releaseVersions: ['2.1.0'], firstSeen: T0 + 10, lastSeen: T0 + 40 })
    expect(top?.machines).toEqual([m0, m1, m2].sort())
    expect(top?.signature.line).toBe('Error: db timeout after # ms')
    expect(groups[1]?.releaseVersions).toEqual(['2.1.1'])
  })

  it('is deterministic: any order of the same reports gives the same groups', () => {
    const expected = groupReports(reports.map(report => ({ report })))
    const random = mulberry32(99)
    for (let round = 0; round < 50; round++) {
      const shuffled = [...reports]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[shuffled[i], shuffled[j]] = [shuffled[j] as ProblemReport, shuffled[i] as ProblemReport]
      }
      expect(groupReports(shuffled.map(report => ({ report })))).toEqual(expected)
    }
    expect(JSON.stringify(groupReports([]))).toBe('[]')
  })

  it('uses the verified sender when given', () => {
    const [group] = groupReports([{ report: reports[0] as ProblemReport, machine: 'verified-sender' }])
    expect(group?.machines).toEqual(['verified-sender'])
  })
})
