/**
 * A scenario file that does not hold: one class, with `reason` naming the
 * rule and `field`/`line` where it failed, so a person can find it
 * (CONVENTIONS.md, "Errors").
 */
export type ScenarioInvalidReason = 'yaml' | 'schema' | 'plan' | 'reference' | 'test-script' | 'not-found'

export class ScenarioInvalidError extends Error {
  readonly reason: ScenarioInvalidReason
  /** The file (or '<text>'), the 1-based line (0 when unknown) and the field path (`population.clusters[1].machines`). */
  readonly file: string
  readonly line: number
  readonly field: string

  constructor (reason: ScenarioInvalidReason, file: string, line: number, field: string, message: string, options?: ErrorOptions) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${field === '' ? '' : `${field}: `}${message}`, options)
    this.name = 'ScenarioInvalidError'
    this.reason = reason
    this.file = file
    this.line = line
    this.field = field
  }
}

/** The simulator was asked for something it cannot do (an option out of range, a scenario too large). */
export class SimulationError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SimulationError'
  }
}
