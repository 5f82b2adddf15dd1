/**
 * From a trace to a proposed environment spec (issue 4, item 2): the
 * executables the application ran, the shared libraries it loaded and the
 * files it read, minus its data (see classify-path.ts), each with a kind
 * that picks its fingerprinter. It is a proposal: the owner edits it, so it
 * says everything it saw and why it left things out.
 *
 * Pure: the facts that need the file system (is it ELF, which interpreter,
 * where do symlinks lead, does it still exist) come in as `files`, gathered
 * by inspect-files.ts after the run; without them the kinds are guessed
 * from names alone.
 */
import {
  guessFileKind, hasGlobCharacters, isSharedObjectName, isVolatileFile, locationExclusion
} from './classify-path.ts'
import type { ExclusionReason } from './classify-path.ts'
import { uniqueResourceNames } from './resource-names.ts'
import { MAX_SPEC_RESOURCES } from '../spec.ts'
import type { ResourceKind } from '../types.ts'
import type { TraceEvent } from './trace-events.ts'

/**
 * One resource of a spec, in the spec file's shape (src/env/spec.ts
 * validates it): a file kind has `path`; `variable`, `command` and
 * `packages` belong to the kinds tracing cannot discover and the owner adds.
 */
export interface ProposedResource {
  name: string
  kind: ResourceKind
  path?: string
  variable?: string
  command?: string[]
  packages?: string[]
  /** Whether the resource counts towards the cluster id. */
  relevant: boolean
}

/** A spec file as `mirage env trace` writes it. */
export interface ProposedSpec {
  format: 1
  app: string
  resources: ProposedResource[]
}

/** What inspecting a traced path after the run found (inspect-files.ts). */
export interface FileFacts {
  type: 'file' | 'directory' | 'other' | 'missing'
  /** The path with every symlink resolved, when it exists. */
  realPath?: string
  /** Starts with the ELF magic. */
  elf: boolean
  /** The interpreter the kernel runs for it (`#!` line or ELF PT_INTERP). */
  interpreter?: string
  interpreterFrom?: 'shebang' | 'pt-interp'
}

/**
 * Why a resource is proposed:
 *   executable  the command executed it (or it is a script's interpreter)
 *   library     a shared library or other ELF object it loaded (or a program's dynamic loader)
 *   file        a file it read: configuration, scripts, anything else
 */
export type ProposedRole = 'executable' | 'library' | 'file'

export interface ProposalEntry {
  role: ProposedRole
  resource: ProposedResource & { path: string }
  /** How it was found when not directly in the trace, e.g. `interpreter of /srv/app/run.sh`. */
  note?: string
}

export interface ExcludedPath {
  path: string
  reason: ExclusionReason
}

export interface SpecProposal {
  spec: ProposedSpec
  /** The resources of `spec`, in the same order, with their role. */
  entries: ProposalEntry[]
  /** Paths the trace saw that are not proposed, sorted by path. */
  excluded: ExcludedPath[]
}

export interface ProposeOptions {
  app: string
  /** Facts about traced paths, keyed by the path inspected (see inspectTracedFiles). */
  files?: ReadonlyMap<string, FileFacts>
  /** Temporary directories (default DEFAULT_TEMP_DIRS). */
  tempDirs?: readonly string[]
  /**
   * Paths the owner named on the traced command line (absolute). They are
   * meant, so only facts exclude them (written, /proc, gone), not the
   * location heuristics: `myapp --config /tmp/app.ini` proposes the config.
   */
  namedPaths?: readonly string[]
  /** Resources proposed at most (default MAX_SPEC_RESOURCES, what a spec may hold); the rest are excluded as over-limit. */
  maxResources?: number
}

/** The temporary directories every Linux machine has; $TMPDIR is added by the caller. */
export const DEFAULT_TEMP_DIRS = ['/tmp', '/var/tmp'] as const

/** Interpreters followed from an executable: a script's `#!`, then that program's loader, then (for `#!/usr/bin/env`-style chains) one more. */
const MAX_INTERPRETER_DEPTH = 3

const ROLE_ORDER: Record<ProposedRole, number> = { executable: 0, library: 1, file: 2 }

interface Candidate {
  /** Paths the program used for this file (several when symlinks lead to one file). */
  named: Set<string>
  /** Where they led: strace's resolved paths and the real path. */
  resolved: Set<string>
  executed: boolean
  loader: boolean
  facts: FileFacts | undefined
  note?: string
}

/**
 * The paths whose facts a proposal uses: the files executed and read
 * (where the kernel resolved them, when strace said), minus what lies
 * under /proc, /sys, /dev and /run, which must not be opened (a FIFO or a
 * terminal would block, /proc/self would be ours).
 */
export function tracedFilePaths (events: readonly TraceEvent[]): string[] {
  const paths = new Set<string>()
  for (const event of events) {
    if (!event.ok || event.directory === true || (event.action !== 'exec' && event.action !== 'read')) continue
    for (const path of [event.path, event.resolvedPath]) {
      if (path !== undefined && path.startsWith('/') && locationExclusion(path, { tempDirs: [], heuristics: false }) === undefined) paths.add(path)
    }
  }
  return [...paths].sort()
}

/** Proposes a spec from a trace. Deterministic: the same events and facts give the same spec, byte for byte. */
export function proposeSpec (events: readonly TraceEvent[], options: ProposeOptions): SpecProposal {
  const files = options.files ?? new Map<string, FileFacts>()
  const tempDirs = options.tempDirs ?? DEFAULT_TEMP_DIRS
  const named = new Set(options.namedPaths ?? [])
  const excluded = new Map<string, ExclusionReason>()
  const exclude = (path: string, reason: ExclusionReason): void => { if (!excluded.has(path)) excluded.set(path, reason) }

  const { written, createdDirs } = dataPaths(events)
  const candidates = new Map<string, Candidate>()
  const factsOf = (path: string | undefined): FileFacts | undefined => path === undefined ? undefined : files.get(path)
  const add = (path: string, resolvedPath: string | undefined, how: { executed: boolean, loader?: boolean, note?: string }): Candidate => {
    const facts = factsOf(resolvedPath) ?? factsOf(path)
    const key = facts?.realPath ?? resolvedPath ?? path
    let candidate = candidates.get(key)
    if (candidate === undefined) {
      candidate = { named: new Set(), resolved: new Set(), executed: false, loader: false, facts }
      candidates.set(key, candidate)
    }
    candidate.named.add(path)
    if (resolvedPath !== undefined) candidate.resolved.add(resolvedPath)
    if (facts?.realPath !== undefined) candidate.resolved.add(facts.realPath)
    candidate.facts ??= facts
    candidate.executed ||= how.executed
    candidate.loader ||= how.loader === true
    if (how.note !== undefined) candidate.note ??= how.note
    return candidate
  }

  for (const event of events) {
    if (!event.ok || (event.action !== 'exec' && event.action !== 'read')) continue
    if (!event.path.startsWith('/')) exclude(event.path, 'relative')
    else if (event.directory === true) exclude(event.path, 'directory')
    else add(event.path, event.resolvedPath, { executed: event.action === 'exec' })
  }
  addInterpreters(candidates, add)

  const entries: ProposalEntry[] = []
  for (const candidate of candidates.values()) {
    const path = [...candidate.named].sort()[0] as string
    const all = [...candidate.named, ...candidate.resolved]
    const reason = exclusionOf(candidate, all, { written, createdDirs, tempDirs, named })
    if (reason !== undefined) {
      exclude(path, reason)
      continue
    }
    const role: ProposedRole = candidate.executed
      ? 'executable'
      : candidate.loader || candidate.facts?.elf === true || all.some(isSharedObjectName) ? 'library' : 'file'
    const kind: ResourceKind = role === 'file' ? guessFileKind(path, false) : 'binary'
    const entry: ProposalEntry = { role, resource: { name: '', kind, path, relevant: !all.some(isVolatileFile) } }
    if (candidate.note !== undefined) entry.note = candidate.note
    entries.push(entry)
  }
  for (const path of written) {
    if (locationExclusion(path, { tempDirs: [], heuristics: false }) === undefined) exclude(path, 'written')
  }

  entries.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || compare(a.resource.path, b.resource.path))
  // A spec past the limit would be refused whole; better a complete list of
  // executables and libraries and most files, with the rest named below.
  for (const entry of entries.splice(options.maxResources ?? MAX_SPEC_RESOURCES)) exclude(entry.resource.path, 'over-limit')
  const names = uniqueResourceNames(entries.map(e => e.resource.path))
  for (const entry of entries) entry.resource.name = names.get(entry.resource.path) ?? entry.resource.path
  return {
    spec: { format: 1, app: options.app, resources: entries.map(e => ({ ...e.resource })) },
    entries,
    excluded: [...excluded].map(([path, reason]) => ({ path, reason })).sort((a, b) => compare(a.path, b.path))
  }
}

/** Paths the command wrote (by any name) and the directories it created: its data. */
function dataPaths (events: readonly TraceEvent[]): { written: Set<string>, createdDirs: Set<string> } {
  const written = new Set<string>()
  const createdDirs = new Set<string>()
  for (const event of events) {
    if (!event.ok || !event.path.startsWith('/')) continue
    if (event.action === 'write') {
      written.add(event.path)
      if (event.resolvedPath !== undefined) written.add(event.resolvedPath)
    } else if (event.action === 'mkdir') {
      createdDirs.add(event.path)
    }
  }
  return { written, createdDirs }
}

/**
 * Adds the interpreters the kernel ran without a traced call: a script's
 * `#!` program (an executable) and an ELF program's dynamic loader (a
 * library). Walks a bounded number of levels (script → /bin/sh → its loader).
 */
function addInterpreters (candidates: Map<string, Candidate>,
  add: (path: string, resolvedPath: undefined, how: { executed: boolean, loader: boolean, note: string }) => Candidate): void {
  const seen = new Set<Candidate>()
  let level = [...candidates.values()].filter(c => c.executed)
  for (let depth = 0; depth < MAX_INTERPRETER_DEPTH && level.length > 0; depth++) {
    const next: Candidate[] = []
    for (const candidate of level) {
      seen.add(candidate)
      const interpreter = candidate.facts?.interpreter
      if (interpreter === undefined) continue
      const shebang = candidate.facts?.interpreterFrom === 'shebang'
      const of = [...candidate.named].sort()[0] as string
      const added = add(interpreter, undefined, {
        executed: shebang,
        loader: !shebang,
        note: shebang ? `interpreter of ${of}` : `dynamic loader of ${of}`
      })
      if (!seen.has(added)) next.push(added)
    }
    level = next
  }
}

function exclusionOf (candidate: Candidate, all: string[], context: {
  written: Set<string>, createdDirs: Set<string>, tempDirs: readonly string[], named: Set<string>
}): ExclusionReason | undefined {
  if (all.some(p => context.written.has(p))) return 'written'
  if (all.some(p => inCreatedDir(p, context.createdDirs))) return 'under-created-dir'
  const heuristics = !all.some(p => context.named.has(p))
  for (const p of all) {
    const reason = locationExclusion(p, { tempDirs: context.tempDirs, heuristics })
    if (reason !== undefined) return reason
  }
  const type = candidate.facts?.type
  if (type === 'missing') return 'gone'
  if (type === 'directory') return 'directory'
  if (type === 'other') return 'not-regular'
  if (hasGlobCharacters([...candidate.named].sort()[0] as string)) return 'glob-characters'
  return undefined
}

/** Whether an ancestor of `path` is one of `dirs`: a walk up its (bounded) components, not a scan of `dirs`. */
function inCreatedDir (path: string, dirs: Set<string>): boolean {
  if (dirs.size === 0) return false
  for (let end = path.lastIndexOf('/'); end > 0; end = path.lastIndexOf('/', end - 1)) {
    if (dirs.has(path.slice(0, end))) return true
  }
  return false
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
