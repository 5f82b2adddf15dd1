import type { z } from 'zod'

/** `['clusters', 2, 'after', 0]` → `clusters[2].after[0]`: the way a person finds the field. */
export function formatIssuePath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out
}

/** The first schema issue, as a field path and a message naming the rule. */
export function firstIssue (error: z.ZodError): { path: string, message: string } {
  const issue = error.issues[0]
  if (issue === undefined) return { path: '', message: 'invalid' }
  let message = issue.message
  if (issue.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.map(k => `"${k}"`).join(', ')}`
  return { path: formatIssuePath(issue.path), message }
}
