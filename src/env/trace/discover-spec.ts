/**
 * Discovery by tracing, end to end: trace the command, inspect the files it
 * touched, propose a spec. What `mirage env trace` runs; the steps stay
 * separate (runTrace, inspectTracedFiles, proposeSpec) for callers and
 * tests that need one of them.
 */
import { tmpdir } from 'node:os'
import { posix } from 'node:path'
import { inspectTracedFiles } from './inspect-files.ts'
import type { InspectIo } from './inspect-files.ts'
import { DEFAULT_TEMP_DIRS, proposeSpec } from './propose-spec.ts'
import type { SpecProposal } from './propose-spec.ts'
import { runTrace } from './run-trace.ts'
import type { TraceRun, TraceRunInit } from './run-trace.ts'

export interface DiscoverInit extends TraceRunInit {
  /** The application the spec is for. */
  app: string
  /** File-system access for inspection (default: the real one). */
  inspectIo?: InspectIo
}

export interface Discovery {
  run: TraceRun
  proposal: SpecProposal
}

/** Traces `argv` and proposes a spec for `init.app` from what it did. */
export async function discoverSpec (argv: string[], init: DiscoverInit): Promise<Discovery> {
  const run = await runTrace(argv, init)
  const files = await inspectTracedFiles(run.events, init.inspectIo)
  const env = init.env ?? process.env
  const proposal = proposeSpec(run.events, {
    app: init.app,
    files,
    tempDirs: tempDirs(env.TMPDIR),
    namedPaths: namedPaths(run.argv, run.cwd)
  })
  return { run, proposal }
}

/** /tmp, /var/tmp, and $TMPDIR and Node's tmpdir() when they are elsewhere. */
export function tempDirs (tmpdirVariable: string | undefined): string[] {
  const dirs = new Set<string>(DEFAULT_TEMP_DIRS)
  for (const dir of [tmpdirVariable, tmpdir()]) {
    if (dir !== undefined && dir.startsWith('/') && dir !== '/') dirs.add(posix.resolve(dir))
  }
  return [...dirs]
}

/**
 * Paths the command line names, absolute: each argument, and the value of
 * `--option=value` arguments, taken against the working directory. Anything
 * can look like a path; only those the trace then shows being read matter.
 */
export function namedPaths (argv: readonly string[], cwd: string): string[] {
  const paths = new Set<string>()
  for (const arg of argv) {
    const equals = arg.indexOf('=')
    for (const value of [arg, equals === -1 ? '' : arg.slice(equals + 1)]) {
      if (value !== '' && !value.startsWith('-')) paths.add(posix.resolve(cwd, value))
    }
  }
  return [...paths]
}
