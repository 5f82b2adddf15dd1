import { ATOMIC_TEMP_MARKER } from '../content/index.ts'
/**
 * Fixed names and limits of an install directory D:
 *
 *   D/versions/<name>/    one folder per installed version
 *   D/current             symlink -> versions/<name>, switched atomically
 *   D/staging/<random>/   unpacked, not yet installed trees
 *   D/install-state.json  current, previous and a bounded history
 */

export const VERSIONS_DIR = 'versions'
export const STAGING_DIR = 'staging'
export const CURRENT_LINK = 'current'
export const STATE_FILE = 'install-state.json'

/**
 * Prefix of the temp symlink made before it is renamed over `current`;
 * whatever carries it at start-up is a crash leftover.
 */
export const CURRENT_TEMP_PREFIX = `${CURRENT_LINK}.tmp-`

/** Prefix of the temp files content's `writeFileAtomically` leaves when a crash interrupts it. */
export const STATE_TEMP_PREFIX = `${STATE_FILE}${ATOMIC_TEMP_MARKER}`

/** Staging folders are named by 8 random bytes in hex; nothing else there is ours. */
export const STAGING_NAME_BYTES = 8

/**
 * Longest version folder name. Callers build names such as
 * "1.4.2-bafyrei…" (semver plus a short content id), far below this; the
 * bound keeps names well inside every file system's 255-byte limit.
 */
export const MAX_VERSION_NAME_LENGTH = 128

/**
 * Entries kept in the state file's history. Each is one install or
 * rollback; 100 covers years of releases while keeping the file, rewritten
 * on every switch, a few kilobytes.
 */
export const MAX_HISTORY_ENTRIES = 100
