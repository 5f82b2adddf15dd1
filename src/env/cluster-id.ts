import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { base32 } from 'multiformats/bases/base32'

/**
 * What defines a machine's cluster for an app, for now: an explicit name, or
 * the files and environment variables the app depends on (issue 4 brings
 * full fingerprinting of environmental resources).
 */
export interface ClusterSpec {
  /** An explicit cluster name wins over any fingerprint. */
  name?: string
  /** Files whose contents define the environment; a missing file is itself a fact. */
  files?: string[]
  /** Environment variables whose values define the environment; an unset one is a fact. */
  env?: string[]
}

/**
 * The cluster id: the explicit name, or `env-` and 26 base32 characters of a
 * SHA-256 over the app and the sorted facts, so identical environments land
 * in the same cluster with no coordination (Mirage §4.1), and no value is
 * revealed by the id.
 */
export async function computeClusterId (app: string, spec: ClusterSpec, environment: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (spec.name !== undefined) return spec.name
  const facts: string[] = []
  for (const file of [...(spec.files ?? [])].sort()) {
    const content = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
      throw err
    })
    facts.push(`file\0${file}\0${content === undefined ? 'missing' : createHash('sha256').update(content).digest('hex')}`)
  }
  for (const name of [...(spec.env ?? [])].sort()) {
    const value = environment[name]
    facts.push(`env\0${name}\0${value === undefined ? 'unset' : createHash('sha256').update(value).digest('hex')}`)
  }
  const digest = createHash('sha256').update(`mirage/cluster/v1\0${app}\0${facts.join('\n')}`).digest()
  return `env-${base32.baseEncode(digest).slice(0, 26)}`
}
