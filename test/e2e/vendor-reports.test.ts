/**
 * `mirage vendor reports` through the real command, on an inbox as the
 * seed leaves it: two sealed reports of the same failure, one of another,
 * and a garbage file. The table groups the first two into one line, the
 * garbage is listed with its reason and kept; --json carries each report's
 * details; an empty inbox says so.
 */
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { reportPublicKeyFromText, sealReport } from '../../src/report/index.ts'
import { runMirage } from '../helpers/run-mirage.ts'
import { T0, makeMachine, releaseIdFor, sampleReport } from '../unit/report/report-fixtures.ts'
import type { Machine } from '../unit/report/report-fixtures.ts'

let work: string
let vendorDir: string
let machines: Machine[]
let garbageFile: string

async function deliver (sealed: Uint8Array): Promise<string> {
  const dir = join(vendorDir, 'reports')
  await mkdir(dir, { recursive: true })
  const name = `${createHash('sha256').update(sealed).digest('hex')}.report`
  await writeFile(join(dir, name), sealed)
  return name
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mirage-e2e-reports-'))
  vendorDir = join(work, 'vendor')
  const init = await runMirage(['vendor', 'init', '--dir', vendorDir, '--json'])
  expect(init.code, init.stderr).toBe(0)
  const reportKey = reportPublicKeyFromText((JSON.parse(init.stdout) as { reportKey: string }).reportKey)
  machines = await Promise.all([makeMachine(), makeMachine(), makeMachine()])
  const [a, b, c] = machines as [Machine, Machine, Machine]
  await deliver(await sealReport(sampleReport(a.peerId.toString(), { at: T0 + 1_000 }), a.key, reportKey))
  await deliver(await sealReport(sampleReport(b.peerId.toString(), {
    at: T0 + 61_000,
    output: { tail: 'not ok 2 - checkout\nError: expected 200, got 502 at /opt/shop/checkout.php:44\n', bytes: 60 }
  }), b.key, reportKey))
  await deliver(await sealReport(sampleReport(c.peerId.toString(), {
    clusterId: 'php74-mariadb',
    role: 'follower',
    phase: 'health-check',
    test: { name: 'health', exitCode: null, signal: null, timedOut: true, durationMs: 30_000 },
    output: { tail: 'waiting for port 8080\nstill waiting\n', bytes: 36 },
    timings: { testStartedAt: T0, testEndedAt: T0 + 30_000, installedAt: T0 - 5_000 },
    at: T0 + 120_000
  }), c.key, reportKey))
  garbageFile = await deliver(new TextEncoder().encode('\x1b[31mnot a sealed report\n'))
})

afterAll(async () => { await rm(work, { recursive: true, force: true }) })

describe('mirage vendor reports', () => {
  it('prints one line per failure, with counts, and lists the file it could not open', async () => {
    const run = await runMirage(['vendor', 'reports', '--vendor', vendorDir])
    expect(run.code, run.stderr).toBe(0)
    const out = run.stdout
    expect(out).toContain(`3 reports in 2 groups, from ${join(vendorDir, 'reports')}`)
    expect(out).toMatch(/release\s+cluster\s+phase\s+failed test\s+ending\s+count\s+machines\s+first seen\s+last seen\s+first error/)
    const id = releaseIdFor('webshop 2.1.0')
    const shortId = `${id.slice(0, 6)}…${id.slice(-8)}`
    expect(out).toMatch(new RegExp(`2\\.1\\.0 ${shortId}\\s+php82-mysql8\\s+test\\s+test/run\\.sh\\s+exit 1\\s+2\\s+2\\s+2026-09-21T\\d\\d:\\d\\d:\\d\\dZ\\s+\\S+\\s+Error: expected 200, got 500 at /srv/app/checkout\\.php:41`))
    expect(out).toMatch(/php74-mariadb\s+health-check\s+health\s+timeout\s+1\s+1\s+.*still waiting/)
    expect(out).toContain('1 file could not be opened (left in place):')
    expect(out).toContain(`${garbageFile}: malformed:`)
    // The garbage's escape sequence never reaches the terminal, and nothing was deleted.
    expect(out).not.toContain('\x1b')
    expect(await readdir(join(vendorDir, 'reports'))).toHaveLength(4)
  })

  it('--json gives the groups with every report\'s details', async () => {
    const run = await runMirage(['vendor', 'reports', '--vendor', vendorDir, '--json'])
    expect(run.code, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout) as {
      groups: Array<{ clusterId: string, count: number, machines: string[], signature: { line: string }, reports: Array<Record<string, unknown>> }>
      unreadable: Array<{ file: string, reason: string }>
      totals: Record<string, number>
    }
    expect(result.totals).toMatchObject({ reports: 3, groups: 2, unreadable: 1, duplicates: 0 })
    const [same, other] = result.groups
    expect(same).toMatchObject({ clusterId: 'php82-mysql8', count: 2, signature: { line: 'Error: expected #, got # at <path>:#' } })
    expect(same?.machines).toEqual([machines[0]?.peerId.toString(), machines[1]?.peerId.toString()].sort())
    expect(same?.reports[0]).toMatchObject({
      machine: machines[0]?.peerId.toString(),
      role: 'representative',
      phase: 'test',
      firstErrorLine: 'Error: expected 200, got 500 at /srv/app/checkout.php:41',
      output: { tail: expect.stringContaining('running 12 tests') },
      timings: { testStartedAt: new Date(T0).toISOString(), installedAt: null },
      failure: { name: 'test/run.sh', exitCode: 1 }
    })
    expect(same?.reports[0]).toHaveProperty('environment')
    expect(other?.reports[0]).toMatchObject({ role: 'follower', phase: 'health-check', timings: { installedAt: new Date(T0 - 5_000).toISOString() } })
    expect(result.unreadable).toEqual([{ file: garbageFile, reason: 'malformed', message: expect.any(String) }])
  })

  it('--app filters; an empty inbox says so; a bad --app is a usage error', async () => {
    const blog = await runMirage(['vendor', 'reports', '--vendor', vendorDir, '--app', 'blog'])
    expect(blog.code, blog.stderr).toBe(0)
    // The garbage file has no app: it is still listed.
    expect(blog.stdout).toContain('0 reports of blog in 0 groups')
    const empty = join(work, 'empty-vendor')
    expect((await runMirage(['vendor', 'init', '--dir', empty])).code).toBe(0)
    const none = await runMirage(['vendor', 'reports', '--vendor', empty])
    expect(none.code, none.stderr).toBe(0)
    expect(none.stdout).toBe(`no problem reports in ${join(empty, 'reports')}\n`)
    const bad = await runMirage(['vendor', 'reports', '--vendor', vendorDir, '--app', 'Web Shop'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--app must be an app name')
  })
})
