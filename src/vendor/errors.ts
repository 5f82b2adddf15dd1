/** A vendor directory that cannot be used as asked. */
export class VendorDirError extends Error {
  readonly reason: 'exists' | 'missing' | 'state-corrupt'
  readonly dir: string

  constructor (reason: VendorDirError['reason'], dir: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'VendorDirError'
    this.reason = reason
    this.dir = dir
  }
}

/**
 * A census file (from `vendor census`) that cannot be clustered. `entry` is
 * the index of the offending entry in the file's array (undefined when the
 * file as a whole is at fault), and the message names it and its peer.
 */
export class CensusFileError extends Error {
  readonly reason: 'unreadable' | 'too-large' | 'not-json' | 'not-an-array' | 'entry' | 'wrong-app' | 'duplicate' | 'too-many'
  readonly file: string
  readonly entry: number | undefined

  constructor (reason: CensusFileError['reason'], file: string, entry: number | undefined, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CensusFileError'
    this.reason = reason
    this.file = file
    this.entry = entry
  }
}

/** `vendor cluster` cannot make a map as asked: bad weights or reference file, an empty census, a sequence that is not above the last. */
export class VendorClusterError extends Error {
  readonly reason: 'weights' | 'reference' | 'empty' | 'sequence' | 'out'

  constructor (reason: VendorClusterError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'VendorClusterError'
    this.reason = reason
  }
}
