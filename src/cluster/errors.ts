/**
 * A census that cannot be clustered: a digest that is not one, a malformed
 * or repeated fact, or two machines that claim one digest for different facts
 * (a bug or a lie upstream: the digest is supposed to identify the facts).
 */
export class CensusError extends Error {
  readonly reason: 'malformed-digest' | 'malformed-fact' | 'duplicate-fact' | 'digest-conflict'
  readonly digest: string

  constructor (reason: CensusError['reason'], digest: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CensusError'
    this.reason = reason
    this.digest = digest
  }
}

/** Clustering options that make no sense (a negative weight, a NaN diameter, a bad name prefix, a reference with a repeated fact). */
export class ClusterOptionsError extends Error {
  readonly reason: 'weights' | 'diameter' | 'prefix' | 'machines' | 'reference'

  constructor (reason: ClusterOptionsError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ClusterOptionsError'
    this.reason = reason
  }
}

/**
 * A cluster map that fails its schema or one of the rules tying its fields
 * together. `path` names the field (e.g. `clusters[2].order`,
 * `assignments.9f2c…`), so the vendor or a node's log can point at it.
 */
export class ClusterMapInvalidError extends Error {
  readonly reason: 'encoding' | 'too-large' | 'format' | 'schema' | 'order' | 'names' | 'assignments' | 'counts'
  readonly path: string

  constructor (reason: ClusterMapInvalidError['reason'], path: string, message: string, options?: ErrorOptions) {
    super(path === '' ? `cluster map: ${message}` : `cluster map: ${path}: ${message}`, options)
    this.name = 'ClusterMapInvalidError'
    this.reason = reason
    this.path = path
  }
}

/** A valid, well-signed cluster map that must still not replace the one in use (an older sequence: rollback). */
export class ClusterMapRefusedError extends Error {
  readonly reason: 'rollback'

  constructor (reason: ClusterMapRefusedError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ClusterMapRefusedError'
    this.reason = reason
  }
}
