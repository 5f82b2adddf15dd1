/**
 * Errors of discovery by tracing. Callers check `err.name`, not
 * `instanceof`. Each says what the owner can do about it, since these end
 * up as the one line `mirage env trace` prints.
 */

/** `strace` is not installed (or not on PATH): tracing cannot start. */
export class StraceMissingError extends Error {
  constructor (command: string, options?: ErrorOptions) {
    super(`${command} was not found: discovery by tracing needs strace. ` +
      'Install it (Debian/Ubuntu: `sudo apt-get install strace`; Fedora: `sudo dnf install strace`) or put it on PATH.', options)
    this.name = 'StraceMissingError'
  }
}

/**
 * The kernel refused to let strace trace the command: ptrace is forbidden
 * here (a container without CAP_SYS_PTRACE or whose seccomp profile blocks
 * ptrace, or Yama's ptrace_scope set to 3).
 */
export class PtraceDeniedError extends Error {
  /** What strace said. */
  readonly detail: string

  constructor (detail: string, options?: ErrorOptions) {
    super(`strace may not trace processes here (${detail}). In a container, run it with --cap-add=SYS_PTRACE ` +
      '(and a seccomp profile that allows ptrace); on the host, check /proc/sys/kernel/yama/ptrace_scope.', options)
    this.name = 'PtraceDeniedError'
    this.detail = detail
  }
}

/**
 * The command could not be started under strace: empty, not found, not
 * executable, or its working directory is missing. The message carries
 * strace's own explanation when there is one.
 */
export class TraceStartError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TraceStartError'
  }
}

/** The file a proposal was to be written to exists, and replacing it was not asked for (an owner's edited spec is precious). */
export class SpecFileExistsError extends Error {
  readonly path: string

  constructor (path: string, options?: ErrorOptions) {
    super(`refusing to overwrite ${path}: it exists (an edited spec would be lost); use --force to replace it`, options)
    this.name = 'SpecFileExistsError'
    this.path = path
  }
}
