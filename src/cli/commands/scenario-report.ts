import { dirname, join, resolve } from 'node:path'
import { writeFileAtomically } from '../../content/index.ts'
import { agreement, compareResults, DEFAULT_LATENCY_TOLERANCE, loadResults, renderComparison, renderReport } from '../../results-report/index.ts'
import { EXIT_OK, optionalString } from '../command.ts'
import { UsageError } from '../errors.ts'
import type { Command } from '../command.ts'

/** Largest latency tolerance accepted: beyond ±100% the check says nothing. */
const MAX_LATENCY_TOLERANCE = 1

export const reportCommand: Command = {
  kind: 'command',
  name: 'report',
  summary: 'Render a results.json as a self-contained report.html (charts, no network needed to open it).',
  description: 'Reads RESULTS.json (from `scenario run` or `scenario simulate`), validates it, and writes one HTML file with\n' +
    'inline charts: overhead and latency per plan style, the distribution of time to a working upgrade, and machines\n' +
    'per state over time by cluster for each plan run, with the summary and cluster tables and the run\'s notes.\n' +
    'Without --out, the report is written as report.html next to RESULTS.json.',
  options: {
    out: { type: 'string', valueName: 'FILE', description: 'where to write the report (default: report.html beside RESULTS.json)' }
  },
  positionals: [{ name: 'RESULTS.json', description: 'the results of a scenario run or simulation' }],
  async run (args, io) {
    const source = resolve(args.positionals[0] ?? '')
    const out = resolve(optionalString(args, 'out') ?? join(dirname(source), 'report.html'))
    const results = await loadResults(source)
    const html = renderReport(results, { source })
    // Written beside the target and renamed, so a reader never sees half a report.
    await writeFileAtomically(out, html)
    io.stdout.write(`wrote ${out} (${Buffer.byteLength(html)} bytes, ${results.runs.length} plan run${results.runs.length === 1 ? '' : 's'})\n`)
    return EXIT_OK
  }
}

export const compareCommand: Command = {
  kind: 'command',
  name: 'compare',
  summary: 'Put two results side by side per plan style, and check that they agree (overhead exactly, latency within a tolerance).',
  description: 'For each plan style: overhead, latency, time to a working upgrade (median, p90), machines never working, vendor\n' +
    'upload, bytes and messages per machine, for A and B, with B - A and B / A (means over repetitions). Then whether B\n' +
    'reproduces A: the same overhead exactly and a latency within ±TOLERANCE of A\'s (e.g. a simulation against a real run).',
  options: {
    json: { type: 'boolean', description: 'print the comparison and the agreement as one JSON document' },
    'latency-tolerance': { type: 'string', valueName: 'FRACTION', description: `allowed relative latency difference for agreement (default ${DEFAULT_LATENCY_TOLERANCE})` }
  },
  positionals: [
    { name: 'A.json', description: 'the reference results (e.g. a real run)' },
    { name: 'B.json', description: 'the results compared with it (e.g. a simulation of the same scenario)' }
  ],
  async run (args, io) {
    const text = optionalString(args, 'latency-tolerance')
    let latencyTolerance = DEFAULT_LATENCY_TOLERANCE
    if (text !== undefined) {
      latencyTolerance = Number(text)
      if (!/^\d+(\.\d+)?$/.test(text) || latencyTolerance > MAX_LATENCY_TOLERANCE) {
        throw new UsageError(`--latency-tolerance must be a fraction from 0 to ${MAX_LATENCY_TOLERANCE} (0.25 for ±25%), got "${text.slice(0, 40)}"`, 'scenario compare')
      }
    }
    const [a, b] = await Promise.all([loadResults(resolve(args.positionals[0] ?? '')), loadResults(resolve(args.positionals[1] ?? ''))])
    const comparison = compareResults(a, b)
    const check = agreement(a, b, { latencyTolerance })
    io.stdout.write(args.values.json === true
      ? `${JSON.stringify({ ...comparison, agreement: check })}\n`
      : renderComparison(comparison, check))
    return EXIT_OK
  }
}
