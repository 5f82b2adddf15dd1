/** The command line was wrong: unknown command or option, missing or bad value. Exit code 2. */
export class UsageError extends Error {
  /** The command whose help to point at, e.g. `vendor publish`. */
  readonly command: string

  constructor (message: string, command: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'UsageError'
    this.command = command
  }
}
