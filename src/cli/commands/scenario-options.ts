import { PLAN_STYLES } from '../../release/index.ts'
import type { PlanStyle } from '../../release/index.ts'
import { UsageError } from '../errors.ts'

/** `--plans staged,all-at-once`: distinct plan styles, each one Mirage knows. */
export function plansOption (text: string | undefined, path: string): PlanStyle[] | undefined {
  if (text === undefined) return undefined
  const plans = text.split(',').map(p => p.trim()).filter(p => p !== '')
  for (const plan of plans) {
    if (!(PLAN_STYLES as readonly string[]).includes(plan)) throw new UsageError(`--plans: "${plan}" is not one of ${PLAN_STYLES.join(', ')}`, path)
  }
  if (plans.length === 0 || new Set(plans).size !== plans.length) throw new UsageError('--plans must list distinct plan styles, e.g. staged,all-at-once', path)
  return plans as PlanStyle[]
}
