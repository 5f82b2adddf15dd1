import path from 'node:path'

/** Whether `target` is strictly below `dir` (both absolute and normalised). */
export function isInside (dir: string, target: string): boolean {
  const rel = path.relative(dir, target)
  return rel !== '' && !path.isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${path.sep}`)
}
