/** Why a results file could not be used. */
export const RESULTS_FILE_REASONS = ['unreadable', 'too-large', 'not-json', 'invalid'] as const
export type ResultsFileReason = typeof RESULTS_FILE_REASONS[number]

/**
 * A results.json that cannot be read, parsed or validated. The message names
 * the file and, for a schema failure, the field (`runs[0].machines[3].cluster`).
 */
export class ResultsFileError extends Error {
  readonly reason: ResultsFileReason
  readonly file: string
  /** The offending field's path, for `invalid`; '' otherwise or for the whole document. */
  readonly field: string

  constructor (message: string, init: { reason: ResultsFileReason, file: string, field?: string }, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ResultsFileError'
    this.reason = init.reason
    this.file = init.file
    this.field = init.field ?? ''
  }
}
