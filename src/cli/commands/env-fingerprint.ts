import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { checkFingerprint, clusterIdOf, diffFingerprints, fingerprintCluster, fingerprintDigest, formatFingerprintDiff } from '../../env/index.ts'
import { loadNodeConfig } from '../../node/index.ts'
import { EXIT_FAILURE, EXIT_OK, requiredString } from '../command.ts'
import { UsageError } from '../errors.ts'
import type { Fingerprint } from '../../env/index.ts'
import type { Command } from '../command.ts'

/** A fingerprint file larger than this is not one `env fingerprint --json` wrote. */
const MAX_FINGERPRINT_FILE_BYTES = 64 * 1024 * 1024

export const envFingerprintCommand: Command = {
  kind: 'command',
  name: 'fingerprint',
  summary: 'Fingerprint this machine\'s environment for the apps of a node config.',
  description: 'Reads every resource the app\'s cluster spec names and prints the facts as salted hashes: what may be shared with peers and the vendor without revealing values. With --json, one fingerprint per app (an object keyed by app), the input of `env diff`.',
  options: {
    config: { type: 'string', valueName: 'FILE', description: 'node config file (JSON)', required: true },
    app: { type: 'string', valueName: 'NAME', description: 'only this app' },
    json: { type: 'boolean', description: 'print {app: fingerprint} as JSON' }
  },
  async run (args, io) {
    const config = await loadNodeConfig(resolve(requiredString(args, 'config')))
    const only = args.values.app
    const apps = Object.keys(config.apps).filter(app => typeof only !== 'string' || app === only)
    if (typeof only === 'string' && apps.length === 0) throw new UsageError(`the config has no app "${only}" (it has: ${Object.keys(config.apps).join(', ')})`, 'env fingerprint')
    const result: Record<string, Fingerprint> = {}
    for (const app of apps) {
      const cluster = config.apps[app]?.cluster ?? {}
      result[app] = await fingerprintCluster(app, cluster)
    }
    if (args.values.json === true) {
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
      return EXIT_OK
    }
    for (const [app, fingerprint] of Object.entries(result)) {
      const cluster = config.apps[app]?.cluster
      io.stdout.write(`${app}: ${Object.keys(fingerprint.resources).length} resources, ${fingerprint.facts.length} facts, digest ${fingerprintDigest(fingerprint)}\n`)
      io.stdout.write(`  cluster ${cluster?.name ?? clusterIdOf(fingerprint)}${cluster?.name === undefined ? ' (from the relevant resources)' : ' (explicit name in the config)'}\n`)
      for (const [name, info] of Object.entries(fingerprint.resources)) {
        const facts = fingerprint.facts.filter(f => f.resource === name)
        io.stdout.write(`  ${name} [${info.kind}${info.relevant ? '' : ', not relevant'}${info.weight === 1 ? '' : `, weight ${info.weight}`}]: ${facts.length === 1 && facts[0]?.item === '' ? facts[0].value : `${facts.length} items`}\n`)
      }
      for (const note of fingerprint.notes) io.stdout.write(`  note: ${note}\n`)
    }
    return EXIT_OK
  }
}

export const envDiffCommand: Command = {
  kind: 'command',
  name: 'diff',
  summary: 'Explain why two fingerprints differ, resource by resource and item by item.',
  description: 'A and B are files written by `env fingerprint --json` (on two machines, or one machine at two times). Exits 0 when the relevant facts are equal (same cluster), 1 when they differ.',
  positionals: [
    { name: 'A', description: 'fingerprint file' },
    { name: 'B', description: 'fingerprint file' }
  ],
  options: {
    app: { type: 'string', valueName: 'NAME', description: 'the app to compare when the files hold several' },
    json: { type: 'boolean', description: 'print the differences as JSON' }
  },
  async run (args, io) {
    const [fileA, fileB] = args.positionals
    if (fileA === undefined || fileB === undefined || args.positionals.length !== 2) throw new UsageError('expected two fingerprint files, A and B', 'env diff')
    const app = typeof args.values.app === 'string' ? args.values.app : undefined
    const a = await readFingerprintFile(resolve(fileA), app)
    const b = await readFingerprintFile(resolve(fileB), app ?? a.app)
    const diff = diffFingerprints(a, b)
    io.stdout.write(args.values.json === true ? `${JSON.stringify(diff, null, 2)}\n` : formatFingerprintDiff(diff, { a: fileA, b: fileB }))
    return diff.sameCluster ? EXIT_OK : EXIT_FAILURE
  }
}

/** One app's fingerprint from a file of `env fingerprint --json` (or a single bare fingerprint). */
async function readFingerprintFile (file: string, app: string | undefined): Promise<Fingerprint> {
  const text = await readFile(file, 'utf8')
  if (text.length > MAX_FINGERPRINT_FILE_BYTES) throw new UsageError(`${file} is larger than ${MAX_FINGERPRINT_FILE_BYTES} bytes: not a fingerprint file`, 'env diff')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`${file} is not JSON: ${(err as Error).message}`, 'env diff')
  }
  if (typeof json === 'object' && json !== null && 'format' in json) return checkFingerprint(json, file)
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`${file} is not a fingerprint file (expected the output of \`env fingerprint --json\`)`, 'env diff')
  const apps = Object.keys(json)
  const chosen = app ?? (apps.length === 1 ? apps[0] : undefined)
  if (chosen === undefined) throw new UsageError(`${file} holds several apps (${apps.join(', ')}): choose one with --app`, 'env diff')
  if (!(chosen in json)) throw new UsageError(`${file} has no fingerprint of app "${chosen}" (it has: ${apps.join(', ')})`, 'env diff')
  return checkFingerprint((json as Record<string, unknown>)[chosen], `${file} (${chosen})`)
}
