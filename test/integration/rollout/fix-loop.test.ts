/**
 * Issue 5 end to end on real nodes: a release whose test fails in cluster B
 * while the vendor is offline; the sealed report waits on the machines and
 * reaches the vendor when it comes back; the vendor ships a fix that flows
 * through the stages again; and a machine its cluster misplaced rolls back
 * after its health check and halts its cluster for the rest.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openInstaller } from '../../../src/install/index.ts'
import { REPORT_FILE_SUFFIX, readReportInbox, vendorReportsDir } from '../../../src/vendor/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import { APP, Swarm } from './swarm.ts'
import type { MachineSpec } from './swarm.ts'

let swarm: Swarm | undefined

afterEach(async () => {
  await swarm?.teardown()
  swarm = undefined
})

/** A, then B after A, then C after B; one representative and a quorum of one each. */
const PLAN = {
  style: 'staged',
  clusters: [
    { name: 'A', k: 1, q: 1 },
    { name: 'B', after: ['A'], k: 1, q: 1 },
    { name: 'C', after: ['B'], k: 1, q: 1 }
  ],
  default: { after: ['C'], k: 1, q: 1 }
}
const WAIT = { timeoutMs: 180_000, intervalMs: 300 }

/** Versions the machine's install history ever made current. */
async function versionsRun (s: Swarm, name: string): Promise<string[]> {
  const machine = s.machines.get(name)
  const installer = await openInstaller(machine?.config.apps[APP]?.installDir ?? '')
  const state = await installer.state()
  return state.history.filter(h => h.action !== 'withdraw').map(h => h.name.replace(/-[^-]+$/, ''))
}

/** Versions whose test failed on the machine (its own verdict: failed as a representative, or rolled back after its health check). */
async function versionsFailedHere (s: Swarm, name: string): Promise<string[]> {
  const status = await s.machines.get(name)?.node?.status()
  return (status?.apps[0]?.releases ?? []).filter(r => r.state === 'failed' || r.state === 'rolled-back').map(r => r.version)
}

describe('the fix loop: failure, report, fix', () => {
  it('gets a report to a vendor that was offline during the failure; the fix installs everywhere and A moves to it', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    const legacy = join(s.work, 'legacy-php.ini')
    await writeFile(legacy, '[php]\nlegacy = on\npassword = hunter2-not-for-vendors\n')
    const machines: MachineSpec[] = [
      // a1 tests slowly, so the vendor can go offline after a1 has the chunks and before B tests.
      { name: 'a1', cluster: 'A', role: 'representative', testEnv: { SLOW: '2' } },
      { name: 'a2', cluster: 'A', role: 'follower' },
      { name: 'b1', cluster: 'B', role: 'representative', testEnv: { PHP_INI: legacy }, secrets: ['hunter2-not-for-vendors'] },
      { name: 'b2', cluster: 'B', role: 'follower', testEnv: { PHP_INI: legacy } },
      { name: 'c1', cluster: 'C', role: 'representative' },
      { name: 'c2', cluster: 'C', role: 'follower' }
    ]
    const broken = await s.publish({ version: '2.0.0', sequence: 1, plan: PLAN })
    const seed = await s.startSeed()
    await seed.seedRelease(broken.dir)
    await Promise.all(machines.map(async spec => s.start(spec)))

    await waitFor('a1 holds the release and tests it', async () => (await s.versionStatus('a1', '2.0.0'))?.state === 'testing', { ...WAIT, describe: async () => s.describe() })
    await s.stopSeed()

    // B's representative fails while the vendor is away: its report waits.
    await waitFor('b1 failed, A installed, C blocked', async () => {
      const states = await Promise.all(machines.map(async m => (await s.versionStatus(m.name, '2.0.0'))?.state))
      return states[0] === 'installed' && states[1] === 'installed' && states[2] === 'failed' && states[3] === 'blocked' && states[4] === 'blocked' && states[5] === 'blocked'
    }, { ...WAIT, describe: async () => s.describe() })
    const b1 = await s.machines.get('b1')?.node?.status()
    expect(b1?.reports.waiting, 'b1 keeps its undelivered report').toBe(1)
    await waitFor('another machine holds b1\'s report in custody', async () => {
      for (const name of ['a1', 'a2', 'b2', 'c1', 'c2']) {
        if (((await s.machines.get(name)?.node?.status())?.reports.custody ?? 0) > 0) return true
      }
      return false
    }, WAIT)
    await mkdir(vendorReportsDir(s.vendor.dir), { recursive: true })
    expect(await readdir(vendorReportsDir(s.vendor.dir)), 'nothing reached the offline vendor').toEqual([])

    // The vendor comes back: the report arrives (once, whichever routes it took), readable only with its key.
    await s.startSeed()
    await waitFor('the report in the vendor\'s inbox', async () => (await inboxReports(s)).length > 0, WAIT)
    const inbox = await readReportInbox(s.vendor, { details: true })
    expect(inbox.unreadable).toEqual([])
    expect(inbox.groups).toHaveLength(1)
    const group = inbox.groups[0]
    expect(group).toMatchObject({ clusterId: 'B', releaseId: broken.release.id, count: 1, machines: [s.machines.get('b1')?.node?.peerId.toString()] })
    expect(group?.signature).toMatchObject({ phase: 'test', test: 'release test', ending: 'exit 3' })
    // The failing test printed the machine's php.ini, password included: the vendor gets the output, not the secret.
    const tail = group?.reports[0]?.report.output.tail ?? ''
    expect(tail).toContain('legacy mode is not supported')
    expect(tail).toContain('[REDACTED')
    expect(tail).not.toContain('hunter2-not-for-vendors')
    await waitFor('b1 sees its report delivered', async () => (await s.machines.get('b1')?.node?.status())?.reports.delivered === 1, WAIT)

    // The fix: it supports legacy mode, and flows through A, B and C again.
    const fix = await s.publish({ version: '2.0.1', sequence: 2, plan: PLAN, files: { 'share/supports-legacy': 'yes\n' } })
    await s.seed?.seedRelease(fix.dir)
    await waitFor('every machine runs the fix', async () => {
      for (const m of machines) if (await s.currentVersion(m.name) !== '2.0.1') return false
      return true
    }, { ...WAIT, describe: async () => s.describe() })

    expect(await versionsRun(s, 'a1'), 'A ran the harmless broken release, then moved to the fix').toEqual(['2.0.0', '2.0.1'])
    expect(await versionsRun(s, 'a2')).toEqual(['2.0.0', '2.0.1'])
    for (const name of ['b1', 'b2', 'c1', 'c2']) expect(await versionsRun(s, name), `${name} never ran 2.0.0`).toEqual(['2.0.1'])
    for (const m of machines) {
      const failed = await versionsFailedHere(s, m.name)
      const ran = await versionsRun(s, m.name)
      for (const version of failed) expect(ran, `${m.name} never ran ${version}, whose test failed there`).not.toContain(version)
    }
  })

  it('rolls back a misplaced follower whose health check fails, halts its cluster for the rest, and reports it', async () => {
    swarm = await Swarm.create(1024 * 1024)
    const s = swarm
    const legacy = join(s.work, 'legacy-php.ini')
    await writeFile(legacy, '[php]\nlegacy = on\n')
    const plan = { style: 'staged', clusters: [{ name: 'A', k: 1, q: 1 }], default: { k: 1, q: 1 } }
    const a1: MachineSpec = { name: 'a1', cluster: 'A', role: 'representative' }
    // Misplaced: in A by name, but its php.ini is legacy.
    const a2: MachineSpec = { name: 'a2', cluster: 'A', role: 'follower', testEnv: { PHP_INI: legacy } }
    const a3: MachineSpec = { name: 'a3', cluster: 'A', role: 'follower' }

    // Version 1 supports legacy mode and runs everywhere (a3 joins later).
    const v1 = await s.publish({ version: '1.0.0', sequence: 1, plan, files: { 'share/supports-legacy': 'yes\n' } })
    const seed = await s.startSeed()
    await seed.seedRelease(v1.dir)
    await Promise.all([s.start(a1), s.start(a2)])
    await waitFor('1.0.0 on a1 and a2', async () => await s.currentVersion('a1') === '1.0.0' && await s.currentVersion('a2') === '1.0.0', { ...WAIT, describe: async () => s.describe() })

    // Version 2 drops legacy support: a1 (not legacy) passes; a2 installs and its health check fails.
    const v2 = await s.publish({ version: '2.0.0', sequence: 2, plan, files: { 'share/supports-legacy': null } })
    await seed.seedRelease(v2.dir)
    await waitFor('a2 rolled back', async () => (await s.versionStatus('a2', '2.0.0'))?.state === 'rolled-back', { ...WAIT, describe: async () => s.describe() })
    expect(await s.currentVersion('a1')).toBe('2.0.0')
    expect(await s.currentVersion('a2'), 'a2 is back on 1.0.0').toBe('1.0.0')
    expect((await s.versionStatus('a2', '2.0.0'))?.reason).toMatch(/health check failed.*rolled back to 1\.0\.0/)

    // A follower that comes later does not install 2.0.0: the cluster is halted for it by a2's failure.
    await s.start(a3)
    await waitFor('a3 blocked on 2.0.0', async () => (await s.versionStatus('a3', '2.0.0'))?.state === 'blocked', { ...WAIT, describe: async () => s.describe() })
    expect((await s.versionStatus('a3', '2.0.0'))?.reason).toMatch(/\bA\b/)
    expect(await s.currentVersion('a3')).not.toBe('2.0.0')

    // The vendor sees a health-check report from the misplaced machine.
    await waitFor('the report in the vendor\'s inbox', async () => (await inboxReports(s)).length > 0, WAIT)
    const inbox = await readReportInbox(s.vendor)
    expect(inbox.groups).toHaveLength(1)
    expect(inbox.groups[0]).toMatchObject({ clusterId: 'A', count: 1, machines: [s.machines.get('a2')?.node?.peerId.toString()] })
    expect(inbox.groups[0]?.signature).toMatchObject({ phase: 'health-check', ending: 'exit 3' })
  })
})

/** Reports filed in the vendor's inbox (not the temporary file of one being written). */
async function inboxReports (s: Swarm): Promise<string[]> {
  const names = await readdir(vendorReportsDir(s.vendor.dir)).catch(() => [])
  return names.filter(name => name.endsWith(REPORT_FILE_SUFFIX))
}
