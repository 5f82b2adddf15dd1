import { createHash } from 'node:crypto'
import { chmod, mkdir, readFile, stat, symlink } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_MAX_OUTPUT_BYTES, runReleaseTest } from '../../../src/testing/index.ts'
import { isRunning, readPid, script, tempDirs, waitFor } from './helpers.ts'

const dirs = tempDirs()
afterEach(dirs.cleanup)

const sha256 = (bytes: string | Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** The `count` numbered lines that `lines.sh` prints. */
function numberedLines (count: number): string {
  let out = ''
  for (let i = 0; i < count; i++) out += `line ${i} of the test output\n`
  return out
}
const LINES_SCRIPT = 'i=0; while [ $i -lt "$1" ]; do echo "line $i of the test output"; i=$((i+1)); done'

describe('runReleaseTest: exit codes', () => {
  it('passes on exit code 0 and captures output', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'echo "all good"')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000 })
    expect(result).toMatchObject({ pass: true, exitCode: 0, signal: null, timedOut: false, outputTail: 'all good\n', outputBytes: 9 })
    expect(result.logDigest).toBe(sha256('all good\n'))
    expect(result.durationMs).toBeGreaterThanOrEqual(0)
  })

  it('fails on a non-zero exit code and keeps stderr', async () => {
    const cwd = await dirs.make()
    await mkdir(path.join(cwd, 'bin'))
    await script(cwd, 'bin/check', 'echo "assertion failed: php.ini" >&2; exit 3')
    const result = await runReleaseTest({ cwd, command: ['bin/check'], timeoutMs: 30_000 })
    expect(result).toMatchObject({ pass: false, exitCode: 3, signal: null, timedOut: false })
    expect(result.outputTail).toBe('assertion failed: php.ini\n')
  })

  it('passes arguments through and runs in cwd', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'echo "$1|$2"; pwd')
    const result = await runReleaseTest({ cwd, command: ['./test.sh', 'a b', '--x'], timeoutMs: 30_000 })
    expect(result.pass).toBe(true)
    expect(result.outputTail).toBe(`a b|--x\n${cwd}\n`)
  })

  it('fails a test killed by a signal, even if it was not ours', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'kill -KILL $$')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000 })
    expect(result).toMatchObject({ pass: false, exitCode: null, signal: 'SIGKILL', timedOut: false })
  })
})

describe('runReleaseTest: programs that cannot start', () => {
  it('reports a missing program as a failed result', async () => {
    const cwd = await dirs.make()
    const result = await runReleaseTest({ cwd, command: ['bin/missing'], timeoutMs: 30_000 })
    expect(result).toMatchObject({ pass: false, exitCode: null, signal: null, timedOut: false })
    expect(result.outputTail).toMatch(/test program "bin\/missing" does not exist/)
    expect(result.outputBytes).toBe(Buffer.byteLength(result.outputTail))
    expect(result.logDigest).toBe(sha256(result.outputTail))
  })

  it('reports a program that is not executable as a failed result', async () => {
    const cwd = await dirs.make()
    const file = await script(cwd, 'test.sh', 'exit 0')
    await chmod(file, 0o644)
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000 })
    expect(result).toMatchObject({ pass: false, exitCode: null })
    expect(result.outputTail).toMatch(/cannot start test program "test.sh": .*EACCES/)
  })

  it('reports a directory as program as a failed result', async () => {
    const cwd = await dirs.make()
    await mkdir(path.join(cwd, 'bin'))
    const result = await runReleaseTest({ cwd, command: ['bin'], timeoutMs: 30_000 })
    expect(result.pass).toBe(false)
    expect(result.outputTail).toMatch(/cannot start test program "bin"/)
  })
})

describe('runReleaseTest: refusals', () => {
  it('refuses a program outside cwd, by path or through a symlink', async () => {
    const base = await dirs.make()
    const cwd = path.join(base, 'staging')
    await mkdir(cwd)
    await script(base, 'outside.sh', 'exit 0')
    await symlink('../outside.sh', path.join(cwd, 'link.sh'))
    await symlink('/bin/true', path.join(cwd, 'true'))
    for (const program of ['../outside.sh', '/bin/true', 'sub/../../outside.sh', 'link.sh', 'true', '.', '']) {
      const err = await runReleaseTest({ cwd, command: [program], timeoutMs: 30_000 }).catch((e: unknown) => e)
      expect(err, program).toMatchObject({ name: 'TestRunInvalidError' })
      expect((err as { reason: string }).reason, program).toBe(program === '' ? 'command' : 'program-escapes')
    }
  })

  it('allows a symlink that stays inside cwd', async () => {
    const cwd = await dirs.make()
    await mkdir(path.join(cwd, 'bin'))
    await script(cwd, 'bin/real.sh', 'echo real')
    await symlink('bin/real.sh', path.join(cwd, 'test'))
    const result = await runReleaseTest({ cwd, command: ['test'], timeoutMs: 30_000 })
    expect(result).toMatchObject({ pass: true, outputTail: 'real\n' })
  })

  it('refuses malformed inits', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'exit 0')
    const bad = [
      { init: { cwd, command: [], timeoutMs: 1000 }, reason: 'command' },
      { init: { cwd, command: ['test.sh'], timeoutMs: 0 }, reason: 'timeout' },
      { init: { cwd, command: ['test.sh'], timeoutMs: 2 ** 31 }, reason: 'timeout' },
      { init: { cwd, command: ['test.sh'], timeoutMs: 1000, maxOutputBytes: -1 }, reason: 'max-output' },
      { init: { cwd, command: ['test.sh'], timeoutMs: 1000, killGraceMs: Number.NaN }, reason: 'kill-grace' },
      { init: { cwd: path.join(cwd, 'nope'), command: ['test.sh'], timeoutMs: 1000 }, reason: 'cwd' },
      { init: { cwd: path.join(cwd, 'test.sh'), command: ['test.sh'], timeoutMs: 1000 }, reason: 'cwd' }
    ]
    for (const { init, reason } of bad) {
      await expect(runReleaseTest(init), reason).rejects.toMatchObject({ name: 'TestRunInvalidError', reason })
    }
  })
})

describe('runReleaseTest: environment', () => {
  it('gives the test a minimal environment, not the node\'s', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'exec /usr/bin/env')
    process.env.MIRAGE_TEST_CANARY = 'secret'
    let result
    try {
      result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, env: { APP_MODE: 'staging' } })
    } finally {
      delete process.env.MIRAGE_TEST_CANARY
    }
    const env = Object.fromEntries(result.outputTail.trim().split('\n').map((line) => {
      const at = line.indexOf('=')
      return [line.slice(0, at), line.slice(at + 1)]
    }))
    expect(env).toMatchObject({ HOME: cwd, LANG: 'C', APP_MODE: 'staging', PATH: process.env.PATH })
    // The shell may add PWD (dash does); nothing else from the node leaks.
    expect(Object.keys(env).filter((key) => key !== 'PWD').sort()).toEqual(['APP_MODE', 'HOME', 'LANG', 'PATH'])
  })
})

describe('runReleaseTest: bounded output', () => {
  it('keeps only the tail, while counting and hashing every byte', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'lines.sh', LINES_SCRIPT)
    const expected = numberedLines(20_000)
    const result = await runReleaseTest({ cwd, command: ['lines.sh', '20000'], timeoutMs: 60_000, maxOutputBytes: 1000 })
    expect(result.pass).toBe(true)
    expect(result.outputBytes).toBe(Buffer.byteLength(expected))
    expect(result.outputTail).toBe(expected.slice(-1000))
    expect(result.logDigest).toBe(sha256(expected))
  })

  it('cuts 50 MB of output to the cap instead of buffering it, while counting and hashing all of it', async () => {
    const cwd = await dirs.make()
    const total = 50 * 1024 * 1024
    await script(cwd, 'test.sh', `yes 0123456789 | head -c ${total}`)
    const cap = 4096
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 120_000, maxOutputBytes: cap })
    expect(result.pass).toBe(true)
    expect(result.outputBytes).toBe(total)
    expect(Buffer.byteLength(result.outputTail)).toBeLessThanOrEqual(cap)
    const expected = Buffer.alloc(total, '0123456789\n')
    expect(result.outputTail).toBe(expected.subarray(total - cap).toString())
    expect(result.logDigest).toBe(sha256(expected))
  })

  it('defaults the tail to DEFAULT_MAX_OUTPUT_BYTES', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'lines.sh', LINES_SCRIPT)
    const expected = numberedLines(5_000)
    expect(Buffer.byteLength(expected)).toBeGreaterThan(DEFAULT_MAX_OUTPUT_BYTES)
    const result = await runReleaseTest({ cwd, command: ['lines.sh', '5000'], timeoutMs: 60_000 })
    expect(result.outputTail).toBe(expected.slice(-DEFAULT_MAX_OUTPUT_BYTES))
    expect(result.outputBytes).toBe(Buffer.byteLength(expected))
  })

  it('drops a multi-byte character cut by the window instead of garbling it', async () => {
    const cwd = await dirs.make()
    // 'é' is two bytes: a window of 4 bytes over "éééé" starts on a whole
    // character, a window of 3 on the second half of one.
    await script(cwd, 'test.sh', 'printf "\\303\\251\\303\\251\\303\\251"')
    const even = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, maxOutputBytes: 4 })
    expect(even.outputTail).toBe('éé')
    const odd = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, maxOutputBytes: 3 })
    expect(odd.outputTail).toBe('é')
    expect(odd.outputBytes).toBe(6)
  })

  it('captures stdout and stderr together', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'echo out; echo err >&2; exit 1')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000 })
    expect(result.outputTail.split('\n').sort()).toEqual(['', 'err', 'out'])
    expect(result.outputBytes).toBe(8)
  })
})

describe('runReleaseTest: timeout and abort kill the whole group', () => {
  it('kills the test and a background grandchild on timeout', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'sleep 1000 &\necho $! > grandchild.pid\necho started\nwait')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 2500, killGraceMs: 500 })
    expect(result).toMatchObject({ pass: false, timedOut: true, exitCode: null, signal: 'SIGTERM' })
    expect(result.outputTail).toBe('started\n')
    expect(result.durationMs).toBeGreaterThanOrEqual(2500)
    const pid = await readPid(path.join(cwd, 'grandchild.pid'))
    // The runner resolves only once the group is gone: no waiting here.
    expect(await isRunning(pid)).toBe(false)
  })

  it('escalates to SIGKILL for processes that ignore SIGTERM', async () => {
    const cwd = await dirs.make()
    // The subshell ignores TERM and `exec`s sleep, which inherits that.
    await script(cwd, 'test.sh', 'trap "" TERM\n(trap "" TERM; exec sleep 1000) &\necho $! > stubborn.pid\nwhile :; do sleep 1; done')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 2500, killGraceMs: 300 })
    expect(result).toMatchObject({ pass: false, timedOut: true, signal: 'SIGKILL' })
    expect(await isRunning(await readPid(path.join(cwd, 'stubborn.pid')))).toBe(false)
  })

  it('kills processes a passing test left behind, without failing it', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'sleep 1000 > /dev/null 2>&1 &\necho $! > stray.pid\nexit 0')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, killGraceMs: 500 })
    expect(result).toMatchObject({ pass: true, exitCode: 0, timedOut: false })
    expect(await isRunning(await readPid(path.join(cwd, 'stray.pid')))).toBe(false)
  })

  it('does not wait for a stray that holds the output pipe', async () => {
    const cwd = await dirs.make()
    // The stray keeps stdout open; the run must still end once it is killed.
    await script(cwd, 'test.sh', 'sleep 1000 &\necho $! > stray.pid\nexit 0')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, killGraceMs: 500 })
    expect(result.pass).toBe(true)
    expect(await isRunning(await readPid(path.join(cwd, 'stray.pid')))).toBe(false)
  })

  it('stops reading output held open by a process that left the group', async () => {
    const cwd = await dirs.make()
    // setsid puts the sleep in a new session: out of reach of the group
    // kill (the runner is containment, not a sandbox), yet holding stdout.
    await script(cwd, 'test.sh', 'setsid sleep 1000 &\necho $! > escaped.pid\necho done')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, killGraceMs: 200 })
    const pid = await readPid(path.join(cwd, 'escaped.pid'))
    try {
      expect(result).toMatchObject({ pass: true, outputTail: 'done\n' })
    } finally {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  })

  it('rejects with TestAbortedError on abort, after killing the group', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'sleep 1000 &\necho $! > grandchild.pid.tmp\nmv grandchild.pid.tmp grandchild.pid\nwait')
    const controller = new AbortController()
    const run = runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 60_000, killGraceMs: 500, signal: controller.signal })
    const pidFile = path.join(cwd, 'grandchild.pid')
    await waitFor(async () => await stat(pidFile).then(() => true, () => false), 'the test to start its grandchild')
    controller.abort(new Error('node stopping'))
    await expect(run).rejects.toMatchObject({ name: 'TestAbortedError', cause: { message: 'node stopping' } })
    expect(await isRunning(await readPid(pidFile))).toBe(false)
  })

  it('refuses to start when the signal is already aborted', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'touch ran')
    await expect(runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 1000, signal: AbortSignal.abort() }))
      .rejects.toMatchObject({ name: 'TestAbortedError' })
    await expect(readFile(path.join(cwd, 'ran'))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

describe('runReleaseTest: the test cannot read stdin', () => {
  it('sees stdin closed', async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'if read line; then echo "got $line"; else echo "eof"; fi')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000 })
    expect(result.outputTail).toBe('eof\n')
  })
})
