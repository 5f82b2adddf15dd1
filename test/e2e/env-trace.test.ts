import { chmod, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tracingUnavailableReason } from '../../src/env/trace/index.ts'
import { runMirage } from '../helpers/run-mirage.ts'

/** Skipped, saying why, only where strace cannot trace (no strace, or ptrace forbidden). */
const unavailable = await tracingUnavailableReason()
const skipped = unavailable === undefined ? '' : ` (skipped: ${unavailable})`

interface SpecFile { format: number, app: string, resources: Array<{ name: string, kind: string, path?: string, relevant: boolean }> }

let dir: string
let script: string
beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'mirage-env-trace-')))
  script = join(dir, 'app.sh')
  // Prints to stdout on purpose: with the spec on stdout, the command's output must go elsewhere.
  await writeFile(script, '#!/bin/sh\ncat "$1" > "$2"\necho "app started"\nexit "${3:-0}"\n')
  await chmod(script, 0o755)
  await writeFile(join(dir, 'php.ini'), 'memory_limit = 128M\n')
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('mirage env trace', () => {
  it('has help naming the command to trace, and usage errors exit 2', async () => {
    const help = await runMirage(['env', 'trace', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: mirage env trace [options] -- COMMAND...')
    expect((await runMirage(['env', '--help'])).stdout).toContain('trace')
    const noCommand = await runMirage(['env', 'trace', '--app', 'demo'])
    expect(noCommand.code).toBe(2)
    expect(noCommand.stderr).toContain('missing -- COMMAND...')
    const noApp = await runMirage(['env', 'trace', '--', 'true'])
    expect(noApp.code).toBe(2)
    expect(noApp.stderr).toContain('missing --app')
    const badApp = await runMirage(['env', 'trace', '--app', 'Web Shop', '--', 'true'])
    expect(badApp.code).toBe(2)
    expect(badApp.stderr).toContain('--app must be an app name')
    const badTimeout = await runMirage(['env', 'trace', '--app', 'demo', '--timeout-ms', '0', '--', 'true'])
    expect(badTimeout.code).toBe(2)
    expect(badTimeout.stderr).toContain('--timeout-ms')
  })

  it.skipIf(unavailable !== undefined)(`writes a spec with the config and libraries read, not the written file, and refuses to overwrite it${skipped}`, async () => {
    const out = join(dir, 'spec.json')
    const args = ['env', 'trace', '--app', 'webshop', '--out', out, '--', script, join(dir, 'php.ini'), join(dir, 'result.txt')]
    const run = await runMirage(args)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toBe('')
    const spec = JSON.parse(await readFile(out, 'utf8')) as SpecFile
    expect(spec.format).toBe(1)
    expect(spec.app).toBe('webshop')
    expect(spec.resources).toContainEqual({ name: 'php.ini', kind: 'ini', path: join(dir, 'php.ini'), relevant: true })
    expect(spec.resources.find(r => r.name === 'libc.so.6')?.kind).toBe('binary')
    expect(spec.resources.some(r => r.path === join(dir, 'result.txt'))).toBe(false)
    expect(run.stderr).toContain('app started')
    expect(run.stderr).toContain('exited with code 0')
    expect(run.stderr).toMatch(/Proposed \d+ resources for "webshop"/)
    expect(run.stderr).toMatch(/\d+ librar(y|ies): .*libc\.so\.6/)
    expect(run.stderr).toContain('php.ini (ini)')
    expect(run.stderr).toMatch(/written, created or removed by the command \(its data\): .*result\.txt/)
    expect(run.stderr).toContain('This is a proposal')

    const again = await runMirage(args)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`refusing to overwrite ${out}`)
    expect(again.stderr).not.toContain('app started') // refused before running anything
    const forced = await runMirage([...args.slice(0, 6), '--force', ...args.slice(6)])
    expect(forced.code, forced.stderr).toBe(0)
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(spec)
  })

  it.skipIf(unavailable !== undefined)(`prints the spec on stdout, passes the command's own --help through, and still proposes when it fails${skipped}`, async () => {
    const run = await runMirage(['env', 'trace', '--app', 'demo', '--', script, join(dir, 'php.ini'), join(dir, 'r2.txt'), '3'])
    expect(run.code, run.stderr).toBe(0)
    const spec = JSON.parse(run.stdout) as SpecFile
    expect(spec.resources.map(r => r.name)).toContain('php.ini')
    expect(run.stderr).toContain('exited with code 3')
    expect(run.stderr).toContain('the proposal was written anyway')

    const echo = await runMirage(['env', 'trace', '--app', 'demo', '--', '/bin/echo', '--help'])
    expect(echo.code, echo.stderr).toBe(0)
    expect(echo.stdout).not.toContain('Usage:')
    expect((JSON.parse(echo.stdout) as SpecFile).resources.map(r => r.name)).toContain('echo')
    expect(echo.stderr).toContain('--help')
  })

  it.skipIf(unavailable !== undefined)(`exits 1 naming a command that does not exist${skipped}`, async () => {
    const run = await runMirage(['env', 'trace', '--app', 'demo', '--', join(dir, 'nope')])
    expect(run.code).toBe(1)
    // strace's own line comes first (the command's stderr, which strace shares, is passed through), then ours.
    expect(run.stderr).toMatch(/^mirage env trace: cannot trace .*nope.*No such file/m)
    expect(run.stderr).not.toContain('bug')
  })
})
