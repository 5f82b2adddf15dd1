import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { writeFileAtomically } from '../content/index.ts'
import { APP_NAME_PATTERN } from '../trust/index.ts'
import { VendorDirError } from './errors.ts'

/**
 * `D/cluster-maps.json` in the vendor directory, beside `published.json`:
 * per app, the last cluster map `vendor cluster` signed. Its sequence is
 * what keeps maps monotonic (nodes refuse a map whose sequence is not above
 * the one in use), so the file is never reset: a damaged one is an error
 * for a person to fix.
 */
export const CLUSTER_MAP_LOG_FILE = 'cluster-maps.json'

/** The last map signed for an app. */
export interface ClusterMapLogEntry {
  sequence: number
  /** ISO time the map was made. */
  createdAt: string
  /** Where it was written. */
  file: string
  clusters: number
  machines: number
}

const logSchema = z.record(
  z.string().regex(APP_NAME_PATTERN),
  z.strictObject({ sequence: z.int().min(1), createdAt: z.string(), file: z.string(), clusters: z.int().min(0), machines: z.int().min(0) })
)

/** The log, `{}` when no map was ever signed from this directory. */
export async function readClusterMapLog (vendorDir: string): Promise<Record<string, ClusterMapLogEntry>> {
  const path = join(vendorDir, CLUSTER_MAP_LOG_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  try {
    return logSchema.parse(JSON.parse(text))
  } catch (err) {
    throw new VendorDirError('state-corrupt', vendorDir, `${path} is damaged; fix it by hand (it records the last cluster map sequence per app)`, { cause: err })
  }
}

/** Records a signed map; an entry never replaces one with a higher sequence. */
export async function recordClusterMap (vendorDir: string, app: string, entry: ClusterMapLogEntry): Promise<void> {
  const all = await readClusterMapLog(vendorDir)
  const previous = all[app]
  if (previous !== undefined && previous.sequence >= entry.sequence) return
  all[app] = entry
  await writeFileAtomically(join(vendorDir, CLUSTER_MAP_LOG_FILE), `${JSON.stringify(all, null, 2)}\n`)
}
