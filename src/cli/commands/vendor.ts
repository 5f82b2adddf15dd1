import { resolve } from 'node:path'
import { MAX_CHUNK_SIZE_BYTES, MIN_CHUNK_SIZE_BYTES } from '../../content/index.ts'
import { callControl, ControlError, loadNodeConfig, startMirageNode } from '../../node/index.ts'
import { initVendorDir, openVendorDir, vendorPublish } from '../../vendor/index.ts'
import { UsageError } from '../errors.ts'
import { EXIT_OK, byteSizeOption, integerOption, optionalString, requiredString } from '../command.ts'
import { formatBytes } from '../release-view.ts'
import { announceStarted, untilAborted } from './node.ts'
import { censusCommand, clusterCommand } from './vendor-cluster.ts'
import type { Command, CommandGroup } from '../command.ts'

const initCommand: Command = {
  kind: 'command',
  name: 'init',
  summary: 'Create a vendor: an Ed25519 signing key pair in a directory; prints the public key.',
  description: 'Machine owners put the printed public key in their node config to trust this vendor\'s releases.\nThe private key is written with mode 0600 and never overwritten.',
  options: {
    dir: { type: 'string', valueName: 'DIR', description: 'vendor directory to create', required: true },
    json: { type: 'boolean', description: 'print {"dir", "publicKey"} as JSON' }
  },
  async run (args, io) {
    const vendor = await initVendorDir(resolve(requiredString(args, 'dir')))
    if (args.values.json === true) {
      io.stdout.write(`${JSON.stringify({ dir: vendor.dir, publicKey: vendor.publicKeyText })}\n`)
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
  description: 'Writes OUT/manifest.cbor (the signed manifest) and OUT/chunks/ (the artifact\'s chunks).\nThe sequence is one more than the last release of the app published from this vendor directory.',
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
    json: { type: 'boolean', description: 'print {"id", "app", "version", "sequence", "size", "chunks"} as JSON' }
  },
  async run (args, io) {
    const path = 'vendor publish'
    const testTimeout = integerOption(args, 'test-timeout', path, 1, 86_400)
    const lifetimeDays = integerOption(args, 'lifetime-days', path, 1, 366)
    const sequence = integerOption(args, 'sequence', path, 1, Number.MAX_SAFE_INTEGER)
    const chunkSize = byteSizeOption(args, 'chunk-size', path, MIN_CHUNK_SIZE_BYTES, MAX_CHUNK_SIZE_BYTES)
    const vendor = await openVendorDir(resolve(requiredString(args, 'vendor')))
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
      signal: io.signal
    })
    const { manifest } = release
    if (args.values.json === true) {
      io.stdout.write(`${JSON.stringify({ id: release.id, app: manifest.app, version: manifest.version, sequence: manifest.sequence, size: manifest.artifact.size, chunks: manifest.artifact.chunks.length })}\n`)
    } else {
      io.stdout.write(`published ${manifest.app} ${manifest.version} (sequence ${manifest.sequence}) as ${release.id}\n` +
        `  ${formatBytes(manifest.artifact.size)} in ${manifest.artifact.chunks.length} chunks, written to ${resolve(requiredString(args, 'out'))}\n`)
    }
    return EXIT_OK
  }
}

const seedCommand: Command = {
  kind: 'command',
  name: 'seed',
  summary: 'Seed a release or a cluster map into the swarm: announce it, provide it on the DHT and serve its chunks until stopped.',
  description: 'Runs a node whose identity is the vendor key. If a seed already runs on the config\'s data dir,\nthe release (or cluster map) is handed to it (no restart) and the command exits at once.\nA cluster map (from `vendor cluster`) moves the machines it covers to its clusters for the releases that follow it.',
  options: {
    vendor: { type: 'string', valueName: 'DIR', description: 'vendor directory (from `vendor init`)', required: true },
    release: { type: 'string', valueName: 'DIR', description: 'release directory (from `vendor publish`)' },
    'cluster-map': { type: 'string', valueName: 'FILE', description: 'signed cluster map (from `vendor cluster`)' },
    config: { type: 'string', valueName: 'FILE', description: 'node config of the seed (data dir, listen, bootstrap, upload limit)', required: true },
    json: { type: 'boolean', description: 'print JSON lines instead of text' }
  },
  async run (args, io) {
    const release = typeof args.values.release === 'string' ? resolve(args.values.release) : undefined
    const clusterMap = typeof args.values['cluster-map'] === 'string' ? resolve(args.values['cluster-map']) : undefined
    if (release === undefined && clusterMap === undefined) throw new UsageError('give --release DIR, --cluster-map FILE, or both', 'vendor seed')
    const config = await loadNodeConfig(resolve(requiredString(args, 'config')))
    const json = args.values.json === true
    const say = (text: string, value: unknown): void => { io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`) }
    // The map first: it decides the clusters of the release that follows.
    const handOver = async (path: string, body: unknown): Promise<unknown> => callControl(config.dataDir, 'POST', path, body).catch((err: unknown) => {
      if (err instanceof ControlError && err.message.startsWith('no Mirage node')) return undefined
      throw err
    })
    const mapHanded = clusterMap === undefined ? undefined : await handOver('/cluster-maps', { file: clusterMap })
    if (clusterMap === undefined || mapHanded !== undefined) {
      const releaseHanded = release === undefined ? undefined : await handOver('/releases', { dir: release })
      if (release === undefined || releaseHanded !== undefined) {
        if (mapHanded !== undefined) say(`handed the cluster map to the running seed: ${JSON.stringify(mapHanded)}`, mapHanded)
        if (releaseHanded !== undefined) say(`handed the release to the running seed: ${JSON.stringify(releaseHanded)}`, releaseHanded)
        return EXIT_OK
      }
    }
    const vendor = await openVendorDir(resolve(requiredString(args, 'vendor')))
    const node = await startMirageNode({ config, seed: { vendorKey: vendor.key } })
    try {
      const map = clusterMap === undefined ? undefined : await node.seedClusterMap(clusterMap)
      const seeded = release === undefined ? undefined : await node.seedRelease(release)
      announceStarted(io, json, node.peerId.toString(), node.multiaddrs())
      if (map !== undefined) say(`seeding cluster map ${map.app} sequence ${map.sequence} (${map.clusters.length} clusters)`, { seedingClusterMap: map.sequence, app: map.app, clusters: map.clusters.length })
      if (seeded !== undefined) say(`seeding ${seeded.manifest.app} ${seeded.manifest.version} (${seeded.id})`, { seeding: seeded.id, app: seeded.manifest.app, version: seeded.manifest.version })
      await untilAborted(io.signal)
    } finally {
      await node.stop()
    }
    return EXIT_OK
  }
}

export const vendorCommands: CommandGroup = {
  kind: 'group',
  name: 'vendor',
  summary: 'Vendor commands: keys, publishing and seeding releases, the census and its clustering.',
  commands: [initCommand, publishCommand, seedCommand, censusCommand, clusterCommand]
}
