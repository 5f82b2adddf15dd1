import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { writeFileAtomically } from '../../content/index.ts'
import { PLAN_STYLES } from '../../release/index.ts'
import { renderReport } from '../../results-report/index.ts'
import { loadScenario, resolveScenario } from '../../scenario/index.ts'
import { defaultMachineThreads } from '../../scenario/machine-threads.ts'
import { runScenario } from '../../scenario/run-scenario.ts'
import type { RunProgress } from '../../scenario/run-scenario.ts'
import { EXIT_OK, integerOption, optionalString } from '../command.ts'
import { UsageError } from '../errors.ts'
import type { Command } from '../command.ts'
import { plansOption } from './scenario-options.ts'

/** Where runs keep their nodes: not under /tmp, which sandboxed tests see as their own empty /tmp. */
const DEFAULT_WORK_PARENT = '/var/tmp'

export const scenarioRunCommand: Command = {
  kind: 'command',
  name: 'run',
  summary: 'Run a scenario on real libp2p nodes on this machine, and write results.json and report.html.',
  description: 'Starts the vendor\'s seed and every machine as a real node on 127.0.0.1 (in this process, or with\n' +
    '--processes each as its own `mirage node start`), drives the scenario\'s timeline (releases, the fix after the\n' +
    'first problem report, churn, late joiners, the vendor offline), prints machines per state per cluster, and\n' +
    'stops everything it started, also on Ctrl-C. Network conditions are not applied (the run says so).',
  options: {
    processes: { type: 'boolean', description: 'run every machine as a separate `mirage node start` process' },
    threads: { type: 'string', valueName: 'N', description: 'in this process: worker threads the machines are spread over (default one per core; 0 = all on the main thread)' },
    out: { type: 'string', valueName: 'DIR', description: 'output directory (default ./mirage-results/<scenario>-<timestamp>/)' },
    plans: { type: 'string', valueName: 'a,b', description: `plan styles to compare (default: the scenario's): ${PLAN_STYLES.join(', ')}` },
    repetitions: { type: 'string', valueName: 'N', description: 'repetitions (default: the scenario\'s)' },
    seed: { type: 'string', valueName: 'N', description: 'seed (default: the scenario\'s)' },
    'keep-work': { type: 'boolean', description: 'keep the nodes\' directories (vendor, seed, machines) after the run' },
    json: { type: 'boolean', description: 'print progress and the result as JSON lines' }
  },
  positionals: [{ name: 'FILE|NAME', description: 'a scenario file, or a built-in: quickstart, paper-staging, churn, late-joiners, vendor-offline, large' }],
  async run (args, io) {
    const path = 'scenario run'
    const seed = integerOption(args, 'seed', path, 0, 2 ** 31 - 1)
    const repetitions = integerOption(args, 'repetitions', path, 1, 100)
    const threads = integerOption(args, 'threads', path, 0, 256)
    if (threads !== undefined && args.values.processes === true) throw new UsageError('--threads is for machines in this process; it cannot go with --processes', path)
    const plans = plansOption(optionalString(args, 'plans'), path)
    const scenario = await loadScenario(await resolveScenario(args.positionals[0] ?? ''))
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    const outDir = resolve(optionalString(args, 'out') ?? join('mirage-results', `${scenario.name}-${stamp}`))
    const json = args.values.json === true
    const say = (text: string, value: unknown): void => { io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`) }
    await mkdir(outDir, { recursive: true })
    const workDir = join(DEFAULT_WORK_PARENT, `mirage-${scenario.name}-${stamp}-${process.pid}`)
    const where = args.values.processes === true
      ? 'one process per machine'
      : threads === 0 ? 'in this process, on its main thread' : `in this process, over ${threads ?? defaultMachineThreads()} worker threads`
    say(`running ${scenario.name} on real nodes (${where}); work dir ${workDir}`, { scenario: scenario.name, workDir, outDir })
    const results = await runScenario(scenario, {
      runner: args.values.processes === true ? 'processes' : 'in-process',
      workDir,
      keepWork: args.values['keep-work'] === true,
      ...(threads === undefined ? {} : { threads }),
      ...(plans === undefined ? {} : { plans }),
      ...(repetitions === undefined ? {} : { repetitions }),
      ...(seed === undefined ? {} : { seed }),
      signal: io.signal,
      onProgress: progress => { say(describeProgress(progress), progressJson(progress)) }
    })
    const file = join(outDir, 'results.json')
    await writeFileAtomically(file, JSON.stringify(results))
    const report = join(outDir, 'report.html')
    await writeFileAtomically(report, renderReport(results, { source: file }))
    for (const note of results.notes) say(`note: ${note}`, { note })
    say(`results: ${file}\nreport:  ${report}`, { results: file, report })
    return EXIT_OK
  }
}

function describeProgress (p: RunProgress): string {
  switch (p.type) {
    case 'run-started': return `== ${p.plan} (repetition ${p.repetition}): ${p.machines} machines`
    case 'swarm-formed': return p.formed
      ? `  swarm formed in ${seconds(p.tookMs)}: the clock starts`
      : `  swarm not formed after ${seconds(p.tookMs)} (${p.waitingFor} machines not announced): the clock starts anyway`
    case 'published': return `  ${seconds(p.atMs)} vendor published ${p.version}`
    case 'states': return `  ${seconds(p.atMs)} ${Object.entries(p.byCluster).map(([cluster, states]) => `${cluster}: ${Object.entries(states).map(([s, n]) => `${n} ${s}`).join(', ')}`).join(' | ')}`
    case 'run-finished': {
      const m = p.run.metrics
      return `  done${p.settled ? '' : ' (did not settle in time)'}: overhead ${m.overhead} machines exposed to a faulty release; ` +
        `latency ${m.latencyMs === null ? `none (${m.neverWorking} never ran a working version)` : seconds(m.latencyMs)}; vendor uploaded ${m.vendorUploadMultiple.toFixed(2)}× the artifact`
    }
  }
}

function progressJson (p: RunProgress): unknown {
  if (p.type !== 'run-finished') return p
  return { type: p.type, plan: p.plan, repetition: p.repetition, settled: p.settled, metrics: p.run.metrics }
}

function seconds (ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

