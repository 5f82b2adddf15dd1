import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { APP_NAME_PATTERN } from '../trust/index.ts'
import { EnvSpecError } from './errors.ts'
import { RESOURCE_KINDS } from './types.ts'
import type { ResourceKind } from './types.ts'

/** A spec file larger than this is refused: a spec names resources, it does not hold them. */
export const MAX_SPEC_BYTES = 1024 * 1024
/** Resources one spec may name: bounds the work of one fingerprint. */
export const MAX_SPEC_RESOURCES = 1_000

/** Names of resources: readable, unique, safe in fingerprints and diffs. */
export const RESOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/

const FILE_KINDS = new Set<ResourceKind>(['binary', 'ini', 'mycnf', 'apache', 'json', 'yaml', 'text'])

const resourceSchema = z.strictObject({
  name: z.string().regex(RESOURCE_NAME, 'must be 1–200 characters: letters, digits and . _ : / @ + -'),
  kind: z.enum(RESOURCE_KINDS),
  /** File kinds: an absolute path or glob. */
  path: z.string().min(1).max(4096).optional(),
  /** env: the variable's name. */
  variable: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  /** command: argv, run without a shell. */
  command: z.array(z.string().min(1).max(4096)).min(1).max(64).optional(),
  /** packages: Debian package names or globs (`libmysqlclient*`). */
  packages: z.array(z.string().regex(/^[a-z0-9*?][a-z0-9+.*?-]*$/, 'must be a Debian package name or glob')).min(1).max(256).optional(),
  /** Whether the resource defines the cluster id (default: yes). */
  relevant: z.boolean().default(true),
  /** The vendor's weight for this resource in clustering distances (default 1). */
  weight: z.number().min(0).max(1_000).default(1)
}).superRefine((resource, ctx) => {
  const wanted = FILE_KINDS.has(resource.kind) ? 'path' : resource.kind === 'env' ? 'variable' : resource.kind === 'command' ? 'command' : 'packages'
  for (const field of ['path', 'variable', 'command', 'packages'] as const) {
    if (field === wanted && resource[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: `a ${resource.kind} resource needs "${field}"` })
    if (field !== wanted && resource[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `a ${resource.kind} resource takes "${wanted}", not "${field}"` })
  }
  if (resource.path !== undefined && !resource.path.startsWith('/')) ctx.addIssue({ code: 'custom', path: ['path'], message: 'must be absolute (a spec is shared between machines)' })
})

export type ResourceSpec = z.output<typeof resourceSchema>
/** A resource as written (relevant and weight optional). */
export type ResourceSpecInput = z.input<typeof resourceSchema>

const resourcesSchema = z.array(resourceSchema).max(MAX_SPEC_RESOURCES).superRefine((resources, ctx) => {
  const seen = new Map<string, number>()
  resources.forEach((resource, index) => {
    const first = seen.get(resource.name)
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `"${resource.name}" is already the name of resource ${first}` })
    else seen.set(resource.name, index)
  })
})

const specSchema = z.strictObject({
  format: z.literal(1),
  app: z.string().regex(APP_NAME_PATTERN, 'must be an app name'),
  /**
   * Salt of the value hashes: shared by every machine of the app (so equal
   * values hash equally across machines) and chosen by the vendor (so a
   * value cannot be looked up in a table made for another app).
   */
  salt: z.string().min(1).max(256).optional(),
  resources: resourcesSchema
})

/** What an app depends on in its environment (Mirage §4.1: its environmental resources). */
export type EnvSpec = z.output<typeof specSchema>

/** Parses and checks a spec (JSON text), naming the field at fault. */
export function parseEnvSpec (text: string, source: string): EnvSpec {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) throw new EnvSpecError(`${source}: larger than ${MAX_SPEC_BYTES} bytes`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new EnvSpecError(`${source}: not JSON: ${(err as Error).message}`, { cause: err })
  }
  return checkEnvSpec(json, source)
}

export function checkEnvSpec (value: unknown, source: string): EnvSpec {
  const parsed = specSchema.safeParse(value)
  if (!parsed.success) throw new EnvSpecError(`${source}: ${describeIssues(parsed.error)}`)
  return parsed.data
}

/** Checks resources given outside a spec file (the node config's own additions). */
export function checkResources (value: unknown, source: string): ResourceSpec[] {
  const parsed = resourcesSchema.safeParse(value)
  if (!parsed.success) throw new EnvSpecError(`${source}: ${describeIssues(parsed.error, 'resources')}`)
  return parsed.data
}

export async function readEnvSpec (file: string): Promise<EnvSpec> {
  return parseEnvSpec(await readFile(file, 'utf8'), file)
}

/**
 * The vendor's spec with the owner's additions: an owner's resource of the
 * same name replaces the vendor's (the owner knows the machine).
 */
export function mergeResources (vendor: readonly ResourceSpec[], owner: readonly ResourceSpec[]): ResourceSpec[] {
  const byName = new Map(vendor.map(resource => [resource.name, resource]))
  for (const resource of owner) byName.set(resource.name, resource)
  return [...byName.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

function describeIssues (error: z.ZodError, prefix?: string): string {
  return error.issues.slice(0, 5).map(issue => {
    const path = [...(prefix === undefined ? [] : [prefix]), ...issue.path].map(p => typeof p === 'number' ? `[${p}]` : `.${String(p)}`).join('').replace(/^\./, '')
    return `${path === '' ? '(top level)' : path}: ${issue.message}`
  }).join('; ')
}
