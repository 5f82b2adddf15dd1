import { afterEach, describe, expect, it } from 'vitest'
import { MAX_WRAPPER_REPORT_BYTES } from '../../../src/testing/constants.ts'
import { probeSandbox, runReleaseTest } from '../../../src/testing/index.ts'
import { WrapperReportReader, parseWrapperReport } from '../../../src/testing/resource-use.ts'
import { script, tempDirs } from './helpers.ts'

const dirs = tempDirs()
afterEach(dirs.cleanup)

const probe = await probeSandbox()
if (!probe.ok) console.warn(`testing/resource-use: sandboxed variants are skipped: ${probe.reason}`)
const modes = [
  { sandbox: 'off' as const, skip: false, label: 'without a sandbox' },
  { sandbox: 'require' as const, skip: !probe.ok, label: probe.ok ? 'in the sandbox' : `in the sandbox [SKIPPED, no sandbox here: ${probe.reason}]` }
]

/** About 0.1–0.5 s of pure user-mode CPU in sh. */
const BURN = 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'

describe.each(modes)('resource use and exit status $label', ({ sandbox, skip }) => {
  it.skipIf(skip)('reports the user CPU of a CPU-burning test', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', BURN)
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 60_000, sandbox })
    expect(result.pass).toBe(true)
    expect(result.resourceUse?.userCpuMs).toBeGreaterThan(0)
    expect(result.resourceUse?.systemCpuMs).toBeGreaterThanOrEqual(0)
  })

  it.skipIf(skip)('counts the CPU of processes the test started and waited for', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'burn.sh', BURN)
    // The test itself only waits; the burning is its child's.
    await script(cwd, 'test.sh', './burn.sh')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 60_000, sandbox })
    expect(result.resourceUse?.userCpuMs).toBeGreaterThan(0)
  })

  it.skipIf(skip)('keeps an exit code above 128 apart from death by a signal', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'exits.sh', 'exit 143')
    await script(cwd, 'killed.sh', 'kill -TERM $$')
    const exits = await runReleaseTest({ cwd, command: ['exits.sh'], timeoutMs: 30_000, sandbox })
    expect(exits).toMatchObject({ pass: false, exitCode: 143, signal: null })
    const killed = await runReleaseTest({ cwd, command: ['killed.sh'], timeoutMs: 30_000, sandbox })
    expect(killed).toMatchObject({ pass: false, exitCode: null, signal: 'SIGTERM', timedOut: false })
  })

  it.skipIf(skip)('keeps the report out of the test\'s output, and fd 3 out of the test', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'echo out\nif echo x >&3; then echo "fd 3 open"; else echo "fd 3 closed"; fi 2>/dev/null')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, sandbox })
    expect(result).toMatchObject({ pass: true, outputTail: 'out\nfd 3 closed\n' })
    expect(result.resourceUse).not.toBeNull()
  })

  it.skipIf(skip)('has no resource use for a test that never started', async () => {
    const cwd = await dirs.make()
    const result = await runReleaseTest({ cwd, command: ['missing.sh'], timeoutMs: 30_000, sandbox })
    expect(result).toMatchObject({ pass: false, resourceUse: null })
  })
})

describe('parseWrapperReport', () => {
  it('reads an exit, a death by signal and a spawn error', () => {
    expect(parseWrapperReport('{"exitCode":3,"signal":null,"cpu":{"cutime":12,"cstime":3}}\n')).toEqual({
      kind: 'exited', exitCode: 3, signal: null, resourceUse: { userCpuMs: 120, systemCpuMs: 30 }
    })
    expect(parseWrapperReport('{"exitCode":null,"signal":"SIGKILL","cpu":null}\n')).toEqual({
      kind: 'exited', exitCode: null, signal: 'SIGKILL', resourceUse: null
    })
    expect(parseWrapperReport('{"spawnError":"spawn /x EACCES"}\n')).toEqual({ kind: 'spawn-error', message: 'spawn /x EACCES' })
  })

  it('rejects anything else', () => {
    const bad = [
      '',
      '{"exitCode":0,"signal":null,"cpu":null}', // no newline: cut off
      '{"exitCode":0,"signal":null,"cpu":null}\n{"exitCode":1,"signal":null,"cpu":null}\n',
      'not json\n',
      'null\n',
      '[]\n',
      '{"exitCode":0,"signal":"SIGTERM","cpu":null}\n',
      '{"exitCode":null,"signal":null,"cpu":null}\n',
      '{"exitCode":256,"signal":null,"cpu":null}\n',
      '{"exitCode":-1,"signal":null,"cpu":null}\n',
      '{"exitCode":1.5,"signal":null,"cpu":null}\n',
      '{"exitCode":null,"signal":"SIGNOPE","cpu":null}\n',
      '{"exitCode":null,"signal":"toString","cpu":null}\n',
      '{"exitCode":0,"signal":null,"cpu":{"cutime":-1,"cstime":0}}\n',
      '{"exitCode":0,"signal":null,"cpu":{"cutime":1.5,"cstime":0}}\n',
      '{"exitCode":0,"signal":null,"cpu":{"cutime":"1","cstime":0}}\n',
      '{"exitCode":0,"signal":null,"cpu":"lots"}\n',
      '{"exitCode":0,"signal":null}\n'
    ]
    for (const text of bad) expect(parseWrapperReport(text), text).toBeUndefined()
  })

  it('ignores a side channel larger than any real report, however it ends', () => {
    const reader = new WrapperReportReader()
    reader.add(Buffer.alloc(MAX_WRAPPER_REPORT_BYTES, ' '))
    reader.add(Buffer.from('{"exitCode":0,"signal":null,"cpu":null}\n'))
    expect(reader.report()).toBeUndefined()
    const ok = new WrapperReportReader()
    ok.add(Buffer.from('{"exitCode":0,'))
    ok.add(Buffer.from('"signal":null,"cpu":null}\n'))
    expect(ok.report()).toMatchObject({ kind: 'exited', exitCode: 0 })
  })
})
