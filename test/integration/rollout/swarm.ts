import { createHash, randomBytes } from 'node:crypto'
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { parsePlanJson, publishRelease } from '../../../src/release/index.ts'
import { DEFAULT_MAX_CONNECTIONS, startMirageNode } from '../../../src/node/index.ts'
import { freePort } from '../../../src/scenario/run-swarm.ts'
import { initVendorDir, vendorReportsDir } from '../../../src/vendor/index.ts'
import type { AppConfig, MirageNode, NodeConfig, NodeStatus, ReleaseStatus } from '../../../src/node/index.ts'
import type { VerifiedRelease } from '../../../src/release/index.ts'
import type { VendorDir } from '../../../src/vendor/index.ts'
import type { ClusterSpec } from '../../../src/env/index.ts'
import type { ShippedEnvSpec } from '../../../src/release/index.ts'

export const APP = 'webshop'

/** Where swarms live: outside the sandbox's private /tmp (see `Swarm.create`). */
const SWARM_PARENT_DIR = process.env.MIRAGE_SWARM_DIR ?? (process.platform === 'linux' ? '/var/tmp' : tmpdir())

export interface MachineSpec {
  name: string
  /** The cluster by explicit name; ignored when `environment` is given. */
  cluster: string
  /** The cluster from the machine's environment instead (a spec and a root dir). */
  environment?: ClusterSpec
  role?: 'auto' | 'representative' | 'follower'
  testEnv?: Record<string, string>
  /** The owner's acceptance tests (run after the vendor's, and as the health check after install). */
  tests?: AppConfig['tests']
  /** Literal secrets to redact from this machine's problem reports. */
  secrets?: string[]
}

export interface Machine {
  spec: MachineSpec
  config: NodeConfig
  node?: MirageNode
}

/**
 * The release's test: it fails where the machine's php.ini (named by the
 * owner's testEnv) still has legacy mode on, as a real upgrade would break
 * on an environment the vendor never saw, unless the release ships
 * share/supports-legacy (a fixed release); it hangs where HANG is set (a
 * machine the upgrade froze), and takes SLOW seconds where that is set.
 */
const TEST_SCRIPT = `#!/bin/sh
if [ -n "$HANG" ]; then sleep 600; fi
if [ -n "$SLOW" ]; then sleep "$SLOW"; fi
if [ -n "$PHP_INI" ] && [ ! -r "$PHP_INI" ]; then
  echo "webshop: cannot read $PHP_INI" >&2
  exit 5
fi
if [ -n "$PHP_INI" ] && grep -q '^legacy = on' "$PHP_INI" && [ ! -f "$(dirname "$0")/share/supports-legacy" ]; then
  echo "webshop: legacy mode is not supported any more; configuration follows" >&2
  cat "$PHP_INI" >&2
  exit 3
fi
test -f "$(dirname "$0")/share/catalog.bin" || exit 4
echo "webshop: self-test passed"
`

/**
 * A local swarm for integration tests: a vendor, a seed serving one
 * release, and machines as real in-process libp2p nodes on 127.0.0.1, each
 * with its own data and install dirs. Owns start and teardown.
 */
export class Swarm {
  readonly work: string
  readonly vendor: VendorDir
  readonly artifactDir: string
  readonly machines = new Map<string, Machine>()
  seed?: MirageNode
  release?: VerifiedRelease

  private constructor (work: string, vendor: VendorDir, artifactDir: string) {
    this.work = work
    this.vendor = vendor
    this.artifactDir = artifactDir
  }

  static async create (artifactBytes = 4 * 1024 * 1024): Promise<Swarm> {
    // Not under /tmp: a sandboxed test gets a fresh /tmp, and the machines'
    // files (the php.ini a test reads) must stay visible to it, as /etc is.
    const work = await mkdtemp(join(SWARM_PARENT_DIR, 'mirage-swarm-'))
    const vendor = await initVendorDir(join(work, 'vendor'))
    const artifactDir = join(work, 'artifact')
    await mkdir(join(artifactDir, 'share'), { recursive: true })
    await writeFile(join(artifactDir, 'share', 'catalog.bin'), randomBytes(artifactBytes))
    await writeFile(join(artifactDir, 'mirage-test'), TEST_SCRIPT)
    await chmod(join(artifactDir, 'mirage-test'), 0o755)
    return new Swarm(work, vendor, artifactDir)
  }

  /** Publishes the release (chunks of 256 KiB, so even small artifacts have many) and starts the seed. */
  async seedRelease (plan: Record<string, unknown>, options: { testTimeoutMs?: number, seedUploadBytesPerSecond?: number, envSpec?: ShippedEnvSpec } = {}): Promise<VerifiedRelease> {
    const releaseDir = join(this.work, 'release')
    this.release = await publishRelease({
      app: APP,
      version: '2.0.0',
      sequence: 1,
      artifactDir: this.artifactDir,
      test: { command: ['mirage-test'], timeoutMs: options.testTimeoutMs ?? 30_000 },
      plan: parsePlanJson(JSON.stringify(plan)),
      ...(options.envSpec === undefined ? {} : { envSpec: options.envSpec }),
      reportKey: this.vendor.reportPublicKeyText,
      key: this.vendor.key,
      outDir: releaseDir,
      chunkSize: 256 * 1024
    })
    const seed = await this.startSeed(options.seedUploadBytesPerSecond)
    await seed.seedRelease(releaseDir)
    return this.release
  }

  /**
   * Publishes a further release of the app without seeding it: `files` are
   * added to (or, with null, removed from) a copy of the artifact tree.
   */
  async publish (init: { version: string, sequence: number, plan: Record<string, unknown>, files?: Record<string, string | null>, targets?: string[], testTimeoutMs?: number }): Promise<{ release: VerifiedRelease, dir: string }> {
    const tree = join(this.work, `artifact-${init.version}`)
    await cp(this.artifactDir, tree, { recursive: true })
    for (const [path, content] of Object.entries(init.files ?? {})) {
      if (content === null) await rm(join(tree, path), { force: true })
      else await writeFile(join(tree, path), content)
    }
    const dir = join(this.work, `release-${init.version}`)
    const release = await publishRelease({
      app: APP,
      version: init.version,
      sequence: init.sequence,
      artifactDir: tree,
      test: { command: ['mirage-test'], timeoutMs: init.testTimeoutMs ?? 30_000 },
      plan: parsePlanJson(JSON.stringify(init.plan)),
      ...(init.targets === undefined ? {} : { targets: init.targets }),
      reportKey: this.vendor.reportPublicKeyText,
      key: this.vendor.key,
      outDir: dir,
      chunkSize: 256 * 1024
    })
    return { release, dir }
  }

  /**
   * The vendor's seed, which every machine bootstraps from. It listens on
   * one port for the swarm's life, so a seed stopped and started again
   * (a vendor that went offline) is found where the machines knew it.
   */
  async startSeed (uploadBytesPerSecond = 0): Promise<MirageNode> {
    this.#seedPort ??= await freePort()
    this.seed ??= await startMirageNode({
      config: { ...this.#config('seed', {}, uploadBytesPerSecond), listen: [`/ip4/127.0.0.1/tcp/${this.#seedPort}`] },
      seed: { vendorKey: this.vendor.key, reportInbox: vendorReportsDir(this.vendor.dir) }
    })
    return this.seed
  }

  /** Stops the seed (the vendor goes offline); `startSeed` brings it back with its store. */
  async stopSeed (): Promise<void> {
    await this.seed?.stop()
    delete this.seed
  }

  /** Starts (or restarts) a machine; it bootstraps from the seed. */
  async start (spec: MachineSpec): Promise<Machine> {
    let machine = this.machines.get(spec.name)
    if (machine === undefined) {
      const dir = join(this.work, 'machines', spec.name)
      const apps = {
        [APP]: {
          vendorKeys: [this.vendor.publicKeyText],
          installDir: join(dir, 'install'),
          cluster: spec.environment ?? { name: spec.cluster },
          role: spec.role ?? 'auto',
          uploadBytesPerSecond: 0,
          testEnv: spec.testEnv ?? {},
          tests: spec.tests ?? [],
          // 'auto': bubblewrap where it runs, as on an owner's machine.
          sandbox: 'auto' as const,
          allowNetwork: false,
          secrets: spec.secrets ?? [],
          reports: true
        }
      }
      machine = { spec, config: this.#config(join('machines', spec.name), apps, 0) }
      this.machines.set(spec.name, machine)
    }
    machine.node = await startMirageNode({ config: machine.config })
    return machine
  }

  async stop (name: string): Promise<void> {
    const machine = this.machines.get(name)
    await machine?.node?.stop()
    if (machine !== undefined) delete machine.node
  }

  async releaseStatus (name: string): Promise<ReleaseStatus | undefined> {
    const status: NodeStatus | undefined = await this.machines.get(name)?.node?.status()
    return status?.apps[0]?.releases.find(r => r.id === this.release?.id)
  }

  /** A machine's status for the release of `version` (of any release the machine knows). */
  async versionStatus (name: string, version: string): Promise<ReleaseStatus | undefined> {
    const status: NodeStatus | undefined = await this.machines.get(name)?.node?.status()
    return status?.apps[0]?.releases.find(r => r.version === version)
  }

  /** The version the machine's `current` link points at (its install dir), or undefined. */
  async currentVersion (name: string): Promise<string | undefined> {
    const machine = this.machines.get(name)
    if (machine === undefined) return undefined
    const target = await readlink(join(machine.config.apps[APP]?.installDir ?? '', 'current')).catch(() => undefined)
    return target?.replace(/^versions\//, '').replace(/-[^-]+$/, '')
  }

  async describe (): Promise<string> {
    const lines: string[] = []
    for (const [name, machine] of this.machines) {
      const releases = machine.node === undefined ? [] : (await machine.node.status()).apps[0]?.releases ?? []
      if (releases.length === 0) lines.push(`${name} (${machine.spec.cluster}): stopped or no release`)
      for (const r of releases) {
        lines.push(`${name} (${machine.spec.cluster}) ${r.version}: ${r.state} ${r.role} chunks ${r.chunksHeld}/${r.chunksTotal}: ${r.reason} | engine ${r.gate.action}: ${r.gate.reason}`)
      }
    }
    return lines.join('\n')
  }

  async teardown (): Promise<void> {
    await Promise.allSettled([...this.machines.values()].map(async m => m.node?.stop()))
    await this.seed?.stop()
    await rm(this.work, { recursive: true, force: true })
  }

  #seedPort?: number

  #config (relativeDir: string, apps: NodeConfig['apps'], uploadBytesPerSecond: number): NodeConfig {
    const seedAddress = this.#seedPort === undefined ? undefined : `/ip4/127.0.0.1/tcp/${this.#seedPort}/p2p/${peerIdFromPrivateKey(this.vendor.key).toString()}`
    return {
      file: join(this.work, relativeDir, 'config.json'),
      dataDir: join(this.work, relativeDir, 'data'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: seedAddress === undefined ? [] : [seedAddress],
      apps,
      announceIntervalMs: 5_000,
      syncIntervalMs: 3_000,
      uploadBytesPerSecond,
      maxConnections: DEFAULT_MAX_CONNECTIONS
    }
  }
}

/** Gossipsub's score of a peer, as a node sees it (the implementation has it; the interface hides it). */
export function scoreOf (libp2p: MirageNode['libp2p'], peer: string): number {
  return (libp2p.services.pubsub as unknown as { getScore(id: string): number }).getScore(peer)
}

/** Path → sha256 of every file, and link targets, under a tree: equal maps mean identical trees. */
export async function treeDigest (root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      const key = relative(root, path)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isSymbolicLink()) out.set(key, `link:${await readlink(path)}`)
      else out.set(key, createHash('sha256').update(await readFile(path)).digest('hex'))
    }
  }
  await walk(root)
  return out
}
