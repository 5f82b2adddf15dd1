import { resolve } from 'node:path'
import { callControl, ControlError, loadNodeConfig } from '../../node/index.ts'
import { CLUSTER_NAME_PATTERN } from '../../release/index.ts'
import { issueOverride, resolveReleaseRef } from '../../vendor/index.ts'
import { EXIT_OK, optionalString, requiredString } from '../command.ts'
import { UsageError } from '../errors.ts'
import { openVendorForCommand } from './vendor-open.ts'
import type { Command } from '../command.ts'

type OverrideAction = 'halt' | 'clear'

const DESCRIPTIONS: Record<OverrideAction, { summary: string, description: string }> = {
  halt: {
    summary: 'Halt a release in flight: no machine installs it any more (every cluster, or one with --cluster).',
    description: 'Signs a halt with the vendor key and the next override sequence of the app (VENDOR/overrides.json), writes it to\n' +
      'VENDOR/overrides/APP-SEQUENCE-halt.cbor and hands it to the seed running on the config\'s data dir, which gossips it.\n' +
      'Machines that installed the release keep it; the rest stop where they are. `vendor clear` lifts it.'
  },
  clear: {
    summary: 'Clear a release in flight: machines disregard the failures reported so far (every cluster, or one with --cluster).',
    description: 'Signs a clear with the vendor key and the next override sequence of the app (VENDOR/overrides.json), writes it to\n' +
      'VENDOR/overrides/APP-SEQUENCE-clear.cbor and hands it to the seed running on the config\'s data dir, which gossips it.\n' +
      'Use it when the failures were not the release\'s fault (e.g. a broken test machine); it also lifts an earlier halt.'
  }
}

function overrideCommand (action: OverrideAction): Command {
  const path = `vendor ${action}`
  return {
    kind: 'command',
    name: action,
    ...DESCRIPTIONS[action],
    options: {
      vendor: { type: 'string', valueName: 'DIR', description: 'vendor directory (from `vendor init`)', required: true },
      release: { type: 'string', valueName: 'DIR|ID', description: 'the release: its directory (from `vendor publish`) or its id (bafy…, with --app)', required: true },
      app: { type: 'string', valueName: 'NAME', description: 'application name (needed with a release id)' },
      cluster: { type: 'string', valueName: 'C', description: 'only this cluster (default: every cluster of the release)' },
      reason: { type: 'string', valueName: 'TEXT', description: 'one line telling machine owners why (at most 500 characters)' },
      config: { type: 'string', valueName: 'FILE', description: 'node config of the vendor\'s seed (its data dir)', required: true },
      json: { type: 'boolean', description: 'print the result as one JSON document' }
    },
    async run (args, io) {
      const cluster = optionalString(args, 'cluster')
      if (cluster !== undefined && !CLUSTER_NAME_PATTERN.test(cluster)) {
        throw new UsageError(`--cluster must be a cluster name (1-64 letters, digits, ".", "_" or "-", starting with a letter or digit), got "${cluster.slice(0, 70)}"`, path)
      }
      const reason = optionalString(args, 'reason')
      const configPath = resolve(requiredString(args, 'config'))
      // The config first: a bad one must not cost an override sequence.
      const config = await loadNodeConfig(configPath)
      const vendorPath = resolve(requiredString(args, 'vendor'))
      const vendor = await openVendorForCommand(vendorPath, io)
      const issued = await asUsage(path, async () => {
        const release = await resolveReleaseRef(vendor, requiredString(args, 'release'), optionalString(args, 'app'))
        const result = await issueOverride(vendor, {
          app: release.app,
          releaseId: release.releaseId,
          ...(cluster === undefined ? {} : { clusterId: cluster }),
          action,
          ...(reason === undefined ? {} : { reason })
        })
        return { ...result, version: release.version }
      })
      const { override, file } = issued
      const seed = await callControl(config.dataDir, 'POST', '/overrides', { file }).catch((err: unknown) => {
        if (err instanceof ControlError && err.message.startsWith('no Mirage node')) return undefined
        throw err
      })
      const hint = `mirage vendor seed --vendor ${vendorPath} --override ${file} --config ${configPath}`
      if (args.values.json === true) {
        io.stdout.write(`${JSON.stringify({
          action,
          app: override.app,
          releaseId: override.releaseId,
          ...(issued.version === undefined ? {} : { version: issued.version }),
          ...(override.clusterId === undefined ? {} : { clusterId: override.clusterId }),
          sequence: override.sequence,
          issuedAt: new Date(override.issuedAt).toISOString(),
          ...(override.reason === undefined ? {} : { reason: override.reason }),
          file,
          seeded: seed !== undefined,
          ...(seed === undefined ? { hint } : { seed })
        })}\n`)
        return EXIT_OK
      }
      const release = `${override.app}${issued.version === undefined ? '' : ` ${issued.version}`} (${override.releaseId})`
      const scope = override.clusterId === undefined ? 'every cluster' : `cluster ${override.clusterId}`
      io.stdout.write(`signed ${action} of ${release} for ${scope}, override sequence ${override.sequence}\n  written to ${file}\n`)
      if (seed !== undefined) {
        io.stdout.write(`handed it to the running seed, which gossips it: ${JSON.stringify(seed)}\n`)
      } else {
        io.stdout.write(`no seed is running on ${config.dataDir}: the ${action} is not in the swarm yet. Seed it with:\n  ${hint}\n`)
      }
      return EXIT_OK
    }
  }
}

/** The vendor area's override errors are all about the arguments given: show them as usage errors (exit 2). */
async function asUsage<T> (path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if ((err as Error).name === 'VendorOverrideError') throw new UsageError((err as Error).message, path, { cause: err })
    throw err
  }
}

export const haltCommand = overrideCommand('halt')
export const clearCommand = overrideCommand('clear')
