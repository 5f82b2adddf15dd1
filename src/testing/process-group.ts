/**
 * Killing a test and everything it started. The test runs as the leader of
 * its own process group (spawned detached), so one signal to the negative
 * pid reaches its children and grandchildren too, e.g. a server a test
 * script left running in the background.
 *
 * Waiting for the group to die needs care: an orphaned grandchild that died
 * stays a zombie until PID 1 reaps it, and some PID 1s (container and VM
 * init shims, including the one on our test machines) never do. A zombie
 * still answers `kill(-pgid, 0)`, so on Linux liveness is read from /proc,
 * where a zombie shows state Z.
 */
import { readFile, readdir } from 'node:fs/promises'
import { setTimeout as delay } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { GROUP_POLL_INTERVAL_MS, KILL_WAIT_MS } from './constants.ts'

const log = logger('mirage:testing:process-group')

/** Sends `signal` to the group; false when no process of the group exists. */
export function signalGroup (pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    // EPERM: a member changed its user (a setuid program). It is alive, and
    // beyond what we may kill; say so and let the caller's bound expire.
    log.error('cannot signal process group %d: %e', pgid, err)
    return true
  }
}

/** Whether any process of the group is still running (zombies do not count). */
export async function groupIsAlive (pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false
  if (process.platform !== 'linux') return true
  return await liveMemberInProc(pgid)
}

async function liveMemberInProc (pgid: number): Promise<boolean> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'latin1')
    } catch {
      continue // exited while we looked
    }
    // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const state = fields[0]
    if (Number(fields[2]) === pgid && state !== 'Z' && state !== 'X') return true
  }
  return false
}

/**
 * SIGTERM to the whole group, SIGKILL after `graceMs` if anything is left,
 * and wait (bounded by KILL_WAIT_MS) until nothing is. Resolves true when
 * the group is gone, false when something outlived even SIGKILL's wait.
 * Never rejects: it runs from timers, where a rejection would go unhandled.
 */
export async function terminateGroup (pgid: number, graceMs: number): Promise<boolean> {
  try {
    if (!await groupIsAlive(pgid)) return true
    log('terminating process group %d', pgid)
    signalGroup(pgid, 'SIGTERM')
    if (await waitUntilGone(pgid, graceMs)) return true
    log('process group %d outlived SIGTERM by %d ms, sending SIGKILL', pgid, graceMs)
    signalGroup(pgid, 'SIGKILL')
    if (await waitUntilGone(pgid, KILL_WAIT_MS)) return true
    log.error('process group %d is still alive %d ms after SIGKILL', pgid, KILL_WAIT_MS)
    return false
  } catch (err) {
    log.error('could not terminate process group %d: %e', pgid, err)
    return false
  }
}

async function waitUntilGone (pgid: number, waitMs: number): Promise<boolean> {
  const deadline = performance.now() + waitMs
  for (;;) {
    if (!await groupIsAlive(pgid)) return true
    if (performance.now() >= deadline) return false
    await delay(GROUP_POLL_INTERVAL_MS)
  }
}
