import { readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { inspectSignedRelease, manifestPath, verifyReleaseDir } from '../../release/index.ts'
import { PublicKeyFormatError, publicKeyFromText } from '../../trust/index.ts'
import { VENDOR_PUBLIC_KEY_FILE } from '../../vendor/index.ts'
import { EXIT_FAILURE, EXIT_OK, requiredString } from '../command.ts'
import { UsageError } from '../errors.ts'
import { formatDefects, formatRelease, releaseToJson } from '../release-view.ts'
import type { Command, CommandGroup } from '../command.ts'
import type { Ed25519PublicKey } from '@libp2p/interface'

const verifyCommand: Command = {
  kind: 'command',
  name: 'verify',
  summary: 'Check a release directory: signature by the vendor key, manifest and plan, expiry, every chunk.',
  description: 'Exits 0 when the release is good, 1 naming every defect found.',
  positionals: [{ name: 'RELEASE_DIR', description: 'release directory written by `vendor publish`' }],
  options: {
    'vendor-key': { type: 'string', valueName: 'KEY', description: 'the vendor public key (12D3KooW…), a file holding it, or a vendor directory', required: true },
    json: { type: 'boolean', description: 'print {"ok", "release", "defects"} as JSON' }
  },
  async run (args, io) {
    const dir = resolve(args.positionals[0] ?? '')
    const vendorKey = await readVendorKey(requiredString(args, 'vendor-key'))
    const check = await verifyReleaseDir(dir, { trust: vendorKey })
    const ok = check.defects.length === 0
    if (args.values.json === true) {
      io.stdout.write(`${JSON.stringify({ ok, release: check.release === undefined ? null : releaseToJson(check.release), defects: check.defects })}\n`)
    } else if (ok && check.release !== undefined) {
      const m = check.release.manifest
      io.stdout.write(`OK ${dir}: ${m.app} ${m.version} (sequence ${m.sequence}), signed by the vendor key, plan valid, ${m.artifact.chunks.length} chunks verified\n`)
    } else {
      io.stderr.write(formatDefects(dir, check.defects))
    }
    return ok ? EXIT_OK : EXIT_FAILURE
  }
}

const showCommand: Command = {
  kind: 'command',
  name: 'show',
  summary: 'Show a release: identity, artifact, test and rollout plan.',
  description: 'Checks that the manifest is well-formed and validly signed, but not by whom: use `release verify` for that.',
  positionals: [{ name: 'RELEASE_DIR', description: 'release directory, or its manifest.cbor' }],
  options: {
    json: { type: 'boolean', description: 'print the manifest as JSON' }
  },
  async run (args, io) {
    const target = resolve(args.positionals[0] ?? '')
    const file = (await stat(target)).isDirectory() ? manifestPath(target) : target
    const release = await inspectSignedRelease(await readFile(file))
    io.stdout.write(args.values.json === true ? `${JSON.stringify(releaseToJson(release), null, 2)}\n` : formatRelease(release))
    return EXIT_OK
  }
}

/** The key as text, a file holding it, or a vendor directory holding vendor.pub. */
async function readVendorKey (value: string): Promise<Ed25519PublicKey> {
  try {
    return publicKeyFromText(value)
  } catch (err) {
    if (!(err instanceof PublicKeyFormatError)) throw err
    const info = await stat(value).catch(() => undefined)
    if (info === undefined) {
      throw new UsageError(`--vendor-key: ${err.message}, nor a file or vendor directory`, 'release verify', { cause: err })
    }
    const file = info.isDirectory() ? join(value, VENDOR_PUBLIC_KEY_FILE) : value
    try {
      return publicKeyFromText(await readFile(file, 'utf8'))
    } catch (inner) {
      throw new UsageError(`--vendor-key: ${file} does not hold a vendor public key`, 'release verify', { cause: inner })
    }
  }
}

export const releaseCommands: CommandGroup = {
  kind: 'group',
  name: 'release',
  summary: 'Inspect and verify releases.',
  commands: [verifyCommand, showCommand]
}
