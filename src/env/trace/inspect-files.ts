/**
 * The file-system half of a proposal: after the run, for each path the
 * trace executed or read, whether it still exists and is a regular file,
 * where its symlinks lead, whether it is ELF and which interpreter the
 * kernel runs for it (file-head.ts). Kept out of propose-spec.ts so that the
 * proposal itself stays pure and testable on recorded traces.
 */
import { open, realpath, stat } from 'node:fs/promises'
import { locationExclusion } from './classify-path.ts'
import { FILE_HEAD_BYTES, INSPECT_CONCURRENCY } from './constants.ts'
import { describeHead } from './file-head.ts'
import { tracedFilePaths } from './propose-spec.ts'
import type { FileFacts } from './propose-spec.ts'
import type { TraceEvent } from './trace-events.ts'

/** The I/O inspection needs; injectable so tests can fake a file system. */
export interface InspectIo {
  /** The file's type, following symlinks; undefined when it does not exist. */
  kind(path: string): Promise<'file' | 'directory' | 'other' | undefined>
  realPath(path: string): Promise<string | undefined>
  /** Up to `bytes` bytes from the start of a regular file. */
  readHead(path: string, bytes: number): Promise<Uint8Array>
}

/** The real file system. */
export const nodeInspectIo: InspectIo = {
  async kind (path) {
    try {
      const info = await stat(path)
      return info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other'
    } catch {
      return undefined
    }
  },
  async realPath (path) {
    try {
      return await realpath(path)
    } catch {
      return undefined
    }
  },
  async readHead (path, bytes) {
    const handle = await open(path, 'r')
    try {
      const buffer = Buffer.alloc(bytes)
      const { bytesRead } = await handle.read(buffer, 0, bytes, 0)
      return buffer.subarray(0, bytesRead)
    } finally {
      await handle.close()
    }
  }
}

/** Facts about one path. An unreadable regular file is a file that is not ELF: its kind is then guessed by name. */
export async function inspectFile (path: string, io: InspectIo = nodeInspectIo): Promise<FileFacts> {
  const kind = await io.kind(path)
  if (kind === undefined) return { type: 'missing', elf: false }
  const facts: FileFacts = { type: kind, elf: false }
  const real = await io.realPath(path)
  if (real !== undefined) facts.realPath = real
  if (kind !== 'file') return facts
  let head: Uint8Array
  try {
    head = await io.readHead(path, FILE_HEAD_BYTES)
  } catch {
    return facts
  }
  const described = describeHead(head)
  facts.elf = described.elf
  if (described.interpreter !== undefined) {
    facts.interpreter = described.interpreter
    if (described.interpreterFrom !== undefined) facts.interpreterFrom = described.interpreterFrom
  }
  return facts
}

/** Interpreter chains followed: script → its `#!` program → that program's loader. */
const MAX_INTERPRETER_ROUNDS = 3

/**
 * Inspects every path a proposal will look at: the traced files, then the
 * interpreters they name (which the trace cannot show), a few levels deep.
 * At most INSPECT_CONCURRENCY files at a time.
 */
export async function inspectTracedFiles (events: readonly TraceEvent[], io: InspectIo = nodeInspectIo): Promise<Map<string, FileFacts>> {
  const facts = new Map<string, FileFacts>()
  let batch = tracedFilePaths(events)
  for (let round = 0; round <= MAX_INTERPRETER_ROUNDS && batch.length > 0; round++) {
    await eachLimited(batch, INSPECT_CONCURRENCY, async (path) => { facts.set(path, await inspectFile(path, io)) })
    const next = new Set<string>()
    for (const path of batch) {
      const interpreter = facts.get(path)?.interpreter
      if (interpreter !== undefined && !facts.has(interpreter) && locationExclusion(interpreter, { tempDirs: [], heuristics: false }) === undefined) next.add(interpreter)
    }
    batch = [...next]
  }
  return facts
}

/** Runs `task` over `items`, `limit` at a time. */
async function eachLimited<T> (items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      await task(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
