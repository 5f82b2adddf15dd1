/**
 * The judgements discovery makes about a path, kept apart from the trace
 * plumbing so they can be read, argued with and tested in one place: which
 * paths are not environment at all, which kind of parser fits a file, and
 * which files are environment but should not split clusters.
 *
 * Mirage §4.1 defines environmental resources as what the application
 * depends on (executables, libraries, configuration) as opposed to its
 * data. A trace sees both; these rules take out the data.
 */
import { posix } from 'node:path'
import { MAX_SPEC_RESOURCES } from '../spec.ts'
import type { ResourceKind } from '../types.ts'

/**
 * Why a path the trace saw is not proposed:
 *   written            the traced command wrote, created, truncated, renamed or removed it: its data
 *   under-created-dir  it lies in a directory the traced command created: its data
 *   pseudo-fs          /proc, /sys, /dev, /run: kernel and runtime state, not files
 *   temp               /tmp, /var/tmp, $TMPDIR: temporary by definition
 *   cache              a cache regenerated from other resources (/etc/ld.so.cache, *.cache, /var/cache)
 *   locale             locale data: follows LANG/LC_* and the libc already fingerprinted
 *   variable-data      /var/lib, /var/log, /var/spool, /var/mail: state (FHS: "variable data files")
 *   directory          a directory (listed, not read)
 *   not-regular        a socket, FIFO or device reached by a path
 *   gone               no longer exists after the run: it was temporary
 *   relative           its directory could not be told from the trace
 *   glob-characters    its name holds `*`, `?`, `[` or `{`, which a spec path would read as a glob
 *   over-limit         past the number of resources a spec may hold (MAX_SPEC_RESOURCES)
 */
export type ExclusionReason =
  | 'written'
  | 'under-created-dir'
  | 'pseudo-fs'
  | 'temp'
  | 'cache'
  | 'locale'
  | 'variable-data'
  | 'directory'
  | 'not-regular'
  | 'gone'
  | 'relative'
  | 'glob-characters'
  | 'over-limit'

/** One line per reason, for the summary a person reads. */
export const EXCLUSION_EXPLANATIONS: Record<ExclusionReason, string> = {
  written: 'written, created or removed by the command (its data)',
  'under-created-dir': 'inside a directory the command created (its data)',
  'pseudo-fs': 'under /proc, /sys, /dev or /run (kernel and runtime state)',
  temp: 'in a temporary directory (a file named on the command line is kept)',
  cache: 'caches rebuilt from other files (e.g. /etc/ld.so.cache)',
  locale: 'locale data (follows LANG and the libc version)',
  'variable-data': 'state under /var/lib, /var/log, /var/spool or /var/mail',
  directory: 'directories',
  'not-regular': 'sockets, FIFOs and devices',
  gone: 'gone after the run (temporary)',
  relative: 'relative paths whose directory the trace did not show',
  'glob-characters': 'names with glob characters (* ? [ {), which a spec would read as patterns; add them by hand',
  'over-limit': `past the ${MAX_SPEC_RESOURCES} resources a spec may hold (the last files by path)`
}

/** A path is under `root` (or is it). */
export function isUnder (path: string, root: string): boolean {
  const base = root.endsWith('/') && root !== '/' ? root.slice(0, -1) : root
  return base === '/' || path === base || path.startsWith(`${base}/`)
}

const PSEUDO_FS_ROOTS = ['/proc', '/sys', '/dev', '/run', '/var/run']
const VARIABLE_DATA_ROOTS = ['/var/lib', '/var/log', '/var/spool', '/var/mail']
const LOCALE_ROOTS = ['/usr/lib/locale', '/usr/share/locale', '/usr/share/i18n']

/**
 * The exclusion a path earns by where it lies, if any. `pseudo-fs` is a
 * fact; the others are heuristics, which `heuristics: false` turns off (for
 * paths the owner named on the command line: a config passed as an argument
 * is meant, even from /tmp).
 */
export function locationExclusion (path: string, options: { tempDirs: readonly string[], heuristics?: boolean }): ExclusionReason | undefined {
  if (PSEUDO_FS_ROOTS.some(root => isUnder(path, root))) return 'pseudo-fs'
  if (options.heuristics === false) return undefined
  if (options.tempDirs.some(root => isUnder(path, root))) return 'temp'
  // ld.so.cache is rebuilt by ldconfig from the libraries, which are
  // proposed themselves; fingerprinting it would split clusters over any
  // library installed anywhere, needed or not. Likewise gconv-modules.cache.
  if (path === '/etc/ld.so.cache' || posix.basename(path).endsWith('.cache') || isUnder(path, '/var/cache') || /\/\.cache\//.test(path)) return 'cache'
  if (LOCALE_ROOTS.some(root => isUnder(path, root))) return 'locale'
  if (VARIABLE_DATA_ROOTS.some(root => isUnder(path, root))) return 'variable-data'
  return undefined
}

/** Characters a spec path would take as a glob (the spec allows globs). */
export function hasGlobCharacters (path: string): boolean {
  return /[*?[\]{}]/.test(path)
}

/** `libc.so.6`, `libpcre2-8.so.0.11.2`, `mod_php.so`: a shared object by its name. */
export function isSharedObjectName (path: string): boolean {
  return /\.so(\.\d+)*$/.test(posix.basename(path))
}

/**
 * The kind of a configuration file the trace saw read, by name and place;
 * ELF objects are `binary` whatever their name.
 */
export function guessFileKind (path: string, elf: boolean): ResourceKind {
  const base = posix.basename(path).toLowerCase()
  if (elf || isSharedObjectName(path)) return 'binary'
  if (base === 'php.ini' || base.endsWith('.ini')) return 'ini'
  if (base === 'my.cnf' || base.endsWith('.cnf')) return 'mycnf'
  if (base === 'apache2.conf' || base === 'httpd.conf' || isUnder(path, '/etc/apache2') || isUnder(path, '/etc/httpd')) return 'apache'
  if (base.endsWith('.json')) return 'json'
  if (base.endsWith('.yaml') || base.endsWith('.yml')) return 'yaml'
  return 'text'
}

/**
 * Files that are environment but differ between otherwise identical
 * machines, or change without any software change: user and host
 * databases, the host's name and identity, the time zone. Proposed with
 * `relevant: false`, so they are fingerprinted (a diff shows them) but do
 * not split clusters; the owner can flip that.
 */
const VOLATILE_FILES = new Set([
  '/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow', '/etc/hosts', '/etc/hostname',
  '/etc/resolv.conf', '/etc/localtime', '/etc/timezone', '/etc/machine-id', '/etc/mtab', '/etc/fstab', '/etc/adjtime'
])

export function isVolatileFile (path: string): boolean {
  return VOLATILE_FILES.has(path)
}
