/**
 * Install: versioned installs of an application with an atomic switch and
 * rollback (Mirage §3: a follower installs an upgrade only after it was
 * tested, and must be able to go back when its own health check fails).
 *
 * Under an install directory D, each version lives in versions/<name>/ and
 * `current` is a relative symlink to the one that runs, replaced in one
 * rename(2), so at every instant it names either the old or the new
 * version. New versions are unpacked into staging/ first (safely, by
 * content's `unpackArchive`), where the release's test can run on them
 * without touching the live tree. install-state.json records the previous
 * version (the rollback target) and a bounded history of switches.
 */
export {
  CURRENT_LINK,
  MAX_HISTORY_ENTRIES,
  MAX_VERSION_NAME_LENGTH,
  STAGING_DIR,
  STATE_FILE,
  VERSIONS_DIR
} from './constants.ts'
export {
  CurrentLinkInvalidError,
  NoPreviousVersionError,
  StagingPathError,
  VersionConflictError,
  VersionNameInvalidError
} from './errors.ts'
export { openInstaller } from './installer.ts'
export type { InstallSwitch, Installer } from './installer.ts'
export type { InstallHistoryEntry, InstallState } from './install-state.ts'
export { checkVersionName } from './version-name.ts'
