/** A node config file that cannot be used; `path` names the field (e.g. `apps.webshop.vendorKeys[0]`). */
export class ConfigError extends Error {
  readonly path: string

  constructor (path: string, message: string, options?: ErrorOptions) {
    super(path === '' ? `config: ${message}` : `config: ${path}: ${message}`, options)
    this.name = 'ConfigError'
    this.path = path
  }
}

/** The node's control socket could not be reached or answered badly. */
export class ControlError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ControlError'
  }
}
