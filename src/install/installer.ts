/**
 * Versioned installs of one application in one directory, with an atomic
 * switch and rollback (Mirage §3: a follower installs only a tested upgrade,
 * and a failed health check must be able to go back). Every version ever
 * installed sits in its own folder; what runs is whatever `current` points
 * at, so installing and rolling back are both one atomic link switch.
 *
 * One Installer per directory: its operations are serialised in-process,
 * but two processes sharing a directory are not coordinated.
 */
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, realpath, rename, rm, unlink } from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { unpackArchive } from '../content/index.ts'
import {
  CURRENT_TEMP_PREFIX, MAX_HISTORY_ENTRIES, STAGING_DIR, STAGING_NAME_BYTES, STATE_FILE, STATE_TEMP_PREFIX, VERSIONS_DIR
} from './constants.ts'
import { NoPreviousVersionError, StagingPathError, VersionConflictError } from './errors.ts'
import { pointCurrentAt, readCurrentLink, removeCurrentLink } from './current-link.ts'
import { readInstallState, writeInstallState } from './install-state.ts'
import type { InstallState } from './install-state.ts'
import { fsyncPath, syncTree, treeDigest } from './tree-files.ts'
import { checkVersionName, isVersionName } from './version-name.ts'

const log = logger('mirage:install:installer')

const STAGING_NAME = new RegExp(`^[0-9a-f]{${STAGING_NAME_BYTES * 2}}$`)

/** What a switch left: the version now current, and where a rollback would go. */
export interface InstallSwitch {
  current: string
  previous?: string
}

export interface Installer {
  /** The install directory (a real path, symlinks resolved). */
  readonly dir: string
  /** Unpacks an artifact (tar bytes) into a fresh staging folder and returns its path. */
  stage: (archive: AsyncIterable<Uint8Array>) => Promise<string>
  /** Removes a staging folder (after a test, or on failure). Only folders `stage` made are accepted. */
  discard: (stagingPath: string) => Promise<void>
  /**
   * Moves a staged tree into versions/<name> (fsync'd) and atomically points
   * `current` at it. Installing a name that exists with identical content
   * only switches to it; a different tree under that name is refused
   * (VersionConflictError). The staging folder is consumed on success.
   */
  install: (stagingPath: string, name: string) => Promise<InstallSwitch>
  /** Points `current` back at the previous version atomically (NoPreviousVersionError if none). */
  rollback: () => Promise<InstallSwitch>
  /**
   * Removes `current` so that no version runs: the way back from a first
   * install that failed its health check, when there is nothing to roll
   * back to. The version stays in versions/ (for the owner to inspect).
   */
  withdraw: () => Promise<void>
  /** The version `current` points at, read from the link itself. */
  current: () => Promise<string | undefined>
  /** Installed versions, sorted. */
  versions: () => Promise<string[]>
  /** The state file's view (current from the link), with the switch history, oldest first. */
  state: () => Promise<InstallState>
}

/**
 * Opens (creating if needed) the install directory `dir`. Crash leftovers
 * are removed first: staging folders (an unfinished stage or test) and a
 * temp `current` link or state file that never got renamed into place.
 */
export async function openInstaller (dir: string): Promise<Installer> {
  await mkdir(dir, { recursive: true })
  const root = await realpath(dir)
  await mkdir(path.join(root, VERSIONS_DIR), { recursive: true })
  await mkdir(path.join(root, STAGING_DIR), { recursive: true })
  await removeLeftovers(root)
  const state = await recoverState(root)
  return new DirInstaller(root, state)
}

async function removeLeftovers (root: string): Promise<void> {
  const stagingDir = path.join(root, STAGING_DIR)
  for (const name of await readdir(stagingDir)) {
    log('removing leftover staging folder %s', name)
    await rm(path.join(stagingDir, name), { recursive: true, force: true })
  }
  for (const name of await readdir(root)) {
    if (name.startsWith(CURRENT_TEMP_PREFIX) || name.startsWith(STATE_TEMP_PREFIX)) {
      log('removing leftover temp file %s', name)
      await unlink(path.join(root, name))
    }
  }
}

/**
 * Reads the state file and reconciles it with the `current` link. The link
 * is switched before the file is written, so a crash in between leaves the
 * file one switch behind: then the version the file calls current is the
 * one we switched away from, i.e. the previous one.
 */
async function recoverState (root: string): Promise<InstallState> {
  const file = path.join(root, STATE_FILE)
  const link = await readCurrentLink(root)
  const read = await readInstallState(file)
  let state: InstallState
  if (read instanceof Error) {
    // Only damage from outside can cause this (the file is written
    // atomically); the link still says what runs, so carry on without the
    // rollback target and history rather than refuse to start.
    log.error('%s is unreadable (%s); rebuilding it from the current link', file, read.message)
    state = { current: link, history: [] }
  } else if (read === undefined) {
    if (link === undefined) return { history: [] }
    state = { current: link, history: [] }
  } else if (read.current !== link) {
    log('state file says current is %s but the link says %s: completing an interrupted switch', read.current, link)
    const previous = read.current !== undefined && await versionExists(root, read.current) ? read.current : undefined
    state = { current: link, previous, history: read.history }
  } else {
    return read
  }
  await writeInstallState(file, state)
  return state
}

async function versionExists (root: string, name: string): Promise<boolean> {
  try {
    return (await lstat(path.join(root, VERSIONS_DIR, name))).isDirectory()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

class DirInstaller implements Installer {
  readonly dir: string
  readonly #versionsDir: string
  readonly #stagingDir: string
  readonly #stateFile: string
  #state: InstallState
  /** Tail of the queue that serialises switches (install, rollback). */
  #queue: Promise<unknown> = Promise.resolve()

  constructor (root: string, state: InstallState) {
    this.dir = root
    this.#versionsDir = path.join(root, VERSIONS_DIR)
    this.#stagingDir = path.join(root, STAGING_DIR)
    this.#stateFile = path.join(root, STATE_FILE)
    this.#state = state
  }

  async stage (archive: AsyncIterable<Uint8Array>): Promise<string> {
    const staged = path.join(this.#stagingDir, randomBytes(STAGING_NAME_BYTES).toString('hex'))
    try {
      await unpackArchive(archive, staged)
    } catch (err) {
      // A refused archive may have left part of itself behind.
      await rm(staged, { recursive: true, force: true })
      throw err
    }
    log('staged %s', staged)
    return staged
  }

  async discard (stagingPath: string): Promise<void> {
    await rm(this.#checkStagingPath(stagingPath), { recursive: true, force: true })
  }

  async install (stagingPath: string, name: string): Promise<InstallSwitch> {
    checkVersionName(name)
    const staged = this.#checkStagingPath(stagingPath)
    return await this.#exclusive(async () => {
      const stats = await lstat(staged).catch(() => undefined)
      if (stats?.isDirectory() !== true) throw new StagingPathError(staged, 'is not a staged tree (missing, or not a folder)')
      const target = path.join(this.#versionsDir, name)
      if (await this.#versionPresent(target)) {
        if (await treeDigest(staged) !== await treeDigest(target)) throw new VersionConflictError(name)
        log('version %s is already installed with the same content', name)
        await rm(staged, { recursive: true, force: true })
      } else {
        await syncTree(staged)
        await rename(staged, target)
        await fsyncPath(this.#versionsDir)
        await fsyncPath(this.#stagingDir)
        log('installed version %s', name)
      }
      return await this.#switchTo(name, 'install')
    })
  }

  async rollback (): Promise<InstallSwitch> {
    return await this.#exclusive(async () => {
      const current = await readCurrentLink(this.dir)
      const previous = this.#state.previous
      if (previous === undefined || previous === current) throw new NoPreviousVersionError('no previous version is recorded')
      if (!await versionExists(this.dir, previous)) throw new NoPreviousVersionError(`the previous version ${previous} is no longer installed`)
      return await this.#switchTo(previous, 'rollback')
    })
  }

  async withdraw (): Promise<void> {
    await this.#exclusive(async () => {
      const before = await readCurrentLink(this.dir)
      if (before === undefined) return
      await removeCurrentLink(this.dir)
      // No rollback target: the only version there was is the one withdrawn.
      const state: InstallState = {
        history: [...this.#state.history, { name: before, at: Date.now(), action: 'withdraw' as const }].slice(-MAX_HISTORY_ENTRIES)
      }
      await writeInstallState(this.#stateFile, state)
      this.#state = state
      log('withdraw: %s no longer current; nothing runs', before)
    })
  }

  async current (): Promise<string | undefined> {
    return await readCurrentLink(this.dir)
  }

  async versions (): Promise<string[]> {
    const entries = await readdir(this.#versionsDir, { withFileTypes: true })
    return entries.filter((entry) => entry.isDirectory() && isVersionName(entry.name)).map((entry) => entry.name).sort()
  }

  async state (): Promise<InstallState> {
    const current = await readCurrentLink(this.dir)
    return { ...this.#state, current, history: [...this.#state.history] }
  }

  /**
   * Points `current` at `name` (unless it already is), then records the
   * switch. The link goes first: it is the truth, and `recoverState`
   * repairs a state file left one switch behind.
   */
  async #switchTo (name: string, action: 'install' | 'rollback'): Promise<InstallSwitch> {
    const before = await readCurrentLink(this.dir)
    if (before === name) return omitUndefined({ current: name, previous: this.#state.previous })
    await pointCurrentAt(this.dir, name)
    const state: InstallState = {
      current: name,
      previous: before,
      history: [...this.#state.history, { name, at: Date.now(), action }].slice(-MAX_HISTORY_ENTRIES)
    }
    await writeInstallState(this.#stateFile, state)
    this.#state = state
    log('%s: current is now %s (previous %s)', action, name, before)
    return omitUndefined({ current: name, previous: before })
  }

  /** Whether versions/<name> is taken (by a folder or, refused later, anything else). */
  async #versionPresent (target: string): Promise<boolean> {
    try {
      const stats = await lstat(target)
      if (!stats.isDirectory()) throw new VersionConflictError(path.basename(target))
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
  }

  /**
   * Accepts only a direct child of staging/ named as `stage` names them, so
   * that a wrong path (or a hostile one) can never make discard or install
   * remove or move anything else.
   */
  #checkStagingPath (stagingPath: string): string {
    const resolved = path.resolve(stagingPath)
    if (path.dirname(resolved) !== this.#stagingDir || !STAGING_NAME.test(path.basename(resolved))) {
      throw new StagingPathError(stagingPath, `is not a staging folder of ${this.dir}`)
    }
    return resolved
  }

  /** Runs `task` after every switch queued before it, so two switches never interleave. */
  async #exclusive<T> (task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => {})
    return await run
  }
}

function omitUndefined (result: InstallSwitch): InstallSwitch {
  return result.previous === undefined ? { current: result.current } : result
}
