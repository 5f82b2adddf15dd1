/**
 * The real nodes of a scenario run: the vendor's seed (always in this
 * process: the runner plays the vendor) and the machines, either in this
 * process (`startMirageNode`, spread over one worker thread per core unless
 * told otherwise) or each as its own `mirage node start` process, as on real
 * machines. Either way the runner starts, stops and
 * restarts them (churn, late joiners, the vendor offline) and reads their
 * status the same way; `stopAll` leaves nothing running.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { logger } from '@libp2p/logger'
import { callControl, DEFAULT_ANNOUNCE_INTERVAL_MS, DEFAULT_MAX_CONNECTIONS, startMirageNode } from '../node/index.ts'
import type { AppConfig, MirageNode, NodeConfig, NodeProgress, NodeStatus } from '../node/index.ts'
import type { VendorDir } from '../vendor/index.ts'
import { MachineThreads, defaultMachineThreads } from './machine-threads.ts'

const log = logger('mirage:scenario:swarm')

const ENTRY = new URL('../../bin/mirage.ts', import.meta.url).pathname
/** How long a machine process may take to stop on SIGTERM before it is killed. */
const PROCESS_STOP_GRACE_MS = 15_000
/** How long a machine process may take to answer on its control socket after it started. */
const PROCESS_START_TIMEOUT_MS = 60_000

export type MachineRunner = 'in-process' | 'processes'

export interface SwarmMachine {
  id: string
  cluster: string
  /** Its own directory: data, install and environment. */
  dir: string
  /** The environment its tests read (`MIRAGE_ENV_DIR`). */
  envDir: string
}

interface Running {
  node?: MirageNode
  /** Hosted by the runner's worker threads. */
  threaded?: true
  child?: ChildProcess
  exited?: Promise<void>
}

export interface ScenarioSwarmInit {
  runner: MachineRunner
  app: string
  vendor: VendorDir
  /** Where the seed keeps its data. */
  seedDir: string
  /** Node config knobs shared by every machine (intervals). */
  announceIntervalMs?: number
  syncIntervalMs?: number
  /** Each machine's connection cap (see inProcessConnectionCap), not the seed's; the node's default when absent. */
  maxConnections?: number
  /**
   * In-process only: worker threads the machines are spread over (default
   * one per core); 0 runs them all on this thread's event loop.
   */
  threads?: number
}

export class ScenarioSwarm {
  readonly #init: ScenarioSwarmInit
  readonly #threads: MachineThreads | undefined
  readonly #running = new Map<string, Running>()
  readonly #machines = new Map<string, SwarmMachine>()
  #seed?: MirageNode
  #seedPort?: number

  constructor (init: ScenarioSwarmInit) {
    this.#init = init
    const threads = init.threads ?? defaultMachineThreads()
    this.#threads = init.runner === 'in-process' && threads > 0 ? new MachineThreads(threads) : undefined
  }

  get seed (): MirageNode | undefined { return this.#seed }

  /** The seed's peer id: the vendor key's. */
  get vendorPeerId (): string {
    return peerIdFromPrivateKey(this.#init.vendor.key).toString()
  }

  /** Starts the vendor's seed on a port it keeps for the whole run (machines find it there after an outage). */
  async startSeed (): Promise<MirageNode> {
    if (this.#seed !== undefined) return this.#seed
    this.#seedPort ??= await freePort()
    const config: NodeConfig = {
      file: join(this.#init.seedDir, 'config.json'),
      dataDir: join(this.#init.seedDir, 'data'),
      listen: [`/ip4/127.0.0.1/tcp/${this.#seedPort}`],
      bootstrap: [],
      apps: {},
      announceIntervalMs: this.#init.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS,
      syncIntervalMs: this.#init.syncIntervalMs ?? 5_000,
      uploadBytesPerSecond: 0,
      // Never the machines' cap: every machine bootstraps from the seed (connection-cap.ts).
      maxConnections: DEFAULT_MAX_CONNECTIONS
    }
    this.#seed = await startMirageNode({ config, seed: { vendorKey: this.#init.vendor.key, reportInbox: join(this.#init.vendor.dir, 'reports') } })
    return this.#seed
  }

  async stopSeed (): Promise<void> {
    const seed = this.#seed
    this.#seed = undefined
    await seed?.stop()
  }

  /** Starts (or restarts) a machine. */
  async start (machine: SwarmMachine): Promise<void> {
    if (this.#running.has(machine.id)) return
    this.#machines.set(machine.id, machine)
    const config = this.#configOf(machine)
    if (this.#threads !== undefined) {
      this.#running.set(machine.id, { threaded: true })
      await this.#threads.start(machine.id, config).catch((err: unknown) => {
        this.#running.delete(machine.id)
        throw err
      })
      return
    }
    if (this.#init.runner === 'in-process') {
      const running: Running = {}
      this.#running.set(machine.id, running)
      running.node = await startMirageNode({ config })
      return
    }
    await mkdir(machine.dir, { recursive: true })
    const file = join(machine.dir, 'config.json')
    await writeFile(file, `${JSON.stringify(configFile(config), null, 2)}\n`)
    const child = spawn(process.execPath, [ENTRY, 'node', 'start', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (text: string) => { stderr = (stderr + text).slice(-4096) })
    const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
    this.#running.set(machine.id, { child, exited })
    const deadline = Date.now() + PROCESS_START_TIMEOUT_MS
    // Bounded: the process answers on its control socket once it runs, or gives up by the deadline.
    while (true) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`machine ${machine.id} exited at start: ${stderr.trim()}`)
      try {
        await callControl(config.dataDir, 'GET', '/status')
        return
      } catch {
        if (Date.now() > deadline) throw new Error(`machine ${machine.id} did not come up in ${PROCESS_START_TIMEOUT_MS} ms: ${stderr.trim()}`)
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
  }

  /** Stops a machine (SIGTERM for a process, then SIGKILL after a grace period). */
  async stop (id: string): Promise<void> {
    const running = this.#running.get(id)
    if (running === undefined) return
    this.#running.delete(id)
    await running.node?.stop()
    if (running.threaded === true) await this.#threads?.stop(id)
    const child = running.child
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, PROCESS_STOP_GRACE_MS)
      await running.exited
      clearTimeout(timer)
    }
  }

  isRunning (id: string): boolean {
    return this.#running.has(id)
  }

  /** A running machine's status, or undefined if it is stopped or does not answer. */
  async status (id: string): Promise<NodeStatus | undefined> {
    return await this.#ask(id, 'status', node => node.status(), async threads => threads.status(id)) as NodeStatus | undefined
  }

  /** A running machine's progress (what the runner polls), or undefined if it is stopped or does not answer. */
  async progress (id: string): Promise<NodeProgress | undefined> {
    return await this.#ask(id, 'progress', node => node.progress(), async threads => threads.progress(id)) as NodeProgress | undefined
  }

  /** Asks a machine wherever it runs: its node object, its thread, or its process's control socket (`GET /<what>`). */
  async #ask (id: string, what: 'status' | 'progress', local: (node: MirageNode) => Promise<unknown>, threaded: (threads: MachineThreads) => Promise<unknown>): Promise<unknown> {
    const running = this.#running.get(id)
    const machine = this.#machines.get(id)
    if (running === undefined || machine === undefined) return undefined
    try {
      if (running.node !== undefined) return await local(running.node)
      if (running.threaded === true) return this.#threads === undefined ? undefined : await threaded(this.#threads)
      return await callControl(join(machine.dir, 'data'), 'GET', `/${what}`)
    } catch (err) {
      log('%s of %s failed: %e', what, id, err)
      return undefined
    }
  }

  /** Pids of the machine processes running now (empty in-process). */
  pids (): number[] {
    return [...this.#running.values()].flatMap(r => r.child?.pid === undefined ? [] : [r.child.pid])
  }

  /** Stops every machine and the seed; never throws. */
  async stopAll (): Promise<void> {
    await Promise.allSettled([...this.#running.keys()].map(async id => this.stop(id)))
    await this.#threads?.close()
    await this.stopSeed().catch((err: unknown) => { log.error('stopping the seed failed: %e', err) })
  }

  #configOf (machine: SwarmMachine): NodeConfig {
    const app: AppConfig = {
      vendorKeys: [this.#init.vendor.publicKeyText],
      installDir: join(machine.dir, 'install'),
      cluster: { name: machine.cluster },
      role: 'auto',
      uploadBytesPerSecond: 0,
      testEnv: { MIRAGE_ENV_DIR: machine.envDir },
      tests: [],
      sandbox: 'auto',
      allowNetwork: false,
      secrets: [],
      reports: true
    }
    return {
      file: join(machine.dir, 'config.json'),
      dataDir: join(machine.dir, 'data'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: this.#seedPort === undefined ? [] : [`/ip4/127.0.0.1/tcp/${this.#seedPort}/p2p/${this.vendorPeerId}`],
      apps: { [this.#init.app]: app },
      announceIntervalMs: this.#init.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS,
      syncIntervalMs: this.#init.syncIntervalMs ?? 5_000,
      uploadBytesPerSecond: 0,
      maxConnections: this.#init.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    }
  }
}

/** The config as `mirage node start` reads it (the file's own fields; paths absolute). */
function configFile (config: NodeConfig): Record<string, unknown> {
  const { file: _file, apps, ...rest } = config
  return {
    ...rest,
    apps: Object.fromEntries(Object.entries(apps).map(([name, app]) => [name, { ...app, cluster: { name: app.cluster.name } }]))
  }
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return address.port
}
