import { resolve } from 'node:path'
import { MAX_CHUNK_SIZE_BYTES, MIN_CHUNK_SIZE_BYTES } from '../../content/index.ts'
import { callControl, ControlError, loadNodeConfig, startMirageNode } from '../../node/index.ts'
import { CLUSTER_NAME_PATTERN, MAX_PLAN_CLUSTERS } from '../../release/index.ts'
import { initVendorDir, vendorPublish, vendorReportsDir } from '../../vendor/index.ts'
import { UsageError } from '../errors.ts'
import { EXIT_OK, byteSizeOption, integerOption, optionalString, requiredString } from '../command.ts'
import { formatBytes } from '../release-view.ts'
import { announceStarted, untilAborted } from './node.ts'
import { censusCommand, clusterCommand } from './vendor-cluster.ts'
import { openVendorForCommand } from './vendor-open.ts'
import { clearCommand, haltCommand } from './vendor-overrides.ts'
import { reportsCommand } from './vendor-reports.ts'
import type { Command, CommandGroup, ParsedArgs } from '../command.ts'

const initCommand: Command = {
  kind: 'command',
  name: 'init',
  summary: 'Create a vendor: an Ed25519 signing key pair and an X25519 report key pair in a directory; prints the public key.',
  description: 'Machine owners put the printed public key in their node config to trust this vendor\'s releases.\n' +
    'The report key (DIR/report.key) opens the problem reports machines seal to the vendor; its public key is signed\n' +
    'into every release `vendor publish` makes. Private keys are written with mode 0600 and never overwritten.',
  options: {
    dir: { type: 'string', valueName: 'DIR', description: 'vendor directory to create', required: true },
    json: { type: 'boolean', description: 'print {"dir", "publicKey", "reportKey"} as JSON' }
  },
  async run (args, io) {
    const vendor = await initVendorDir(resolve(requiredString(args, 'dir')))
    if (args.values.json === true) {
      io.stdout.write(`${JSON.stringify({ dir: vendor.dir, publicKey: vendor.publicKeyText, reportKey: vendor.reportPublicKeyText })}\n`)
    } else {
      io.stdout.write(`${vendor.publicKeyText}\n`)
    }
    return EXIT_OK
  }
}

const publishCommand: Command = {
  kind: 'command',
  name: 'publish',
  summary: 'Pack, chunk and sign a release of a directory, with its test and rollout plan.',
  description: 'Writes OUT/manifest.cbor (the signed manifest) and OUT/chunks/ (the artifact\'s chunks).\n' +
    'The sequence is one more than the last release of the app published from this vendor directory.\n' +
    'The manifest names the vendor\'s report key, so machines can seal problem reports to it. With --targets, only\n' +
    'machines of those clusters take the release (a fix); a targeted cluster may come only after targeted clusters.',
  options: {
    vendor: { type: 'string', valueName: 'DIR', description: 'vendor directory (from `vendor init`)', required: true },
    app: { type: 'string', valueName: 'NAME', description: 'application name', required: true },
    version: { type: 'string', valueName: 'SEMVER', description: 'version, e.g. 1.4.2', required: true },
    artifact: { type: 'string', valueName: 'DIR', description: 'directory to ship', required: true },
    plan: { type: 'string', valueName: 'PLAN.json', description: 'rollout plan', required: true },
    'env-spec': { type: 'string', valueName: 'SPEC.json', description: 'environment spec to ship with the release: the resources that define clusters for it' },
    out: { type: 'string', valueName: 'DIR', description: 'release directory to write (must not exist or be empty)', required: true },
    test: { type: 'string', valueName: 'PATH', description: 'test program inside the artifact (default: mirage-test)' },
    'test-timeout': { type: 'string', valueName: 'SECONDS', description: 'test timeout (default: 300)' },
    sequence: { type: 'string', valueName: 'N', description: 'explicit sequence; must be above every earlier one' },
    'chunk-size': { type: 'string', valueName: 'SIZE', description: 'chunk size, e.g. 1MiB (default), 64KiB .. 16MiB' },
    'lifetime-days': { type: 'string', valueName: 'DAYS', description: 'days until the release expires (default: 30)' },
    targets: { type: 'string', valueName: 'C1,C2,…', description: 'only these clusters take the release (default: every machine)' },
    json: { type: 'boolean', description: 'print {"id", "app", "version", "sequence", "size", "chunks", "reportKey", "targets"?} as JSON' }
  },
  async run (args, io) {
    const path = 'vendor publish'
    const testTimeout = integerOption(args, 'test-timeout', path, 1, 86_400)
    const lifetimeDays = integerOption(args, 'lifetime-days', path, 1, 366)
    const sequence = integerOption(args, 'sequence', path, 1, Number.MAX_SAFE_INTEGER)
    const chunkSize = byteSizeOption(args, 'chunk-size', path, MIN_CHUNK_SIZE_BYTES, MAX_CHUNK_SIZE_BYTES)
    const targets = targetsOption(args, path)
    const vendor = await openVendorForCommand(resolve(requiredString(args, 'vendor')), io)
    const release = await vendorPublish({
      vendor,
      app: requiredString(args, 'app'),
      version: requiredString(args, 'version'),
      artifactDir: resolve(requiredString(args, 'artifact')),
      planPath: resolve(requiredString(args, 'plan')),
      ...(typeof args.values['env-spec'] === 'string' ? { envSpecPath: resolve(args.values['env-spec']) } : {}),
      outDir: resolve(requiredString(args, 'out')),
      testCommand: [optionalString(args, 'test') ?? 'mirage-test'],
      testTimeoutMs: testTimeout === undefined ? undefined : testTimeout * 1000,
      sequence,
      chunkSize,
      lifetimeMs: lifetimeDays === undefined ? undefined : lifetimeDays * 86_400_000,
      ...(targets === undefined ? {} : { targets }),
      signal: io.signal
    })
    const { manifest } = release
    if (args.values.json === true) {
      io.stdout.write(`${JSON.stringify({
        id: release.id,
        app: manifest.app,
        version: manifest.version,
        sequence: manifest.sequence,
        size: manifest.artifact.size,
        chunks: manifest.artifact.chunks.length,
        reportKey: manifest.reportKey,
        ...(manifest.targets === undefined ? {} : { targets: manifest.targets })
      })}\n`)
    } else {
      io.stdout.write(`published ${manifest.app} ${manifest.version} (sequence ${manifest.sequence}) as ${release.id}\n` +
        `  ${formatBytes(manifest.artifact.size)} in ${manifest.artifact.chunks.length} chunks, written to ${resolve(requiredString(args, 'out'))}\n` +
        (manifest.targets === undefined ? '' : `  only for clusters ${manifest.targets.join(', ')}\n`))
    }
    return EXIT_OK
  }
}

const seedCommand: Command = {
  kind: 'command',
  name: 'seed',
  summary: 'Seed a release, a cluster map or an override into the swarm: announce it, provide it on the DHT and serve its chunks until stopped.',
  description: 'Runs a node whose identity is the vendor key. If a seed already runs on the config\'s data dir,\nthe release (cluster map, override) is handed to it (no restart) and the command exits at once.\nA cluster map (from `vendor cluster`) moves the machines it covers to its clusters for the releases that follow it.\nAn override (from `vendor halt` or `vendor clear`) is gossiped to every machine of its app.',
  options: {
    vendor: { type: 'string', valueName: 'DIR', description: 'vendor directory (from `vendor init`)', required: true },
    release: { type: 'string', valueName: 'DIR', description: 'release directory (from `vendor publish`)' },
    'cluster-map': { type: 'string', valueName: 'FILE', description: 'signed cluster map (from `vendor cluster`)' },
    override: { type: 'string', valueName: 'FILE', description: 'signed halt or clear (from `vendor halt`, `vendor clear`)' },
    config: { type: 'string', valueName: 'FILE', description: 'node config of the seed (data dir, listen, bootstrap, upload limit)', required: true },
    json: { type: 'boolean', description: 'print JSON lines instead of text' }
  },
  async run (args, io) {
    const release = typeof args.values.release === 'string' ? resolve(args.values.release) : undefined
    const clusterMap = typeof args.values['cluster-map'] === 'string' ? resolve(args.values['cluster-map']) : undefined
    const override = typeof args.values.override === 'string' ? resolve(args.values.override) : undefined
    if (release === undefined && clusterMap === undefined && override === undefined) {
      throw new UsageError('give --release DIR, --cluster-map FILE, --override FILE, or several of them', 'vendor seed')
    }
    const config = await loadNodeConfig(resolve(requiredString(args, 'config')))
    const json = args.values.json === true
    const say = (text: string, value: unknown): void => { io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`) }
    // The map first: it decides the clusters of the release that follows; the override last, about a release the seed then knows.
    const handOvers = [
      ...(clusterMap === undefined ? [] : [{ what: 'the cluster map', route: '/cluster-maps', body: { file: clusterMap } }]),
      ...(release === undefined ? [] : [{ what: 'the release', route: '/releases', body: { dir: release } }]),
      ...(override === undefined ? [] : [{ what: 'the override', route: '/overrides', body: { file: override } }])
    ]
    const handed: Array<{ what: string, answer: unknown }> = []
    for (const { what, route, body } of handOvers) {
      const answer = await callControl(config.dataDir, 'POST', route, body).catch((err: unknown) => {
        if (err instanceof ControlError && err.message.startsWith('no Mirage node')) return undefined
        throw err
      })
      if (answer === undefined) break
      handed.push({ what, answer })
    }
    if (handed.length === handOvers.length) {
      for (const { what, answer } of handed) say(`handed ${what} to the running seed: ${JSON.stringify(answer)}`, answer)
      return EXIT_OK
    }
    const vendor = await openVendorForCommand(resolve(requiredString(args, 'vendor')), io)
    const node = await startMirageNode({ config, seed: { vendorKey: vendor.key, reportInbox: vendorReportsDir(vendor.dir) } })
    try {
      const map = clusterMap === undefined ? undefined : await node.seedClusterMap(clusterMap)
      const seeded = release === undefined ? undefined : await node.seedRelease(release)
      const signed = override === undefined ? undefined : await node.seedOverride(override)
      announceStarted(io, json, node.peerId.toString(), node.multiaddrs())
      if (map !== undefined) say(`seeding cluster map ${map.app} sequence ${map.sequence} (${map.clusters.length} clusters)`, { seedingClusterMap: map.sequence, app: map.app, clusters: map.clusters.length })
      if (seeded !== undefined) say(`seeding ${seeded.manifest.app} ${seeded.manifest.version} (${seeded.id})`, { seeding: seeded.id, app: seeded.manifest.app, version: seeded.manifest.version })
      if (signed !== undefined) {
        say(`seeding ${signed.action} of ${signed.app} release ${signed.releaseId}${signed.clusterId === undefined ? '' : ` cluster ${signed.clusterId}`} (override sequence ${signed.sequence})`,
          { seedingOverride: signed.sequence, app: signed.app, action: signed.action, releaseId: signed.releaseId, ...(signed.clusterId === undefined ? {} : { clusterId: signed.clusterId }) })
      }
      await untilAborted(io.signal)
    } finally {
      await node.stop()
    }
    return EXIT_OK
  }
}

/** `--targets B,C`: cluster names, each once. */
function targetsOption (args: ParsedArgs, path: string): string[] | undefined {
  const text = optionalString(args, 'targets')
  if (text === undefined) return undefined
  const names = text.split(',').map(name => name.trim())
  const seen = new Set<string>()
  for (const name of names) {
    if (!CLUSTER_NAME_PATTERN.test(name)) {
      throw new UsageError(`--targets must be cluster names separated by commas (each 1-64 letters, digits, ".", "_" or "-"), got "${name.slice(0, 70)}"`, path)
    }
    if (seen.has(name)) throw new UsageError(`--targets names cluster "${name}" twice`, path)
    seen.add(name)
  }
  if (names.length > MAX_PLAN_CLUSTERS) throw new UsageError(`--targets names at most ${MAX_PLAN_CLUSTERS} clusters`, path)
  return names
}

export const vendorCommands: CommandGroup = {
  kind: 'group',
  name: 'vendor',
  summary: 'Vendor commands: keys, publishing and seeding releases, the census and its clustering, problem reports, halt and clear.',
  commands: [initCommand, publishCommand, seedCommand, censusCommand, clusterCommand, reportsCommand, haltCommand, clearCommand]
}
