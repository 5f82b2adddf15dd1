import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { probeSandbox, runTestSuite } from '../../../src/testing/index.ts'
import { script, tempDirs } from './helpers.ts'

const dirs = tempDirs()
afterEach(dirs.cleanup)

const probe = await probeSandbox()
const skipNote = probe.ok ? '' : ` [SKIPPED, no sandbox here: ${probe.reason}]`
if (!probe.ok) console.warn(`testing/test-suite: sandboxed tests are skipped: ${probe.reason}`)

const exists = async (file: string): Promise<boolean> => await readFile(file).then(() => true, () => false)

describe('runTestSuite', () => {
  it('runs the vendor test and the owner\'s acceptance tests in order, and passes when all pass', async () => {
    const cwd = await dirs.make()
    await writeFile(path.join(cwd, 'app.conf'), 'mode = production\n')
    await script(cwd, 'vendor-test', 'echo vendor >> order.log')
    const result = await runTestSuite({
      cwd,
      sandbox: 'off',
      tests: [
        { name: 'vendor', command: ['vendor-test'], timeoutMs: 30_000 },
        // Owner tests: a shell command and an absolute path, run in the staged version.
        { name: 'config present', command: ['sh', '-c', 'grep -q production app.conf && echo owner >> order.log'], commandBase: 'system', timeoutMs: 30_000 },
        { name: 'true', command: ['/bin/true'], commandBase: 'system', timeoutMs: 30_000 }
      ]
    })
    expect(result).toMatchObject({ pass: true, failedTest: null, skipped: [] })
    expect(result.results.map((r) => [r.name, r.result.pass])).toEqual([['vendor', true], ['config present', true], ['true', true]])
    expect(await readFile(path.join(cwd, 'order.log'), 'utf8')).toBe('vendor\nowner\n')
  })

  it('stops at the first failure, naming the failed test and the skipped ones', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'vendor-test', 'exit 0')
    const result = await runTestSuite({
      cwd,
      sandbox: 'off',
      tests: [
        { name: 'vendor', command: ['vendor-test'], timeoutMs: 30_000 },
        { name: 'owner smoke', command: ['sh', '-c', 'echo "checkout broken" >&2; exit 2'], commandBase: 'system', timeoutMs: 30_000 },
        { name: 'owner later', command: ['sh', '-c', 'touch later-ran'], commandBase: 'system', timeoutMs: 30_000 }
      ]
    })
    expect(result).toMatchObject({ pass: false, failedTest: 'owner smoke', skipped: ['owner later'] })
    expect(result.results).toHaveLength(2)
    expect(result.results[1]?.result).toMatchObject({ exitCode: 2, outputTail: 'checkout broken\n' })
    expect(await exists(path.join(cwd, 'later-ran'))).toBe(false)
  })

  it('fails a suite whose test times out, and reports a missing system program as that test\'s failure', async () => {
    const cwd = await dirs.make()
    const timedOut = await runTestSuite({
      cwd,
      sandbox: 'off',
      killGraceMs: 200,
      tests: [{ name: 'hangs', command: ['sleep', '1000'], commandBase: 'system', timeoutMs: 1000 }]
    })
    expect(timedOut).toMatchObject({ pass: false, failedTest: 'hangs' })
    expect(timedOut.results[0]?.result.timedOut).toBe(true)
    const missing = await runTestSuite({
      cwd,
      sandbox: 'off',
      tests: [{ name: 'missing', command: ['/nonexistent/acceptance-test'], commandBase: 'system', timeoutMs: 30_000 }]
    })
    expect(missing).toMatchObject({ pass: false, failedTest: 'missing' })
    expect(missing.results[0]?.result.outputTail).toMatch(/cannot start test program "\/nonexistent\/acceptance-test": .*ENOENT/)
  })

  it('checks every test before running any', async () => {
    const cwd = await dirs.make()
    const first = { name: 'first', command: ['sh', '-c', 'touch first-ran'], commandBase: 'system' as const, timeoutMs: 30_000 }
    const bad = [
      { tests: [], reason: 'tests' },
      { tests: [first, { ...first }], reason: 'tests' },
      { tests: [first, { ...first, name: '' }], reason: 'tests' },
      // A staging test must name a program inside the staging dir…
      { tests: [first, { name: 'vendor', command: ['/bin/true'], timeoutMs: 30_000 }], reason: 'program-escapes' },
      // …a system one an absolute path or a name on PATH.
      { tests: [first, { name: 'owner', command: ['bin/check'], commandBase: 'system' as const, timeoutMs: 30_000 }], reason: 'command' },
      { tests: [first, { name: 'owner', command: ['true'], commandBase: 'system' as const, timeoutMs: 0 }], reason: 'timeout' }
    ]
    for (const { tests, reason } of bad) {
      await expect(runTestSuite({ cwd, sandbox: 'off', tests }), reason).rejects.toMatchObject({ name: 'TestRunInvalidError', reason })
    }
    expect(await exists(path.join(cwd, 'first-ran'))).toBe(false)
  })

  it('rejects with TestAbortedError when aborted, running nothing more', async () => {
    const cwd = await dirs.make()
    await expect(runTestSuite({
      cwd,
      sandbox: 'off',
      signal: AbortSignal.abort(),
      tests: [{ name: 'first', command: ['sh', '-c', 'touch ran'], commandBase: 'system', timeoutMs: 30_000 }]
    })).rejects.toMatchObject({ name: 'TestAbortedError' })
    expect(await exists(path.join(cwd, 'ran'))).toBe(false)
  })

  it(`sandboxes by default where it can, and grants the network only to a test that asks when the owner allows${skipNote}`, async () => {
    const cwd = await dirs.make()
    const tests = [
      { name: 'offline', command: ['true'], commandBase: 'system' as const, timeoutMs: 30_000 },
      { name: 'online', command: ['true'], commandBase: 'system' as const, timeoutMs: 30_000, network: true }
    ]
    const network = async (allowNetwork: boolean): Promise<unknown[]> =>
      (await runTestSuite({ cwd, tests, allowNetwork })).results.map((r) => r.result.sandbox)
    if (probe.ok) {
      expect(await network(false)).toEqual([{ kind: 'bubblewrap', network: false }, { kind: 'bubblewrap', network: false }])
      expect(await network(true)).toEqual([{ kind: 'bubblewrap', network: false }, { kind: 'bubblewrap', network: true }])
    } else {
      // auto without a working bwrap: unsandboxed, and saying why.
      expect(await network(true)).toEqual([{ kind: 'none', reason: probe.reason, network: true }, { kind: 'none', reason: probe.reason, network: true }])
    }
  })
})
