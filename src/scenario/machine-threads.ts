/**
 * The in-process runner's machines, spread over worker threads. Every
 * machine is still a real Mirage node on its own sockets, but on one event
 * loop a few dozen nodes already fill one core (their DHT, gossip and
 * transfers queue behind each other), and a second core would sit idle:
 * one thread per core lets the runner host as many machines as the machine
 * has cores to spare, still in one process.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { NodeConfig, NodeProgress, NodeStatus } from '../node/index.ts'

const THREAD_ENTRY = new URL('./machine-thread.ts', import.meta.url)

/** Threads an in-process run uses unless told otherwise: one per core. */
export function defaultMachineThreads (): number {
  return availableParallelism()
}

/** What the runner asks a thread (see machine-thread.ts). */
export type ThreadCall = { id: number } & (
  | { op: 'start', machine: string, config: NodeConfig }
  | { op: 'stop', machine: string }
  | { op: 'status', machine: string }
  | { op: 'progress', machine: string }
)

/** A thread's answer to one call. */
export type ThreadReply =
  | { id: number, ok: true, value: unknown }
  | { id: number, ok: false, error: string }

type CallBody = ThreadCall extends infer C ? C extends unknown ? Omit<C, 'id'> : never : never

interface Thread {
  worker: Worker
  machines: Set<string>
  pending: Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>
  /** Why the thread is gone, once it is. */
  gone?: Error
}

export class MachineThreads {
  readonly #count: number
  readonly #threads: Thread[] = []
  readonly #where = new Map<string, Thread>()
  #nextCall = 0

  /** `count` threads at most, started as machines need them. */
  constructor (count: number) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`a machine thread pool needs at least one thread, not ${count}`)
    this.#count = count
  }

  /** Starts a machine on the thread that hosts the fewest. */
  async start (machine: string, config: NodeConfig): Promise<void> {
    if (this.#where.has(machine)) return
    const thread = this.#leastLoaded()
    thread.machines.add(machine)
    this.#where.set(machine, thread)
    try {
      await this.#call(thread, { op: 'start', machine, config })
    } catch (err) {
      thread.machines.delete(machine)
      this.#where.delete(machine)
      throw err
    }
  }

  async stop (machine: string): Promise<void> {
    const thread = this.#where.get(machine)
    if (thread === undefined) return
    this.#where.delete(machine)
    thread.machines.delete(machine)
    if (thread.gone === undefined) await this.#call(thread, { op: 'stop', machine })
  }

  /** The machine's status, or undefined if it is not running here. */
  async status (machine: string): Promise<NodeStatus | undefined> {
    const thread = this.#where.get(machine)
    if (thread === undefined) return undefined
    return await this.#call(thread, { op: 'status', machine }) as NodeStatus | undefined
  }

  /** The machine's progress (NodeProgress), or undefined if it is not running here. */
  async progress (machine: string): Promise<NodeProgress | undefined> {
    const thread = this.#where.get(machine)
    if (thread === undefined) return undefined
    return await this.#call(thread, { op: 'progress', machine }) as NodeProgress | undefined
  }

  /** Which of the pool's threads (by the worker's threadId) hosts the machine. */
  threadOf (machine: string): number | undefined {
    return this.#where.get(machine)?.worker.threadId
  }

  /** Stops every machine, then the threads; never throws. */
  async close (): Promise<void> {
    await Promise.allSettled([...this.#where.keys()].map(async machine => this.stop(machine)))
    await Promise.allSettled(this.#threads.map(async thread => thread.worker.terminate()))
    this.#threads.length = 0
  }

  #leastLoaded (): Thread {
    const alive = this.#threads.filter(t => t.gone === undefined)
    if (alive.length < this.#count) {
      const thread = this.#spawn()
      this.#threads.push(thread)
      return thread
    }
    return alive.reduce((best, t) => t.machines.size < best.machines.size ? t : best)
  }

  #spawn (): Thread {
    const thread: Thread = { worker: new Worker(THREAD_ENTRY), machines: new Set(), pending: new Map() }
    const fail = (reason: Error): void => {
      thread.gone ??= reason
      for (const { reject } of thread.pending.values()) reject(reason)
      thread.pending.clear()
      for (const machine of thread.machines) this.#where.delete(machine)
      thread.machines.clear()
    }
    thread.worker.on('message', (reply: ThreadReply) => {
      const waiting = thread.pending.get(reply.id)
      if (waiting === undefined) return
      thread.pending.delete(reply.id)
      if (reply.ok) waiting.resolve(reply.value)
      else waiting.reject(new Error(reply.error))
    })
    thread.worker.on('error', (err) => { fail(new Error(`a machine thread crashed: ${err.stack ?? String(err)}`)) })
    thread.worker.on('exit', (code) => { fail(new Error(`a machine thread exited (code ${code})`)) })
    return thread
  }

  async #call (thread: Thread, body: CallBody): Promise<unknown> {
    if (thread.gone !== undefined) throw thread.gone
    const id = this.#nextCall++
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject })
      thread.worker.postMessage({ id, ...body })
    })
  }
}
