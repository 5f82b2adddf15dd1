import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MAX_GROUND_TRUTH_TEST_MS, TEST_SCRIPT_PATH } from './constants.ts'
import { ScenarioInvalidError } from './errors.ts'
import { environmentFiles, writeAppTree, writeEnvironment } from './population.ts'
import type { Scenario } from './scenario-schema.ts'
import { templateVariables } from './scenario-schema.ts'

/** Outcomes of (script, version, environment), by content digest: one process per distinct environment, ever. */
const outcomes = new Map<string, Promise<boolean>>()

/**
 * Which clusters `version` breaks: decided by RUNNING the scenario's test
 * script (`sh mirage-test`, in a copy of the release's app tree, with
 * `MIRAGE_ENV_DIR` pointing at a generated environment), not by a flag.
 * Once per distinct environment (cached by content), so a population of a
 * million machines in ten clusters costs ten runs. A non-zero exit or a
 * hang past the timeout means the version breaks there, as on a machine.
 *
 * A cluster is judged on its first machine's environment; when its
 * templates use `{{machine}}` or `{{index}}`, on its last machine's too, and
 * the two must agree: a cluster is the set of machines an upgrade treats
 * alike (Mirage §4.1), so a test that tells two of them apart describes two
 * clusters, and the scenario is refused.
 */
export async function breaksOn (scenario: Scenario, version: string): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>()
  for (const cluster of scenario.clusters) {
    const perMachine = Object.values(cluster.files).some(t => templateVariables(t).some(v => v === 'machine' || v === 'index'))
    const first = await outcomeOn(scenario, version, cluster.name, 0)
    if (perMachine && cluster.machines > 1) {
      const last = await outcomeOn(scenario, version, cluster.name, cluster.machines - 1)
      if (last !== first) {
        const index = scenario.clusters.indexOf(cluster)
        throw new ScenarioInvalidError('test-script', scenario.source, 0, `population.clusters[${index}].files`,
          `the test of ${version} ${first ? 'fails' : 'passes'} on the first machine of cluster "${cluster.name}" but not on its last: ` +
          'the test must not depend on {{machine}} or {{index}} (machines of one cluster share the environment that matters)')
      }
    }
    out.set(cluster.name, first)
  }
  return out
}

/** `breaksOn` for several versions: version → cluster → breaks. */
export async function groundTruth (scenario: Scenario, versions: readonly string[]): Promise<Map<string, Map<string, boolean>>> {
  const out = new Map<string, Map<string, boolean>>()
  for (const version of versions) out.set(version, await breaksOn(scenario, version))
  return out
}

/** Every version the scenario may publish: its releases and their fixes. */
export function scenarioVersions (scenario: Scenario): string[] {
  return scenario.releases.flatMap(r => r.fix === undefined ? [r.version] : [r.version, r.fix.version])
}

/** Whether the test of `version` fails on machine `index` of `cluster` (true: it breaks). */
async function outcomeOn (scenario: Scenario, version: string, cluster: string, index: number): Promise<boolean> {
  const env = environmentFiles(scenario, cluster, index)
  const digest = createHash('sha256')
  digest.update(`${scenario.test.script}\0${version}\0${scenario.artifactBytes}\0${scenario.app}\0${cluster}\0${scenario.test.timeoutMs}`)
  for (const [path, content] of [...env].sort(([a], [b]) => a < b ? -1 : 1)) digest.update(`\0${path}\0${content}`)
  const key = digest.digest('hex')
  let outcome = outcomes.get(key)
  if (outcome === undefined) {
    outcome = runOnce(scenario, version, cluster, index)
    outcomes.set(key, outcome)
    outcome.catch(() => outcomes.delete(key))
  }
  return outcome
}

async function runOnce (scenario: Scenario, version: string, cluster: string, index: number): Promise<boolean> {
  const work = await mkdtemp(join(tmpdir(), 'mirage-ground-truth-'))
  try {
    const app = await writeAppTree(scenario, version, join(work, 'app'), { sparsePayload: true })
    const envDir = await writeEnvironment(scenario, cluster, index, join(work, 'env'))
    const timeout = Math.min(scenario.test.timeoutMs, MAX_GROUND_TRUTH_TEST_MS)
    return await new Promise<boolean>((resolve, reject) => {
      execFile('sh', [TEST_SCRIPT_PATH], {
        cwd: app,
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer: 1024 * 1024,
        // What a node gives the release test (src/node/app-rollout.ts), plus
        // the env dir a runner's node config sets in testEnv. No
        // MIRAGE_VERSION: a node does not set it, so the script reads VERSION.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', MIRAGE_APP: scenario.app, MIRAGE_CLUSTER: cluster, MIRAGE_ENV_DIR: envDir, MIRAGE_INSTALL_DIR: app }
      }, (err) => {
        if (err === null) return resolve(false)
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOENT') return reject(new Error('cannot run the scenario\'s test: no `sh` on PATH', { cause: err }))
        resolve(true)
      })
    })
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
