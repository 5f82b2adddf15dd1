import { access, readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { BUILT_IN_SCENARIO_DIR } from './constants.ts'
import { ScenarioInvalidError } from './errors.ts'

/** The folder of the built-in scenarios (`scenarios/` at the package root). */
export const BUILT_IN_DIR = fileURLToPath(new URL(`../../${BUILT_IN_SCENARIO_DIR}/`, import.meta.url))

/** The names of the built-in scenarios (`quickstart`, `paper-staging`, …), sorted. */
export async function builtInScenarioNames (): Promise<string[]> {
  const entries = await readdir(BUILT_IN_DIR)
  return entries.filter(f => f.endsWith('.yaml')).map(f => f.slice(0, -'.yaml'.length)).sort()
}

/** The file of a built-in scenario, or undefined if there is none by that name. */
export async function builtInScenario (name: string): Promise<string | undefined> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) return undefined
  const file = join(BUILT_IN_DIR, `${name}.yaml`)
  try {
    await access(file)
    return file
  } catch {
    return undefined
  }
}

/** FILE or NAME, as the `scenario` commands take it: an existing file wins, then a built-in name. */
export async function resolveScenario (fileOrName: string): Promise<string> {
  try {
    await access(fileOrName)
    return fileOrName
  } catch {}
  const builtIn = await builtInScenario(fileOrName)
  if (builtIn !== undefined) return builtIn
  const names = await builtInScenarioNames().catch(() => [])
  throw new ScenarioInvalidError('not-found', fileOrName, 0, '', `no such file, and no built-in scenario by that name (built-in: ${names.join(', ')})`)
}
