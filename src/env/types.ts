/**
 * The vocabulary of environments (Mirage §4.1), shared by the spec, the
 * parsers, the fingerprinter and the vendor's clustering (`src/cluster`).
 */

/**
 * How a resource is fingerprinted:
 *   binary    executables and shared libraries: one item, the content hash
 *   ini       php.ini-style: `[section]`, `key = value`, `;`/`#` comments
 *   mycnf     my.cnf-style: `[group]`, `key = value` and bare `key`, `!include`/`!includedir`
 *   apache    Apache directives and `<Section>` blocks, `Include`/`IncludeOptional` followed
 *   json      a JSON document, one item per leaf
 *   yaml      a YAML document, one item per leaf
 *   text      plain text: normalised lines, comments and blank lines dropped
 *   env       an environment variable
 *   command   a command's output (for example `uname -r`)
 *   packages  installed-package versions from the Debian package database
 */
export const RESOURCE_KINDS = ['binary', 'ini', 'mycnf', 'apache', 'json', 'yaml', 'text', 'env', 'command', 'packages'] as const
export type ResourceKind = typeof RESOURCE_KINDS[number]

/** The kinds whose resource is a configuration file parsed into items. */
export const CONFIG_KINDS = ['ini', 'mycnf', 'apache', 'json', 'yaml', 'text'] as const
export type ConfigKind = typeof CONFIG_KINDS[number]

/**
 * Items of one parsed configuration: item name → normalised value. Names
 * are stable across reordering (e.g. `mysqld.port`, `<Directory /var/www>/Options`),
 * so a change to one directive changes exactly one item.
 */
export type ConfigItems = Map<string, string>

/** A file an `Include`-style directive pulled in. */
export interface IncludedFile {
  path: string
  text: string
}

/**
 * Resolves an include directive's argument (a path or glob, relative to
 * `fromPath`'s server root or directory as the format says) to the files it
 * names, sorted by path; an empty list when nothing matches.
 */
export type ReadIncludes = (pattern: string, fromPath: string) => Promise<IncludedFile[]>

/**
 * One fact of a fingerprint: resource (the spec's name for it), item (''
 * for a resource with a single value), and the value's salted hash.
 */
export interface Fact {
  resource: string
  item: string
  value: string
}
