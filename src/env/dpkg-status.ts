/**
 * The Debian package database (`/var/lib/dpkg/status`): which packages are
 * installed, at which version. Pure: text in, packages out.
 */

/** Where dpkg keeps what is installed. */
export const DPKG_STATUS_PATH = '/var/lib/dpkg/status'

export interface InstalledPackage {
  name: string
  /** `amd64`, `all`, ... (empty when the stanza has none). */
  architecture: string
  version: string
}

/**
 * The installed packages, sorted by name then architecture. Stanzas whose
 * Status is not "install ok installed" (removed, half-configured) are not
 * installed; malformed stanzas are skipped rather than fatal, since a
 * missing package is itself a fact of the environment.
 */
export function parseDpkgStatus (text: string): InstalledPackage[] {
  const packages: InstalledPackage[] = []
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    for (const line of stanza.split('\n')) {
      if (line === '' || line.startsWith(' ') || line.startsWith('\t')) continue
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
    }
    const name = fields.get('package')
    const version = fields.get('version')
    const status = fields.get('status')
    if (name === undefined || version === undefined || status === undefined) continue
    if (status.split(/\s+/)[2] !== 'installed') continue
    packages.push({ name, architecture: fields.get('architecture') ?? '', version })
  }
  return packages.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0)
}

/** Whether a package name matches a spec pattern (`*` any run, `?` one character). */
export function packageMatches (pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${source}$`).test(name)
}
