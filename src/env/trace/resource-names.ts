/**
 * Readable, unique names for proposed resources. A spec names resources so
 * that fingerprints and diffs can say "php.ini changed"; the owner reads and
 * edits those names, so they are as short as uniqueness allows: the file's
 * base name, or as many trailing path components as it takes to tell files
 * with the same base name apart (`apache2/php.ini`, `cli/php.ini`).
 */

/**
 * What a spec accepts as a resource name (RESOURCE_NAME in spec.ts, which
 * validates the file; the proposal tests check that every proposal passes).
 */
export const RESOURCE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/
const MAX_NAME_CHARS = 200

/**
 * Names for absolute, distinct paths; path → name, each matching
 * RESOURCE_NAME_PATTERN and all distinct. Names of paths with different
 * base names never collide (their last component differs), so each group
 * of equal base names is disambiguated on its own; then characters a name
 * may not hold are replaced, and the rare collisions that makes get a
 * numeric suffix.
 */
export function uniqueResourceNames (paths: readonly string[]): Map<string, string> {
  const raw = suffixNames(paths)
  const names = new Map<string, string>()
  const taken = new Set<string>()
  for (const [path, name] of [...raw].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) {
    const base = safeName(name)
    let unique = base
    // Bounded: at most one collision per path already named.
    for (let n = 2; taken.has(unique); n++) unique = safeName(name, `-${n}`)
    taken.add(unique)
    names.set(path, unique)
  }
  return names
}

/**
 * `name` with every character a spec name may not hold replaced by `_`, no
 * leading punctuation (`.bashrc` → `bashrc`), and at most 200 characters
 * with `suffix`, keeping the end, which holds the file name.
 */
function safeName (name: string, suffix = ''): string {
  let text = name.replace(/[^A-Za-z0-9._:/@+-]/g, '_').replace(/^[^A-Za-z0-9]+/, '')
  if (text === '') text = 'file'
  text = text.slice(-(MAX_NAME_CHARS - suffix.length)).replace(/^[^A-Za-z0-9]+/, '')
  return `${text === '' ? 'file' : text}${suffix}`
}

/** The fewest trailing path components that tell paths apart (see the file comment). */
function suffixNames (paths: readonly string[]): Map<string, string> {
  const groups = new Map<string, string[]>()
  for (const path of new Set(paths)) {
    const base = baseName(path)
    const group = groups.get(base)
    if (group === undefined) groups.set(base, [path])
    else group.push(path)
  }
  const names = new Map<string, string>()
  for (const group of groups.values()) {
    const parts = group.map(path => path.split('/'))
    const longest = parts.reduce((max, p) => Math.max(max, p.length), 1)
    // Each path gets the fewest trailing components no other path of its
    // group shares. Two such names cannot collide: equal names have equal
    // component counts, so they would be a shared suffix. Bounded by the
    // deepest path, where the names are the (distinct) paths themselves.
    let unnamed = group.length
    for (let depth = 1; depth <= longest && unnamed > 0; depth++) {
      const suffixes = parts.map(p => p.slice(-depth).join('/'))
      const counts = new Map<string, number>()
      for (const suffix of suffixes) counts.set(suffix, (counts.get(suffix) ?? 0) + 1)
      group.forEach((path, i) => {
        const suffix = suffixes[i] as string
        if (!names.has(path) && (counts.get(suffix) === 1 || depth === longest)) {
          names.set(path, suffix)
          unnamed--
        }
      })
    }
  }
  return names
}

function baseName (path: string): string {
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path
  return trimmed.slice(trimmed.lastIndexOf('/') + 1)
}
