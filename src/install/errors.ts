/**
 * Errors of the install area. Callers check `err.name`, not `instanceof`.
 */

/** A version name that cannot be a folder under versions/. */
export class VersionNameInvalidError extends Error {
  readonly version: string

  constructor (version: string, detail: string, options?: ErrorOptions) {
    super(`invalid version name ${JSON.stringify(version)}: ${detail}`, options)
    this.name = 'VersionNameInvalidError'
    this.version = version
  }
}

/**
 * versions/<name> already holds a tree that differs from the one being
 * installed under that name. Replacing it in place could change files under
 * a running program, so the install is refused; the staged tree is left for
 * the caller to discard.
 */
export class VersionConflictError extends Error {
  readonly version: string

  constructor (version: string, options?: ErrorOptions) {
    super(`version ${JSON.stringify(version)} is already installed with different content`, options)
    this.name = 'VersionConflictError'
    this.version = version
  }
}

/** Rollback was asked for, but there is no installed previous version to go back to. */
export class NoPreviousVersionError extends Error {
  constructor (detail: string, options?: ErrorOptions) {
    super(`cannot roll back: ${detail}`, options)
    this.name = 'NoPreviousVersionError'
  }
}

/**
 * A path given as a staging directory is not one this installer made (or
 * no longer exists). Refused so that discard and install never touch
 * anything outside the install directory.
 */
export class StagingPathError extends Error {
  readonly path: string

  constructor (path: string, detail: string, options?: ErrorOptions) {
    super(`${path} ${detail}`, options)
    this.name = 'StagingPathError'
    this.path = path
  }
}

/** The `current` link is not something this installer writes (a real folder, a link elsewhere). */
export class CurrentLinkInvalidError extends Error {
  readonly path: string

  constructor (path: string, detail: string, options?: ErrorOptions) {
    super(`${path}: ${detail}`, options)
    this.name = 'CurrentLinkInvalidError'
    this.path = path
  }
}
