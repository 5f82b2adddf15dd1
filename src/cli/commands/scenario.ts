import { resolve, join } from 'node:path'
import { PLAN_STYLES } from '../../release/index.ts'
import { MAX_SHARED_HOST_CORES, loadScenario, machineCount, resolveScenario, writeSimulation } from '../../scenario/index.ts'
import type { RunSummary, Scenario } from '../../scenario/index.ts'
import { EXIT_FAILURE, EXIT_OK, integerOption, optionalString } from '../command.ts'
import { compareCommand, reportCommand } from './scenario-report.ts'
import { plansOption } from './scenario-options.ts'
import { scenarioRunCommand } from './scenario-run.ts'
import type { CliIo, Command, CommandGroup, ParsedArgs } from '../command.ts'

/** Errors of the scenario area that describe the input, not a bug: shown as a message, exit 1. */
const SCENARIO_ERRORS = new Set(['ScenarioInvalidError', 'SimulationError', 'PlanInvalidError'])

async function guarded (io: CliIo, path: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body()
  } catch (err) {
    if (!SCENARIO_ERRORS.has((err as Error).name)) throw err
    io.stderr.write(`mirage ${path}: ${(err as Error).message}\n`)
    return EXIT_FAILURE
  }
}

async function scenarioArgument (args: ParsedArgs): Promise<Scenario> {
  return loadScenario(await resolveScenario(args.positionals[0] ?? ''))
}

export const scenarioValidateCommand: Command = {
  kind: 'command',
  name: 'validate',
  summary: 'Check a scenario file (or a built-in scenario by name) and print what it describes.',
  description: 'Errors name the line and the field, e.g. `paper-staging.yaml:14: population.clusters[1].machines: must be a positive integer`.',
  options: {
    json: { type: 'boolean', description: 'print {"scenario", "machines", "clusters", "plans", "releases"} as JSON' }
  },
  positionals: [{ name: 'FILE|NAME', description: 'a scenario file, or a built-in: quickstart, paper-staging, churn, late-joiners, vendor-offline, large' }],
  async run (args, io) {
    return guarded(io, 'scenario validate', async () => {
      const scenario = await scenarioArgument(args)
      const summary = {
        scenario: scenario.name,
        machines: machineCount(scenario),
        clusters: scenario.clusters.map(c => ({ name: c.name, machines: c.machines })),
        plans: scenario.plans,
        releases: scenario.releases.map(r => ({ version: r.version, atMs: r.atMs, ...(r.fix === undefined ? {} : { fix: r.fix.version }) }))
      }
      if (args.values.json === true) {
        io.stdout.write(`${JSON.stringify(summary)}\n`)
      } else {
        io.stdout.write(`${scenario.source}: valid scenario "${scenario.name}": ${summary.machines} machines in ${summary.clusters.length} clusters, ` +
          `${scenario.releases.length} release(s), plans ${scenario.plans.join(', ')}\n`)
      }
      return EXIT_OK
    })
  }
}

export const scenarioSimulateCommand: Command = {
  kind: 'command',
  name: 'simulate',
  summary: 'Simulate a scenario with the real rollout engine, at any scale, and write results.json.',
  description: 'A discrete-event simulation: the rollout engine decides, transfer, test, report and gossip times are modelled\n' +
    '(the scenario\'s `timing:`). --machines scales every cluster proportionally. Writes DIR/results.json (the same\n' +
    'format as `scenario run`) and prints overhead and latency per plan style. To check a simulation against a real run\n' +
    'on this machine (`scenario compare`), pass --host-cores with its cores: every machine then shares one host.',
  options: {
    machines: { type: 'string', valueName: 'N', description: 'scale the population to N machines in total' },
    'host-cores': { type: 'string', valueName: 'N', description: 'every machine runs on one host of N cores, as in a local real run (default: the scenario\'s timing.sharedHostCores; 0: each machine its own host)' },
    out: { type: 'string', valueName: 'DIR', description: 'output directory (default ./mirage-results/<scenario>-<timestamp>/)' },
    plans: { type: 'string', valueName: 'a,b', description: `plan styles to compare (default: the scenario's): ${PLAN_STYLES.join(', ')}` },
    seed: { type: 'string', valueName: 'N', description: 'seed (default: the scenario\'s)' },
    repetitions: { type: 'string', valueName: 'N', description: 'repetitions (default: the scenario\'s)' },
    json: { type: 'boolean', description: 'print {"file", "runs": [{plan, repetition, metrics, …}]} as JSON' }
  },
  positionals: [{ name: 'FILE|NAME', description: 'a scenario file, or a built-in scenario name' }],
  async run (args, io) {
    const path = 'scenario simulate'
    const machines = integerOption(args, 'machines', path, 1, 5_000_000)
    const hostCores = integerOption(args, 'host-cores', path, 0, MAX_SHARED_HOST_CORES)
    const seed = integerOption(args, 'seed', path, 0, 2 ** 31 - 1)
    const repetitions = integerOption(args, 'repetitions', path, 1, 1000)
    const plans = plansOption(optionalString(args, 'plans'), path)
    return guarded(io, path, async () => {
      const scenario = await scenarioArgument(args)
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      const outDir = resolve(optionalString(args, 'out') ?? join('mirage-results', `${scenario.name}-${stamp}`))
      const json = args.values.json === true
      const { file, runs } = await writeSimulation(scenario, outDir, {
        ...(machines === undefined ? {} : { machines }),
        ...(hostCores === undefined ? {} : { sharedHostCores: hostCores }),
        ...(seed === undefined ? {} : { seed }),
        ...(repetitions === undefined ? {} : { repetitions }),
        ...(plans === undefined ? {} : { plans }),
        onProgress: event => {
          if (json) return
          if (event.type === 'ground-truth') {
            const broken = Object.entries(event.breaks).map(([v, clusters]) => `${v} breaks ${clusters.length === 0 ? 'nothing' : clusters.join(', ')}`)
            io.stdout.write(`ground truth (the test script, run once per distinct environment): ${broken.join('; ')}\n`)
          } else if (event.type === 'run-finished') {
            io.stdout.write(`  ${event.plan} #${event.repetition}: simulated in ${(event.wallMs / 1000).toFixed(1)} s\n`)
          }
        }
      })
      io.stdout.write(json ? `${JSON.stringify({ file, runs })}\n` : renderSummary(scenario, runs, file))
      return EXIT_OK
    })
  }
}

export const scenarioCommands: CommandGroup = {
  kind: 'group',
  name: 'scenario',
  summary: 'Scenarios: run one on real nodes, simulate it at scale, report and compare results.',
  commands: [scenarioRunCommand, scenarioSimulateCommand, reportCommand, compareCommand, scenarioValidateCommand]
}


function renderSummary (scenario: Scenario, runs: RunSummary[], file: string): string {
  const seconds = (ms: number | null): string => ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`
  const lines = [`${scenario.name}: ${runs[0]?.metrics.machines ?? 0} machines`, '',
    `  ${'plan'.padEnd(14)}${'overhead'.padStart(10)}${'latency'.padStart(12)}${'median'.padStart(10)}${'p90'.padStart(10)}${'vendor ×'.padStart(10)}`]
  for (const run of runs) {
    const m = run.metrics
    lines.push(`  ${`${run.plan}${runs.length > scenario.plans.length ? ` #${run.repetition}` : ''}`.padEnd(14)}${String(m.overhead).padStart(10)}${seconds(m.latencyMs).padStart(12)}` +
      `${seconds(m.timeToWorkingMs.median).padStart(10)}${seconds(m.timeToWorkingMs.p90).padStart(10)}${m.vendorUploadMultiple.toFixed(1).padStart(10)}`)
  }
  lines.push('', 'overhead: machines that tested or installed a faulty version where it is faulty; latency: until every machine runs a working version.', `results: ${file}`)
  return `${lines.join('\n')}\n`
}
