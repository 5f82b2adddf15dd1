import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { CLUSTER_NAME_PATTERN } from '../release/index.ts'
import { APP_NAME_PATTERN, publicKeyFromText } from '../trust/index.ts'
import { ConfigError } from './errors.ts'
import { checkResources } from '../env/index.ts'
import { createRedactor } from '../report/index.ts'
import { SANDBOX_MODES } from '../testing/index.ts'
import type { SandboxMode } from '../testing/index.ts'
import type { ClusterSpec } from '../env/index.ts'

/**
 * How often a node re-announces its cluster membership on the DHT (besides
 * at start). Provider records live 48 h; re-announcing reaches peers that
 * joined among the closest since. Each announcement is a DHT query plus 20
 * stores, so every minute was too often for a swarm on one small machine.
 */
export const DEFAULT_ANNOUNCE_INTERVAL_MS = 300_000
/** How often a node asks a random peer for what it missed (anti-entropy; gossip is not storage). */
export const DEFAULT_SYNC_INTERVAL_MS = 30_000
/** libp2p's own default: a node of a large swarm is connected to part of it, and gossip, the DHT and sync work over that part. */
export const DEFAULT_MAX_CONNECTIONS = 300
/** Fewer than this and a node could hardly take part in gossip (its mesh wants 6 peers) and the DHT. */
export const MIN_MAX_CONNECTIONS = 8
/** Longest an owner's acceptance test may run (one hour). */
export const MAX_TEST_TIMEOUT_MS = 3_600_000

export interface AppConfig {
  /** Vendor public keys trusted to sign this app's releases. */
  vendorKeys: string[]
  /** Where versions are installed; `current` points at the live one. */
  installDir: string
  cluster: ClusterSpec
  role: 'auto' | 'representative' | 'follower'
  /** 0 means unlimited. */
  uploadBytesPerSecond: number
  /**
   * Environment given to the release's test on this machine, besides
   * MIRAGE_APP, MIRAGE_CLUSTER and MIRAGE_INSTALL_DIR: where the app's
   * configuration lives, say, so the vendor's test exercises this machine.
   */
  testEnv: Record<string, string>
  /**
   * Opt in to the vendor's census (issue 4 item 5): the node sends this
   * app's salted fingerprint (facts as salted hashes, never values) to the
   * seed of each trusted vendor key, which clusters its machines. Off unless
   * the owner says so: it tells the vendor that this machine exists.
   */
  census?: boolean
  /**
   * The owner's own acceptance tests (Mirage's point: the user's workload is
   * the best test). Run after the vendor's test against the staged version,
   * and by followers against the live install right after switching.
   */
  tests: AcceptanceTest[]
  /**
   * How tests are contained: `auto` uses bubblewrap where it runs (and says
   * so when it does not), `require` refuses to test without it, `off` never
   * sandboxes.
   */
  sandbox: SandboxMode
  /** Whether a test that asks for the network may have it (default no). */
  allowNetwork: boolean
  /** Literal values redacted from problem reports before they leave the machine (besides common secret patterns). */
  secrets: string[]
  /** Send problem reports (sealed to the vendor) when a test fails here (default yes). */
  reports: boolean
}

/** One of the owner's acceptance tests. */
export interface AcceptanceTest {
  name: string
  /** argv; a program by absolute path or on PATH, run in the staged version (and, as the health check, in the live version's directory). */
  command: string[]
  timeoutMs: number
  /** The test needs the network (granted only with `allowNetwork`). */
  network: boolean
}

export interface NodeConfig {
  /** Absolute path of the config file, for messages. */
  file: string
  dataDir: string
  listen: string[]
  bootstrap: string[]
  apps: Record<string, AppConfig>
  announceIntervalMs: number
  syncIntervalMs: number
  /** Node-wide upload limit for chunks, bytes per second; 0 means the apps' limits decide. */
  uploadBytesPerSecond: number
  /** Connections the node keeps open at most; above it libp2p prunes the least valuable and refuses new inbound ones. */
  maxConnections: number
}

const multiaddrText = z.string().refine(text => { try { multiaddr(text); return true } catch { return false } }, 'is not a multiaddr')
const keyText = z.string().refine(text => { try { publicKeyFromText(text); return true } catch { return false } }, 'is not an Ed25519 public key (12D3KooW…)')

const appSchema = z.strictObject({
  vendorKeys: z.array(keyText).min(1, 'needs at least one trusted vendor key'),
  installDir: z.string().min(1),
  cluster: z.strictObject({
    name: z.string().regex(CLUSTER_NAME_PATTERN, 'must be 1-64 letters, digits, ".", "_" or "-"').optional(),
    files: z.array(z.string().min(1)).max(1000).optional(),
    env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not an environment variable name')).max(1000).optional(),
    spec: z.string().min(1).optional(),
    resources: z.array(z.unknown()).max(1000).superRefine((resources, ctx) => {
      try {
        checkResources(resources, 'resources')
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^resources: /, '') })
      }
    }).optional(),
    root: z.string().min(1).optional()
  }).default({}),
  role: z.enum(['auto', 'representative', 'follower']).default('auto'),
  uploadBytesPerSecond: z.int().min(0).default(0),
  testEnv: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not an environment variable name'), z.string().max(4096)).default({}),
  census: z.boolean().optional(),
  tests: z.array(z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$/, 'must be 1-64 letters, digits, spaces, ".", "_" or "-"'),
    command: z.array(z.string().min(1).max(4096)).min(1, 'needs a program').max(256),
    timeoutMs: z.int().min(100).max(MAX_TEST_TIMEOUT_MS),
    network: z.boolean().default(false)
  })).max(32).refine(tests => new Set(tests.map(t => t.name)).size === tests.length, 'test names must be unique').default([]),
  sandbox: z.enum(SANDBOX_MODES).default('auto'),
  allowNetwork: z.boolean().default(false),
  secrets: z.array(z.string()).max(256).superRefine((secrets, ctx) => {
    try {
      createRedactor(secrets)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
    }
  }).default([]),
  reports: z.boolean().default(true)
})

const configSchema = z.strictObject({
  dataDir: z.string().min(1),
  listen: z.array(multiaddrText).min(1).default(['/ip4/127.0.0.1/tcp/0']),
  bootstrap: z.array(multiaddrText.refine(text => text.includes('/p2p/'), 'must end in /p2p/<peer id>')).default([]),
  apps: z.record(z.string().regex(APP_NAME_PATTERN, 'app names are lowercase letters, digits, ".", "_" or "-"'), appSchema).default({}),
  announceIntervalMs: z.int().min(1_000).default(DEFAULT_ANNOUNCE_INTERVAL_MS),
  syncIntervalMs: z.int().min(1_000).default(DEFAULT_SYNC_INTERVAL_MS),
  uploadBytesPerSecond: z.int().min(0).default(0),
  maxConnections: z.int().min(MIN_MAX_CONNECTIONS).max(100_000).default(DEFAULT_MAX_CONNECTIONS)
})

/** Parses a config (JSON text); relative paths are taken from the config file's folder. */
export function parseNodeConfig (text: string, file: string): NodeConfig {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ConfigError('', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = (issue?.path ?? []).map((part, i) => typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`).join('')
    const message = issue?.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map(k => `"${k}"`).join(', ')}` : (issue?.message ?? 'invalid')
    throw new ConfigError(path, message)
  }
  const base = dirname(resolve(file))
  const config = parsed.data
  const apps: Record<string, AppConfig> = {}
  for (const [app, appConfig] of Object.entries(config.apps)) {
    apps[app] = {
      ...appConfig,
      installDir: resolve(base, appConfig.installDir),
      cluster: clusterSpecOf(appConfig.cluster, base)
    }
  }
  return { ...config, file: resolve(file), dataDir: resolve(base, config.dataDir), apps }
}

export async function loadNodeConfig (file: string): Promise<NodeConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError('', `cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  return parseNodeConfig(text, file)
}

/** The cluster section with its paths made absolute (relative to the config file) and resources checked. */
function clusterSpecOf (cluster: z.output<typeof appSchema>['cluster'], base: string): ClusterSpec {
  const { files, spec, root, resources, ...rest } = cluster
  return {
    ...rest,
    ...(files === undefined ? {} : { files: files.map(f => resolve(base, f)) }),
    ...(spec === undefined ? {} : { spec: resolve(base, spec) }),
    ...(root === undefined ? {} : { root: resolve(base, root) }),
    ...(resources === undefined ? {} : { resources: checkResources(resources, 'resources') })
  }
}
