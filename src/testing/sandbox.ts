/**
 * The bubblewrap sandbox a test runs in, where the machine can provide one:
 * the whole system read-only, fresh private /tmp, /dev and /proc, the
 * staging directory as the only writable place that outlives the run, no
 * network unless asked for and allowed, and its own PID namespace so it
 * cannot see or signal the node or anything else on the machine.
 *
 * bwrap is often installed yet unable to run (containers without user
 * namespaces, hardened kernels), so it is probed once by running it with
 * the very flags a test gets, and the answer, with its reason, is cached.
 */
import { execFile } from 'node:child_process'
import { access, constants as fsConstants } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { logger } from '@libp2p/logger'
import { DEFAULT_TEST_PATH, SANDBOX_PROBE_TIMEOUT_MS } from './constants.ts'
import { SandboxUnavailableError } from './errors.ts'
import { isInside } from './paths.ts'

const log = logger('mirage:testing:sandbox')
const execFileAsync = promisify(execFile)

/**
 * `auto`: sandbox when bwrap works here, otherwise run unsandboxed and say
 * why in the result. `require`: refuse to run without it. `off`: never.
 */
export type SandboxMode = 'auto' | 'require' | 'off'
export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'require', 'off']

/** What a result says about the sandbox, so the node can log and publish it. */
export interface SandboxReport {
  kind: 'bubblewrap' | 'none'
  /** Why the test ran without a sandbox (only with kind 'none'). */
  reason?: string
  /** Whether the test could reach the network (always true without a sandbox). */
  network: boolean
}

/** Whether bwrap can run here; `reason` says why not. */
export type SandboxProbe = { ok: true, bwrap: string } | { ok: false, reason: string }

/** The sandbox chosen for one run: the report, and the bwrap to use (absent for none). */
export interface SandboxChoice {
  report: SandboxReport
  bwrap?: string
}

/**
 * The bwrap options every test gets, before its own staging bind.
 * Order matters: bwrap applies them in sequence, so the tmpfs on /tmp must
 * come before a bind of a staging directory that lies under /tmp.
 */
function isolationArgs (network: boolean): string[] {
  return [
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--tmpfs', '/tmp',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(network ? [] : ['--unshare-net']),
    // Run as root, bwrap keeps every capability by default, and a test with
    // CAP_SYS_ADMIN can simply `mount -o remount,rw /` and write the host
    // (seen on our CI machine with bubblewrap 0.8). Unprivileged runs have
    // none to drop; the flag is accepted either way.
    '--cap-drop', 'ALL',
    // Nothing of the sandbox outlives bwrap itself, whoever kills it.
    '--die-with-parent'
  ]
}

/**
 * argv for running `command` (absolute program first) in the sandbox, with
 * `cwd` bound writable at the same path and used as working directory.
 *
 * Not `--new-session`: the runner already gives the test its own session
 * (spawned detached, so there is no controlling terminal to inject input
 * into), and keeping the sandbox in the runner's process group is what
 * lets the timeout's SIGTERM reach the test itself.
 *
 * bwrap is started by `sh` with SIGTERM ignored, a disposition that
 * survives exec: otherwise the group's SIGTERM kills bwrap at once and
 * --die-with-parent turns that into SIGKILL for the whole sandbox, so the
 * test would never get its grace period. The test does not inherit the
 * ignore (the wrapper spawns it through libuv, which resets every signal to
 * its default), the sandbox's PID 1 ignores SIGTERM from outside anyway (a
 * namespace init without a handler), and SIGKILL still reaches them all.
 */
export function sandboxedCommand (bwrap: string, init: { cwd: string, network: boolean, command: string[] }): string[] {
  const args = [...isolationArgs(init.network)]
  // The wrapper is run by this very node binary; a copy under /tmp would
  // be hidden by the fresh tmpfs.
  if (isInside('/tmp', process.execPath)) args.push('--ro-bind', process.execPath, process.execPath)
  args.push('--bind', init.cwd, init.cwd, '--chdir', init.cwd, '--', ...init.command)
  return ['/bin/sh', '-c', 'trap "" TERM; exec "$@"', 'sh', bwrap, ...args]
}

let cachedProbe: Promise<SandboxProbe> | undefined

/** Whether bwrap can run here, found out once per process. Never rejects. */
export async function probeSandbox (): Promise<SandboxProbe> {
  cachedProbe ??= runProbe()
  return await cachedProbe
}

async function runProbe (): Promise<SandboxProbe> {
  const bwrap = await findBwrap()
  if (bwrap === undefined) return failed(`no executable bwrap on PATH or in ${DEFAULT_TEST_PATH} (bubblewrap is not installed)`)
  try {
    await execFileAsync(bwrap, [...isolationArgs(false), '--', 'true'], {
      env: { PATH: DEFAULT_TEST_PATH },
      timeout: SANDBOX_PROBE_TIMEOUT_MS,
      maxBuffer: 64 * 1024
    })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string, killed?: boolean, code?: number | string }
    const detail = e.killed === true
      ? `did not finish within ${SANDBOX_PROBE_TIMEOUT_MS} ms`
      : (e.stderr ?? '').trim().split('\n')[0] || e.message
    return failed(`${bwrap} cannot run here: ${detail}`)
  }
  log('bubblewrap at %s works', bwrap)
  return { ok: true, bwrap }
}

function failed (reason: string): SandboxProbe {
  log('no sandbox: %s', reason)
  return { ok: false, reason }
}

async function findBwrap (): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...DEFAULT_TEST_PATH.split(':')]
  for (const dir of dirs) {
    if (!path.isAbsolute(dir)) continue
    const candidate = path.join(dir, 'bwrap')
    try {
      await access(candidate, fsConstants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

/**
 * The sandbox for one run, given the mode, whether this test may use the
 * network (it asked and the owner allows it), and the probe. Pure, so each
 * combination can be tested without breaking bwrap. Throws
 * SandboxUnavailableError for 'require' without a working bwrap.
 */
export function chooseSandbox (mode: SandboxMode, network: boolean, probe: SandboxProbe): SandboxChoice {
  if (mode === 'off') return { report: { kind: 'none', reason: 'the sandbox is turned off (sandbox: off)', network: true } }
  if (probe.ok) return { report: { kind: 'bubblewrap', network }, bwrap: probe.bwrap }
  if (mode === 'require') throw new SandboxUnavailableError(`a sandbox is required but ${probe.reason}`)
  return { report: { kind: 'none', reason: probe.reason, network: true } }
}
