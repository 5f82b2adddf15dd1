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
