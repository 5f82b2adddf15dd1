/** A vendor directory that cannot be used as asked (`busy`: another command holds one of its logs). */
export class VendorDirError extends Error {
  readonly reason: 'exists' | 'missing' | 'state-corrupt' | 'busy'
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

/**
 * A halt or clear that cannot be issued as asked: the release given is
 * neither a release directory nor a release id (`release`), the app is
 * missing or disagrees with the release (`app`), the override would be
 * refused by every node (`invalid`: a reason with control characters, a bad
 * cluster name). All of them are about what the vendor asked for.
 */
export class VendorOverrideError extends Error {
  readonly reason: 'release' | 'app' | 'invalid'

  constructor (reason: VendorOverrideError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'VendorOverrideError'
    this.reason = reason
  }
}
