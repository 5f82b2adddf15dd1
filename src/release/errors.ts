/**
 * A rollout plan that makes no sense. `reason` names the rule, `path` the
 * field (e.g. `clusters[2].after[0]`), so the vendor can fix the file.
 */
export class PlanInvalidError extends Error {
  readonly reason: 'schema' | 'duplicate-cluster' | 'unknown-prerequisite' | 'self-prerequisite' | 'duplicate-prerequisite' | 'cycle' | 'quorum-exceeds-representatives' | 'not-json'
  readonly path: string
  /** The rule that failed, without the field path. */
  readonly detail: string

  constructor (reason: PlanInvalidError['reason'], path: string, detail: string, options?: ErrorOptions) {
    super(path === '' ? `plan: ${detail}` : `plan: ${path}: ${detail}`, options)
    this.name = 'PlanInvalidError'
    this.reason = reason
    this.path = path
    this.detail = detail
  }
}

/** A manifest that fails its schema or one of its consistency rules. */
export class ManifestInvalidError extends Error {
  readonly reason: 'encoding' | 'schema' | 'format' | 'version' | 'times' | 'layout' | 'root-mismatch' | 'test' | 'plan' | 'env-spec' | 'report-key' | 'targets'
  readonly path: string

  constructor (reason: ManifestInvalidError['reason'], path: string, message: string, options?: ErrorOptions) {
    super(path === '' ? `manifest: ${message}` : `manifest: ${path}: ${message}`, options)
    this.name = 'ManifestInvalidError'
    this.reason = reason
    this.path = path
  }
}

/** A well-formed, well-signed release that must still not be installed. */
export class ReleaseRefusedError extends Error {
  readonly reason: 'expired' | 'rollback' | 'not-yet-valid'

  constructor (reason: ReleaseRefusedError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ReleaseRefusedError'
    this.reason = reason
  }
}

/** Publishing could not proceed (bad input directory, existing output, …). */
export class PublishError extends Error {
  readonly reason: 'artifact' | 'output-exists' | 'test-command' | 'sequence' | 'too-large'

  constructor (reason: PublishError['reason'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'PublishError'
    this.reason = reason
  }
}
