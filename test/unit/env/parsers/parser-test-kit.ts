/**
 * Shared helpers of the parser tests: comparing item maps, seeded shuffles,
 * an in-memory ReadIncludes, error assertions and junk generators.
 */
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { expect } from 'vitest'
import type { ConfigParseReason } from '../../../../src/env/errors.ts'
import type { ConfigItems, IncludedFile, ReadIncludes } from '../../../../src/env/types.ts'
import { mulberry32 } from '../../../helpers/seeded-random.ts'

/** The absolute path of a file under test/fixtures/env. */
export function fixturePath (name: string): string {
  return fileURLToPath(new URL(`../../../fixtures/env/${name}`, import.meta.url))
}

export interface ItemDiff {
  changed: string[]
  added: string[]
  removed: string[]
}

/** Which item names differ in value, appear only in `after`, or only in `before`. */
export function diffItems (before: ConfigItems, after: ConfigItems): ItemDiff {
  const changed: string[] = []
  const removed: string[] = []
  for (const [name, value] of before) {
    if (!after.has(name)) removed.push(name)
    else if (after.get(name) !== value) changed.push(name)
  }
  const added = [...after.keys()].filter(name => !before.has(name))
  return { changed, added, removed }
}

/** Asserts that exactly the item `name` changed value and nothing was added or removed. */
export function expectOneChange (before: ConfigItems, after: ConfigItems, name: string): void {
  expect(diffItems(before, after)).toEqual({ changed: [name], added: [], removed: [] })
}

/** A deterministic permutation (mulberry32-driven Fisher–Yates). */
export function shuffled<T> (items: readonly T[], seed: number): T[] {
  const random = mulberry32(seed)
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const a = out[i] as T
    out[i] = out[j] as T
    out[j] = a
  }
  return out
}

/**
 * An in-memory ReadIncludes over `files` (absolute paths): a pattern is
 * taken relative to the includer's directory, `*` matches within one path
 * segment.
 */
export function memoryIncludes (files: Record<string, string>): ReadIncludes {
  return async (pattern: string, fromPath: string): Promise<IncludedFile[]> => {
    const dir = fromPath.slice(0, fromPath.lastIndexOf('/') + 1)
    const absolute = pattern.startsWith('/') ? pattern : dir + pattern
    const regex = new RegExp(`^${absolute.split('*').map(part => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`)
    return Object.keys(files).filter(path => regex.test(path)).sort().map(path => ({ path, text: files[path] ?? '' }))
  }
}

export interface ExpectedParseError {
  path: string
  /** The line, or 'any' when only its presence is asserted. */
  line?: number | 'any'
  reason?: ConfigParseReason
  message?: RegExp
}

/** Asserts `run` fails with a ConfigParseError naming the file (and line). */
export async function expectParseError (run: () => unknown, expected: ExpectedParseError): Promise<void> {
  let caught: unknown
  try {
    await run()
  } catch (err) {
    caught = err
  }
  expect(caught, 'expected a ConfigParseError').toBeInstanceOf(Error)
  const err = caught as Error & { path?: string, line?: number, reason?: string }
  expect(err.name).toBe('ConfigParseError')
  expect(err.path).toBe(expected.path)
  if (expected.reason !== undefined) expect(err.reason).toBe(expected.reason)
  if (expected.line === 'any') {
    expect(err.line).toBeTypeOf('number')
    expect(err.message).toContain(`${expected.path} line ${err.line ?? ''}: `)
  } else if (expected.line !== undefined) {
    expect(err.line).toBe(expected.line)
    expect(err.message).toContain(`${expected.path} line ${expected.line}: `)
  } else {
    expect(err.message.startsWith(expected.path)).toBe(true)
  }
  if (expected.message !== undefined) expect(err.message).toMatch(expected.message)
}

/** Runs `run`; anything it throws must be a ConfigParseError. */
export async function onlyConfigParseErrors (run: () => unknown): Promise<void> {
  try {
    await run()
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ConfigParseError') throw err
  }
}

/** Text made of a format's own tokens mixed with arbitrary characters: junk that gets past the first checks. */
export function junkText (tokens: readonly string[]): fc.Arbitrary<string> {
  return fc.array(fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...tokens, '\n', '\n', ' ', '\t', '\r\n', '"', "'", '\\', '#', ';', '=') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) }
  ), { maxLength: 80 }).map(parts => parts.join(''))
}

/**
 * The text without its comment lines (by `isComment`), with its blank lines
 * doubled and new comment and blank lines between (never after a line that
 * continues onto the next).
 */
export function recommented (text: string, isComment: (line: string) => boolean, comment: string): string {
  const out: string[] = []
  text.split('\n').forEach((line, index) => {
    if (isComment(line.trim())) return
    const continues = out[out.length - 1]?.endsWith('\\') === true
    if (index % 3 === 0 && !continues) out.push(`${comment} note ${index}`, '')
    out.push(line)
    if (line.trim() === '' && !continues) out.push('   ')
  })
  return out.join('\n')
}
