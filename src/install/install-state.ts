/**
 * The install state file: which version is current, which one a rollback
 * returns to, and a bounded history. The `current` symlink stays the truth
 * for what runs; this file adds what a link cannot say (the previous
 * version, when and why each switch happened).
 */
import { readFile } from 'node:fs/promises'
import { writeFileAtomically } from '../content/index.ts'
import { MAX_HISTORY_ENTRIES } from './constants.ts'
import { isVersionName } from './version-name.ts'

export interface InstallHistoryEntry {
  /** The version switched to. */
  name: string
  /** Milliseconds since the epoch. */
  at: number
  /** `withdraw`: `name` stopped being current and nothing replaced it. */
  action: 'install' | 'rollback' | 'withdraw'
}

export interface InstallState {
  current?: string
  /** Where a rollback goes. */
  previous?: string
  /** Oldest first, at most MAX_HISTORY_ENTRIES. */
  history: InstallHistoryEntry[]
}

/** The file's shape on disk: absent versions are written as null, so every field is always there. */
interface StateFile {
  current: string | null
  previous: string | null
  history: InstallHistoryEntry[]
}

/**
 * Reads the state file: undefined when there is none, an Error (returned,
 * not thrown) when it is not a state file, since the caller can recover
 * from the symlink.
 */
export async function readInstallState (file: string): Promise<InstallState | Error | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    return parseState(JSON.parse(text))
  } catch (err) {
    return err as Error
  }
}

export async function writeInstallState (file: string, state: InstallState): Promise<void> {
  const onDisk: StateFile = {
    current: state.current ?? null,
    previous: state.previous ?? null,
    history: state.history.slice(-MAX_HISTORY_ENTRIES)
  }
  await writeFileAtomically(file, `${JSON.stringify(onDisk, null, 2)}\n`)
}

function parseState (value: unknown): InstallState {
  if (typeof value !== 'object' || value === null) throw new Error('not an object')
  const { current, previous, history } = value as Partial<StateFile>
  const state: InstallState = { history: [] }
  if (current !== null && current !== undefined) state.current = versionField(current, 'current')
  if (previous !== null && previous !== undefined) state.previous = versionField(previous, 'previous')
  if (!Array.isArray(history)) throw new Error('history is not an array')
  for (const entry of history.slice(-MAX_HISTORY_ENTRIES) as unknown[]) {
    if (typeof entry !== 'object' || entry === null) throw new Error('a history entry is not an object')
    const { name, at, action } = entry as Partial<InstallHistoryEntry>
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new Error('a history entry has no valid time')
    if (action !== 'install' && action !== 'rollback' && action !== 'withdraw') throw new Error('a history entry has no valid action')
    state.history.push({ name: versionField(name, 'history name'), at, action })
  }
  return state
}

function versionField (value: unknown, field: string): string {
  if (typeof value !== 'string' || !isVersionName(value)) throw new Error(`${field} is not a version name`)
  return value
}
