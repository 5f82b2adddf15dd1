import { readFile, stat } from 'node:fs/promises'
import { scenarioResultsSchema } from '../scenario/results.ts'
import { MAX_RESULTS_FILE_BYTES } from './constants.ts'
import { ResultsFileError } from './errors.ts'
import type { ScenarioResults } from '../scenario/results.ts'

/** Schema issues listed in the error message; the rest are counted. */
const MAX_LISTED_ISSUES = 3

/**
 * Reads and validates a results.json (`scenarioResultsSchema`). Throws
 * `ResultsFileError` naming the file and, for a schema failure, the field.
 */
export async function loadResults (path: string): Promise<ScenarioResults> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch (err) {
    throw new ResultsFileError(`cannot read results file ${path}: ${(err as Error).message}`, { reason: 'unreadable', file: path }, { cause: err })
  }
  if (size > MAX_RESULTS_FILE_BYTES) {
    throw new ResultsFileError(`results file ${path} is ${size} bytes, more than the ${MAX_RESULTS_FILE_BYTES} a JSON document can have here`, { reason: 'too-large', file: path })
  }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ResultsFileError(`cannot read results file ${path}: ${(err as Error).message}`, { reason: 'unreadable', file: path }, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ResultsFileError(`results file ${path} is not JSON: ${(err as Error).message}`, { reason: 'not-json', file: path }, { cause: err })
  }
  return parseResults(json, path)
}

/** Validates an already parsed results document; `file` only names it in errors. */
export function parseResults (json: unknown, file: string): ScenarioResults {
  const parsed = scenarioResultsSchema.safeParse(json)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues
  const first = issues[0]
  const field = first === undefined ? '' : fieldPath(first.path)
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map(issue => `${fieldPath(issue.path) || '(document)'}: ${issue.message}`)
  const more = issues.length > MAX_LISTED_ISSUES ? `; and ${issues.length - MAX_LISTED_ISSUES} more` : ''
  return throwInvalid(`results file ${file} is not valid: ${listed.join('; ')}${more}`, file, field, parsed.error)
}

function throwInvalid (message: string, file: string, field: string, cause: unknown): never {
  throw new ResultsFileError(message, { reason: 'invalid', file, field }, { cause })
}

/** `['runs', 0, 'machines', 3, 'cluster']` → `runs[0].machines[3].cluster`. */
export function fieldPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out
}
