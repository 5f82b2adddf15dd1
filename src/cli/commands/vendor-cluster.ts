import { resolve } from 'node:path'
import { loadNodeConfig, openControlStream } from '../../node/index.ts'
import { APP_NAME_PATTERN } from '../../trust/index.ts'
import { saveCensus, vendorCluster } from '../../vendor/index.ts'
import { EXIT_OK, integerOption, optionalString, requiredString } from '../command.ts'
import { UsageError } from '../errors.ts'
import { openVendorForCommand } from './vendor-open.ts'
import type { VendorClusterResult } from '../../vendor/index.ts'
import type { Command, ParsedArgs } from '../command.ts'

/** Largest diameter accepted: distances are sums of weights (≤ 1,000 each) over differing items; beyond this a diameter is a typo. */
const MAX_DIAMETER = 1e9

export const censusCommand: Command = {
  kind: 'command',
  name: 'census',
  summary: 'Fetch the census of an app from the running seed: the fingerprints machines sent.',
  description: 'Asks the seed running on the config\'s data dir (its control API) for the latest fingerprint of every\nmachine of the app that opted in (`"census": true` in its node config). Writes a JSON array of\n{ peerId, receivedAt, fingerprint }, one entry per line: the input of `vendor cluster`.\nWith --out the file is written atomically, after every entry was validated.',
  options: {
    config: { type: 'string', valueName: 'FILE', description: 'node config of the running seed', required: true },
    app: { type: 'string', valueName: 'NAME', description: 'application name', required: true },
    out: { type: 'string', valueName: 'FILE', description: 'write the census here (default: standard output)' },
    json: { type: 'boolean', description: 'with --out: print {"app", "machines", "fingerprints", "file"} as JSON' }
  },
  async run (args, io) {
    const path = 'vendor census'
    const app = appOption(args, path)
    const config = await loadNodeConfig(resolve(requiredString(args, 'config')))
    const response = await openControlStream(config.dataDir, `/census?app=${encodeURIComponent(app)}`)
    const out = optionalString(args, 'out')
    if (out === undefined) {
      response.setEncoding('utf8')
      for await (const text of response as AsyncIterable<string>) io.stdout.write(text)
      return EXIT_OK
    }
    const file = resolve(out)
    const summary = await saveCensus(response, file, app)
    io.stdout.write(args.values.json === true
      ? `${JSON.stringify({ app, machines: summary.machines, fingerprints: summary.fingerprints, file })}\n`
      : `census of ${app}: ${summary.machines} machines, ${summary.fingerprints} distinct fingerprints, written to ${file}\n`)
    return EXIT_OK
  }
}

export const clusterCommand: Command = {
  kind: 'command',
  name: 'cluster',
  summary: 'Cluster a census into a signed cluster map (quality-threshold clustering at a maximum diameter).',
  description: 'Groups the machines of a census (from `vendor census`) so that no two machines of a cluster are further apart\nthan D: the number of relevant items on which they differ, weighted per resource. Writes the map, signed with the\nvendor key, to --out or VENDOR/cluster-maps/APP-SEQUENCE.cbor, with the next sequence for the app (recorded in\nVENDOR/cluster-maps.json). Seed it with `vendor seed --cluster-map FILE`.',
  options: {
    vendor: { type: 'string', valueName: 'DIR', description: 'vendor directory (from `vendor init`)', required: true },
    app: { type: 'string', valueName: 'NAME', description: 'application name', required: true },
    census: { type: 'string', valueName: 'FILE', description: 'census file (from `vendor census`)', required: true },
    diameter: { type: 'string', valueName: 'D', description: 'maximum distance between two machines of a cluster (≥ 0)', required: true },
    weights: { type: 'string', valueName: 'FILE.json', description: '{"resource": weight}; unlisted resources weigh what the fingerprints declare, else 1' },
    reference: { type: 'string', valueName: 'FINGERPRINT.json', description: 'the vendor\'s reference environment (`env fingerprint --json`): closest clusters first' },
    prefix: { type: 'string', valueName: 'P', description: 'cluster name prefix (default: c, giving c01, c02, …)' },
    sequence: { type: 'string', valueName: 'N', description: 'explicit sequence; must be above every earlier map of the app' },
    out: { type: 'string', valueName: 'FILE', description: 'where to write the signed map' },
    json: { type: 'boolean', description: 'print the result as one JSON document' }
  },
  async run (args, io) {
    const path = 'vendor cluster'
    const app = appOption(args, path)
    const diameter = diameterOption(requiredString(args, 'diameter'), path)
    const sequence = integerOption(args, 'sequence', path, 1, Number.MAX_SAFE_INTEGER)
    const prefix = optionalString(args, 'prefix')
    // The cluster area checks the longest name a prefix makes; this catches the obvious mistakes as usage errors.
    if (prefix !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,55}$/.test(prefix)) {
      throw new UsageError(`--prefix must be 1-56 letters, digits, ".", "_" or "-", starting with a letter or digit, got "${prefix.slice(0, 70)}"`, path)
    }
    const vendor = await openVendorForCommand(resolve(requiredString(args, 'vendor')), io)
    const weights = optionalString(args, 'weights')
    const reference = optionalString(args, 'reference')
    const out = optionalString(args, 'out')
    const result = await vendorCluster({
      vendor,
      app,
      censusPath: resolve(requiredString(args, 'census')),
      diameter,
      ...(weights === undefined ? {} : { weightsPath: resolve(weights) }),
      ...(reference === undefined ? {} : { referencePath: resolve(reference) }),
      ...(prefix === undefined ? {} : { prefix }),
      ...(sequence === undefined ? {} : { sequence }),
      ...(out === undefined ? {} : { outPath: resolve(out) })
    })
    io.stdout.write(args.values.json === true ? `${JSON.stringify(resultJson(result))}\n` : renderResult(result))
    return EXIT_OK
  }
}

function appOption (args: ParsedArgs, path: string): string {
  const app = requiredString(args, 'app')
  if (!APP_NAME_PATTERN.test(app)) throw new UsageError(`--app must be an app name (1-64 lowercase letters, digits, ".", "_" or "-"), got "${app.slice(0, 70)}"`, path)
  return app
}

function diameterOption (text: string, path: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= 0 && value <= MAX_DIAMETER)) {
    throw new UsageError(`--diameter must be a number from 0 to ${MAX_DIAMETER} (differing items, weighted), got "${text.slice(0, 40)}"`, path)
  }
  return value
}

function resultJson (result: VendorClusterResult): unknown {
  return {
    app: result.map.app,
    sequence: result.map.sequence,
    file: result.file,
    diameter: result.map.diameter,
    weights: result.weights,
    weightConflicts: result.weightConflicts,
    clusters: result.map.clusters,
    totals: { clusters: result.map.clusters.length, machines: result.machines, fingerprints: result.fingerprints, elapsedMs: result.elapsedMs }
  }
}

function renderResult (result: VendorClusterResult): string {
  const { map } = result
  const header = ['cluster', 'machines', 'fingerprints', 'order']
  const rows = map.clusters.map(c => [c.name, String(c.machines), String(c.fingerprints), String(c.order)])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => `  ${cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)).join('  ')}\n`
  const lines = [
    `cluster map ${map.app} sequence ${map.sequence} (diameter ${map.diameter}), signed and written to ${result.file}\n`,
    line(header),
    ...rows.map(line),
    `${map.clusters.length} clusters, ${result.machines} machines, ${result.fingerprints} distinct fingerprints, ${result.elapsedMs} ms\n`
  ]
  if (result.weightConflicts.length > 0) {
    lines.push(`note: machines declare different weights for ${result.weightConflicts.slice(0, 5).map(r => `"${r}"`).join(', ')}${result.weightConflicts.length > 5 ? ', …' : ''}; they weighed 1 (set them with --weights)\n`)
  }
  return lines.join('')
}
