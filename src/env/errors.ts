/**
 * Errors of the environment area. Callers check `err.name`, not
 * `instanceof`, so errors survive being passed across module copies.
 */

/**
 * Which rule a configuration file broke:
 *   syntax              a line the format does not allow (unclosed section, bad quote, ...)
 *   too-large           the text (or an included file) is over the size limit
 *   too-deep            nesting (sections, JSON/YAML containers) over the depth limit
 *   too-many-items      more items than a fingerprint should carry for one resource
 *   include-cycle       a file includes itself, directly or through others
 *   include-depth       includes nested deeper than the limit
 *   include-unreadable  an included file exists but could not be read (the cause says why)
 */
export type ConfigParseReason =
  | 'syntax'
  | 'too-large'
  | 'too-deep'
  | 'too-many-items'
  | 'include-cycle'
  | 'include-depth'
  | 'include-unreadable'

/**
 * A configuration file that its parser refuses. The fingerprinter falls back
 * to the plain-text fingerprint of the file (issue 4), so the message must
 * say where and what, e.g. `/etc/php/8.2/cli/php.ini line 12: expected "key = value" or "[section]"`.
 */
export class ConfigParseError extends Error {
  readonly reason: ConfigParseReason
  /** The file at fault: the included file when the fault is in one. */
  readonly path: string
  /** 1-based line of the fault, when known. */
  readonly line?: number
  /** What is wrong, without the location (the message adds it). */
  readonly detail: string

  constructor (reason: ConfigParseReason, path: string, line: number | undefined, detail: string, options?: ErrorOptions) {
    super(line === undefined ? `${path}: ${detail}` : `${path} line ${line}: ${detail}`, options)
    this.name = 'ConfigParseError'
    this.reason = reason
    this.path = path
    if (line !== undefined) this.line = line
    this.detail = detail
  }
}

/** An environment spec (file or config section) that is not valid; the message names the field. */
export class EnvSpecError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'EnvSpecError'
  }
}

/** A fingerprint (file or message) that is not valid, or two that cannot be compared. */
export class FingerprintError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'FingerprintError'
  }
}
