import { chmod, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkEnvSpec } from '../../../src/env/index.ts'
import { discoverSpec, runTrace, tracingUnavailableReason } from '../../../src/env/trace/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'

/**
 * These tests run real programs under the real strace. They are skipped,
 * saying why, only where tracing cannot work (no strace, or ptrace
 * forbidden, as in some containers); on our machines it works.
 */
const unavailable = await tracingUnavailableReason()
const skipped = unavailable === undefined ? '' : ` (skipped: ${unavailable})`

let dir: string
beforeAll(async () => { dir = await realpath(await mkdtemp(join(tmpdir(), 'mirage-trace-test-'))) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

/** A process is running (not gone, not a zombie left for an init that never reaps). */
async function alive (pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'latin1')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

describe('tracing a real program', () => {
  it.skipIf(unavailable !== undefined)(`finds the config file and shared libraries a script read, not the file it wrote nor /proc${skipped}`, async () => {
    const script = join(dir, 'app.sh')
    await writeFile(script, '#!/bin/sh\n# reads its configuration, writes its output, peeks at /proc\ncat "$1" > "$2"\nhead -c 16 /proc/self/stat > /dev/null\necho done\n')
    await chmod(script, 0o755)
    await writeFile(join(dir, 'app.ini'), '[app]\nlisten = 127.0.0.1:8080\n')
    const output: string[] = []
    const { run, proposal } = await discoverSpec([script, join(dir, 'app.ini'), join(dir, 'out.txt')], {
      app: 'demo',
      cwd: dir,
      timeoutMs: 30_000,
      onOutput: (chunk) => { output.push(Buffer.from(chunk).toString()) }
    })
    expect(run).toMatchObject({ exitCode: 0, exitSignal: null, ended: 'exited', cwd: dir })
    expect(run.stats.truncated).toBeUndefined()
    expect(output.join('')).toContain('done\n')
    expect(await readFile(join(dir, 'out.txt'), 'utf8')).toContain('listen')

    const resources = proposal.spec.resources
    expect(resources).toContainEqual({ name: 'app.ini', kind: 'ini', path: join(dir, 'app.ini'), relevant: true })
    const libc = resources.find(r => r.name === 'libc.so.6')
    expect(libc).toMatchObject({ kind: 'binary', relevant: true })
    expect(proposal.entries.find(e => e.resource.name === 'libc.so.6')?.role).toBe('library')
    const executables = proposal.entries.filter(e => e.role === 'executable').map(e => e.resource.name)
    expect(executables).toEqual(expect.arrayContaining(['app.sh', 'cat', 'head']))
    // The kernel runs the script's #! interpreter without a traced call: found from the script's first line.
    expect(proposal.entries.find(e => e.note === `interpreter of ${script}`)?.resource.path).toBe('/bin/sh')
    expect(proposal.entries.some(e => e.role === 'library' && /\/ld-linux[^/]*\.so/.test(e.resource.path))).toBe(true)

    expect(resources.some(r => r.path === join(dir, 'out.txt'))).toBe(false)
    expect(resources.some(r => r.path?.startsWith('/proc') === true || r.path?.startsWith('/dev') === true)).toBe(false)
    expect(proposal.excluded).toContainEqual({ path: join(dir, 'out.txt'), reason: 'written' })
    expect(proposal.excluded).toContainEqual({ path: '/proc/self/stat', reason: 'pseudo-fs' })
    expect(new Set(resources.map(r => r.name)).size).toBe(resources.length)
    expect(checkEnvSpec(proposal.spec, 'proposal').resources).toHaveLength(resources.length)
  })

  it.skipIf(unavailable !== undefined)(`reports a failing command's exit code and still returns its trace${skipped}`, async () => {
    await writeFile(join(dir, 'fail.ini'), 'x = 1\n')
    const run = await runTrace(['/bin/sh', '-c', `cat ${join(dir, 'fail.ini')} > /dev/null; echo oops >&2; exit 3`], { timeoutMs: 30_000 })
    expect(run).toMatchObject({ exitCode: 3, ended: 'exited' })
    expect(run.events).toContainEqual(expect.objectContaining({ action: 'read', path: join(dir, 'fail.ini'), ok: true }))
  })

  it.skipIf(unavailable !== undefined)(`stops the whole process group at the timeout, and on abort${skipped}`, async () => {
    for (const how of ['timeout', 'aborted'] as const) {
      const pids = join(dir, `pids-${how}`)
      const controller = new AbortController()
      const started = performance.now()
      const tracing = runTrace(['/bin/sh', '-c', `sleep 60 & echo $$ $! > ${pids}; wait`], {
        timeoutMs: how === 'timeout' ? 3_000 : 60_000,
        killGraceMs: 1_000,
        signal: controller.signal
      })
      const [shell, sleeper] = await waitFor('the traced shell to start', async () => {
        const text = await readFile(pids, 'utf8').catch(() => '')
        return /^\d+ \d+\n$/.test(text) ? text.trim().split(' ').map(Number) : undefined
      }, { timeoutMs: 20_000, intervalMs: 50 })
      if (how === 'aborted') controller.abort()
      const run = await tracing
      expect(run.ended).toBe(how)
      expect(run.exitCode === 0).toBe(false)
      expect(performance.now() - started).toBeLessThan(20_000)
      await waitFor('the traced processes to be gone', async () => !await alive(shell as number) && !await alive(sleeper as number), { timeoutMs: 10_000, intervalMs: 50 })
    }
  })

  it.skipIf(unavailable !== undefined)(`says when the command cannot be started${skipped}`, async () => {
    await expect(runTrace([join(dir, 'no-such-program')])).rejects.toMatchObject({ name: 'TraceStartError', message: expect.stringContaining('no-such-program') })
  })
})

describe('tracing errors', () => {
  it('names a missing strace and how to install it', async () => {
    const error = await runTrace(['true'], { strace: '/nonexistent/strace' }).catch((err: Error) => err)
    expect(error).toMatchObject({ name: 'StraceMissingError' })
    expect((error as Error).message).toContain('sudo apt-get install strace')
    expect((error as Error).message).toContain('dnf install strace')
  })

  it('recognises strace being refused ptrace (as in a container)', async () => {
    const fake = join(dir, 'fake-strace')
    await writeFile(fake, '#!/bin/sh\necho "strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: Operation not permitted" >&2\n' +
      'echo "strace: ptrace(PTRACE_TRACEME, ...): Operation not permitted" >&2\nexit 1\n')
    await chmod(fake, 0o755)
    const error = await runTrace(['true'], { strace: fake }).catch((err: Error) => err)
    expect(error).toMatchObject({ name: 'PtraceDeniedError', detail: expect.stringContaining('Operation not permitted') })
    expect((error as Error).message).toContain('SYS_PTRACE')
  })

  it('refuses an empty command, a missing directory and an already aborted signal, starting nothing', async () => {
    await expect(runTrace([])).rejects.toMatchObject({ name: 'TraceStartError' })
    await expect(runTrace(['true'], { cwd: join(dir, 'missing') })).rejects.toMatchObject({ name: 'TraceStartError' })
    await expect(runTrace(['true'], { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
  })
})
