import { randomUUID } from 'node:crypto'
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { homedir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { probeSandbox, runReleaseTest } from '../../../src/testing/index.ts'
import { chooseSandbox, sandboxedCommand } from '../../../src/testing/sandbox.ts'
import type { SandboxProbe } from '../../../src/testing/sandbox.ts'
import { liveProcessesMentioning, script, tempDirs, treeDigest } from './helpers.ts'

const dirs = tempDirs()
afterEach(dirs.cleanup)

// Whether bubblewrap works on this machine decides which tests below can
// run; where it does not, they are skipped with the reason in their name.
const probe = await probeSandbox()
const skipNote = probe.ok ? '' : ` [SKIPPED, no sandbox here: ${probe.reason}]`
if (!probe.ok) console.warn(`testing/sandbox: sandboxed tests are skipped: ${probe.reason}`)

describe('chooseSandbox', () => {
  const works: SandboxProbe = { ok: true, bwrap: '/usr/bin/bwrap' }
  const reason = '/usr/bin/bwrap cannot run here: bwrap: No permissions to create new namespace'
  const broken: SandboxProbe = { ok: false, reason }

  it('uses bubblewrap when it works, keeping the network only when granted', () => {
    for (const mode of ['auto', 'require'] as const) {
      expect(chooseSandbox(mode, false, works)).toEqual({ report: { kind: 'bubblewrap', network: false }, bwrap: '/usr/bin/bwrap' })
      expect(chooseSandbox(mode, true, works)).toEqual({ report: { kind: 'bubblewrap', network: true }, bwrap: '/usr/bin/bwrap' })
    }
  })

  it('runs unsandboxed in auto mode when bwrap cannot run, and says why', () => {
    expect(chooseSandbox('auto', false, broken)).toEqual({ report: { kind: 'none', reason, network: true } })
  })

  it('refuses in require mode when bwrap cannot run, naming the reason', () => {
    expect(() => chooseSandbox('require', false, broken)).toThrow(expect.objectContaining({
      name: 'SandboxUnavailableError',
      message: expect.stringContaining('No permissions to create new namespace')
    }))
  })

  it('never sandboxes when off, and says so', () => {
    expect(chooseSandbox('off', false, works).report).toMatchObject({ kind: 'none', reason: expect.stringContaining('off'), network: true })
  })
})

describe('sandboxedCommand', () => {
  const command = ['/usr/bin/node', '-e', 'code']

  it('binds the staging dir after the fresh /tmp, drops capabilities, and unshares the network unless granted', () => {
    const argv = sandboxedCommand('/usr/bin/bwrap', { cwd: '/tmp/staging', network: false, command })
    expect(argv.slice(0, 5)).toEqual(['/bin/sh', '-c', 'trap "" TERM; exec "$@"', 'sh', '/usr/bin/bwrap'])
    expect(argv.slice(-command.length - 1)).toEqual(['--', ...command])
    const flags = argv.join(' ')
    expect(flags).toContain('--ro-bind / / ')
    expect(flags).toContain('--cap-drop ALL')
    expect(flags).toContain('--unshare-net')
    expect(flags).toContain('--unshare-pid')
    expect(flags).toContain('--bind /tmp/staging /tmp/staging --chdir /tmp/staging')
    expect(flags.indexOf('--tmpfs /tmp')).toBeLessThan(flags.indexOf('--bind /tmp/staging'))
    expect(sandboxedCommand('/usr/bin/bwrap', { cwd: '/tmp/staging', network: true, command })).not.toContain('--unshare-net')
  })
})

describe('runReleaseTest in the sandbox', () => {
  const extra: string[] = []
  afterEach(async () => {
    await Promise.all(extra.splice(0).map(async (file) => { await rm(file, { force: true }) }))
  })

  it(`reports which sandbox it used${skipNote}`, async () => {
    const cwd = await dirs.make()
    await script(cwd, 'test.sh', 'exit 0')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, sandbox: 'auto' })
    expect(result.pass).toBe(true)
    expect(result.sandbox).toEqual(probe.ok ? { kind: 'bubblewrap', network: false } : { kind: 'none', reason: probe.reason, network: true })
    const off = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000 })
    expect(off.sandbox).toMatchObject({ kind: 'none', reason: expect.stringContaining('off') })
  })

  it.skipIf(!probe.ok)(`cannot write outside its staging dir: another tmp dir, $HOME, /etc, /var/tmp${skipNote}`, async () => {
    const cwd = await dirs.make('staging')
    const outside = await dirs.make('outside')
    const id = randomUUID()
    const targets = [
      path.join(outside, 'escape.txt'),
      path.join(homedir(), `.mirage-sandbox-escape-${id}`),
      `/etc/mirage-sandbox-escape-${id}`,
      `/var/tmp/mirage-sandbox-escape-${id}`
    ]
    extra.push(...targets.slice(1))
    await script(cwd, 'test.sh', [
      'for target in "$@"; do',
      '  if (echo tampered > "$target") 2>/dev/null; then echo "wrote $target"; else echo "blocked $target"; fi',
      'done',
      'echo inside > inside.txt',
      'echo private > /tmp/private.txt && echo "tmp ok"'
    ].join('\n'))
    const result = await runReleaseTest({ cwd, command: ['test.sh', ...targets], timeoutMs: 30_000, sandbox: 'require' })
    expect(result).toMatchObject({ pass: true, sandbox: { kind: 'bubblewrap' } })
    expect(result.outputTail).toBe(targets.map((t) => `blocked ${t}\n`).join('') + 'tmp ok\n')
    for (const target of targets) {
      await expect(readFile(target), target).rejects.toMatchObject({ code: 'ENOENT' })
    }
    // The staging dir is writable, and is the same directory outside.
    expect(await readFile(path.join(cwd, 'inside.txt'), 'utf8')).toBe('inside\n')
  })

  describe('network', () => {
    let server: Server | undefined
    afterEach(async () => {
      const s = server
      server = undefined
      if (s !== undefined) await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
    })

    /** A TCP server on 127.0.0.1 counting connections; resolves its port. */
    async function listen (): Promise<{ port: number, connections: () => number }> {
      let count = 0
      const s = createServer((socket) => { count++; socket.end() })
      server = s
      await new Promise<void>((resolve) => { s.listen(0, '127.0.0.1', resolve) })
      return { port: (s.address() as { port: number }).port, connections: () => count }
    }

    const CONNECT = [
      '"$NODE" -e \'',
      'const s = require("node:net").connect(Number(process.argv[1]), "127.0.0.1")',
      's.on("connect", () => { console.log("connected"); s.destroy() })',
      's.on("error", (e) => { console.log("no connection: " + e.code); process.exit(1) })',
      '\' -- "$PORT"'
    ].join('\n')

    it.skipIf(!probe.ok)(`cannot reach a server on the host's loopback${skipNote}`, async () => {
      const cwd = await dirs.make()
      await script(cwd, 'test.sh', CONNECT)
      const { port, connections } = await listen()
      const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, sandbox: 'require', env: { NODE: process.execPath, PORT: String(port) } })
      expect(result).toMatchObject({ pass: false, exitCode: 1, sandbox: { kind: 'bubblewrap', network: false } })
      expect(result.outputTail).toBe('no connection: ECONNREFUSED\n')
      expect(connections()).toBe(0)
    })

    it.skipIf(!probe.ok)(`reaches it when the network is allowed${skipNote}`, async () => {
      const cwd = await dirs.make()
      await script(cwd, 'test.sh', CONNECT)
      const { port, connections } = await listen()
      const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 30_000, sandbox: 'require', allowNetwork: true, env: { NODE: process.execPath, PORT: String(port) } })
      expect(result).toMatchObject({ pass: true, outputTail: 'connected\n', sandbox: { kind: 'bubblewrap', network: true } })
      expect(connections()).toBe(1)
    })
  })

  it.skipIf(!probe.ok)(`kills the test and a background grandchild on timeout, after a SIGTERM the test does get${skipNote}`, async () => {
    const cwd = await dirs.make()
    const marker = `mirage-marker-${randomUUID()}`
    // Inside the sandbox's PID namespace `$!` means nothing out here, so
    // the test's processes are found by a marker in their environment.
    await script(cwd, 'test.sh', '(while :; do sleep 1; done) &\necho started\nwait')
    const result = await runReleaseTest({ cwd, command: ['test.sh'], timeoutMs: 2500, killGraceMs: 2000, sandbox: 'require', env: { MARKER: marker } })
    expect(result).toMatchObject({ pass: false, timedOut: true, exitCode: null, signal: 'SIGTERM', outputTail: 'started\n' })
    expect(await liveProcessesMentioning(marker)).toEqual([])
  })
})

describe('liveProcessesMentioning', () => {
  it('finds a process by a marker in its environment', async () => {
    const { spawn } = await import('node:child_process')
    const marker = `mirage-marker-${randomUUID()}`
    const child = spawn('sleep', ['1000'], { env: { PATH: process.env.PATH, MARKER: marker }, stdio: 'ignore' })
    try {
      await new Promise((resolve) => child.once('spawn', resolve))
      expect(await liveProcessesMentioning(marker)).toEqual([child.pid])
    } finally {
      child.kill('SIGKILL')
    }
  })
})

describe('the live install stays untouched', () => {
  /** A live install and its staging copy, as the installer would make them. */
  async function installAndStage (): Promise<{ live: string, staging: string }> {
    const live = await dirs.make('live')
    await mkdir(path.join(live, 'bin'))
    await writeFile(path.join(live, 'app.conf'), 'mode = production\n')
    await script(live, 'bin/app', 'echo app 1.0')
    const staging = await dirs.make('staging')
    await cp(live, staging, { recursive: true })
    return { live, staging }
  }
  const TAMPER = [
    'echo "broken = yes" >> "$MIRAGE_INSTALL_DIR/app.conf"',
    'rm -f "$MIRAGE_INSTALL_DIR/bin/app"',
    'echo "staged = yes" >> app.conf',
    'exit 1'
  ].join('\n')

  it.skipIf(!probe.ok)(`by a failing test that tries to modify it, in the sandbox${skipNote}`, async () => {
    const { live, staging } = await installAndStage()
    await script(staging, 'test.sh', TAMPER)
    const before = await treeDigest(live)
    const result = await runReleaseTest({ cwd: staging, command: ['test.sh'], timeoutMs: 30_000, sandbox: 'require', env: { MIRAGE_INSTALL_DIR: live } })
    expect(result).toMatchObject({ pass: false, exitCode: 1, sandbox: { kind: 'bubblewrap' } })
    expect(await treeDigest(live)).toBe(before)
    expect(await readFile(path.join(staging, 'app.conf'), 'utf8')).toBe('mode = production\nstaged = yes\n')
  })

  it('by a failing test that writes where it runs, without a sandbox: only the staging copy changes', async () => {
    const { live, staging } = await installAndStage()
    await script(staging, 'test.sh', 'echo "staged = yes" >> app.conf\nrm bin/app\nexit 1')
    const before = await treeDigest(live)
    const result = await runReleaseTest({ cwd: staging, command: ['test.sh'], timeoutMs: 30_000, sandbox: 'off', env: { MIRAGE_INSTALL_DIR: live } })
    expect(result).toMatchObject({ pass: false, exitCode: 1, sandbox: { kind: 'none' } })
    expect(await treeDigest(live)).toBe(before)
    expect(await readFile(path.join(staging, 'app.conf'), 'utf8')).toBe('mode = production\nstaged = yes\n')
  })

  it('is NOT protected without a sandbox from a test that targets it (what the sandbox is for)', async () => {
    const { live, staging } = await installAndStage()
    await script(staging, 'test.sh', TAMPER)
    const before = await treeDigest(live)
    await runReleaseTest({ cwd: staging, command: ['test.sh'], timeoutMs: 30_000, sandbox: 'off', env: { MIRAGE_INSTALL_DIR: live } })
    expect(await treeDigest(live)).not.toBe(before)
  })
})
