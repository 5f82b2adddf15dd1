/**
 * Machines hosted in one process share its file descriptors, and a
 * connection between two of them costs two: 200 machines in a full mesh
 * need about 80,000, four times this machine's limit of 20,000 (seen:
 * EMFILE at 200 machines). In-process machines therefore get a connection
 * cap that keeps their connections within a share of the limit; machines
 * run as separate processes each have their own (`--processes`).
 */
import { readFile } from 'node:fs/promises'
import { DEFAULT_MAX_CONNECTIONS, MIN_MAX_CONNECTIONS } from '../node/index.ts'

/** The share of the process's descriptors the machines' connections may take; LevelDB, chunk files and pipes need the rest. */
export const CONNECTION_FD_SHARE = 0.5
/** What a process may assume it has when the limit cannot be read (POSIX's customary soft limit). */
export const FALLBACK_OPEN_FILES_LIMIT = 1_024

/**
 * The per-machine connection cap for `machines` in one process with
 * `openFilesLimit` descriptors, between MIN_MAX_CONNECTIONS and libp2p's
 * default. Each end of a connection is one descriptor: the machines' ends
 * add up to at most machines × cap, and the seed's (which is not capped:
 * every machine bootstraps from it, and a seed refusing connections leaves
 * them alone) to at most one per machine.
 */
export function inProcessConnectionCap (machines: number, openFilesLimit: number): number {
  if (!Number.isInteger(machines) || machines < 1) throw new RangeError(`machines must be a positive integer, got ${machines}`)
  if (!(openFilesLimit > 0)) throw new RangeError(`openFilesLimit must be positive, got ${openFilesLimit}`)
  const fit = Math.floor(CONNECTION_FD_SHARE * openFilesLimit / machines) - 1
  return Math.min(DEFAULT_MAX_CONNECTIONS, Math.max(MIN_MAX_CONNECTIONS, fit))
}

/** This process's soft limit of open files, from /proc/self/limits (Linux); FALLBACK_OPEN_FILES_LIMIT elsewhere. */
export async function openFilesLimit (): Promise<number> {
  const text = await readFile('/proc/self/limits', 'utf8').catch(() => '')
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text)
  if (match === null) return FALLBACK_OPEN_FILES_LIMIT
  return match[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(match[1])
}
