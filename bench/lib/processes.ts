/**
 * Child processes of the overlay benchmark: every machine, seed, HTTP
 * client and libp2p receiver runs in a process of its own, so each has its
 * own event loop and the kernel can spread them over both cores (as real
 * machines would be spread over hosts). The parent only orchestrates.
 *
 * `ProcessGroup` owns every process it starts: `stopAll()` stops them
 * (graceful first, SIGKILL after a bound), and a synchronous `exit` hook
 * kills whatever is left if the benchmark dies on an exception.
 */
import { fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The real `mirage` command, run by the pinned Node that runs this benchmark. */
export const MIRAGE_ENTRY = new URL('../../bin/mirage.ts', import.meta.url).pathname
/** The benchmark's own child entry (roles that `mirage` has no command for). */
export const WORKER_ENTRY = new URL('./bench-worker.ts', import.meta.url).pathname

/** USER_HZ: the unit of /proc CPU times (100 on Linux on every common architecture). */
export const CLOCK_TICKS_PER_SECOND = 100
/** How long a process gets to stop on SIGTERM / a stop message before SIGKILL. */
const STOP_GRACE_MS = 15_000
/** Output kept per process for error messages: the tail is what explains a crash. */
const MAX_OUTPUT_CHARS = 16 * 1024

/** A message a worker sends its parent over IPC. */
export interface WorkerMessage {
  type: string
  [key: string]: unknown
}

export class BenchProcess {
  readonly name: string
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  readonly #messages: WorkerMessage[] = []
  #waiters: Array<() => void> = []

  constructor (name: string, child: ChildProcess) {
    this.name = name
    this.child = child
    // BENCH_LOG_DIR=<dir> keeps every process's whole output in <dir>/<name>.log
    // (run with DEBUG=mirage:* to see what the nodes did).
    const logDir = process.env.BENCH_LOG_DIR
    if (logDir !== undefined && logDir !== '') mkdirSync(logDir, { recursive: true })
    const file = logDir === undefined || logDir === '' ? undefined : createWriteStream(join(logDir, `${name}.log`), { flags: 'a' })
    if (file !== undefined) child.on('exit', () => { file.end() })
    child.stdout?.setEncoding('utf8').on('data', (text: string) => { this.stdout = tail(this.stdout + text); file?.write(text) })
    child.stderr?.setEncoding('utf8').on('data', (text: string) => { this.stderr = tail(this.stderr + text); file?.write(text) })
    child.on('message', (message: WorkerMessage) => {
      this.#messages.push(message)
      this.#wakeAll()
    })
    this.exited = new Promise(resolve => {
      child.on('exit', (code, signal) => {
        this.#wakeAll()
        resolve({ code, signal })
      })
    })
  }

  get running (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  get pid (): number | undefined {
    return this.child.pid
  }

  send (message: WorkerMessage): void {
    if (this.running && this.child.connected) this.child.send(message)
  }

  /** The first message of `type` (taken off the queue); fails if the process exits or the time runs out. */
  async message<T extends WorkerMessage = WorkerMessage> (type: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const failed = this.#messages.findIndex(m => m.type === 'error')
      if (failed >= 0) throw new Error(`${this.name} failed: ${String(this.#messages[failed]?.message)}`)
      const index = this.#messages.findIndex(m => m.type === type)
      if (index >= 0) return this.#messages.splice(index, 1)[0] as T
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before sending "${type}": ${this.stderr.slice(-2000)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.name} sent no "${type}" within ${timeoutMs} ms: ${this.stderr.slice(-2000)}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, left)
        function done (): void { clearTimeout(timer); resolve() }
        this.#waiters.push(done)
      })
    }
  }

  /** The first JSON line on stdout that has `key` (what `mirage … --json` prints once started). */
  async jsonLine<T> (key: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      for (const line of this.stdout.split('\n')) {
        if (!line.startsWith('{')) continue
        try {
          const value = JSON.parse(line) as Record<string, unknown>
          if (key in value) return value as T
        } catch {}
      }
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${key}: ${this.stderr.slice(-2000)}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    throw new Error(`${this.name} printed no ${key} within ${timeoutMs} ms: ${this.stderr.slice(-2000)}`)
  }

  /** Asks the process to stop (IPC `stop` for workers, SIGTERM otherwise), then SIGKILLs it after a grace period. */
  async stop (): Promise<void> {
    if (!this.running) return
    if (this.child.connected) this.child.send({ type: 'stop' })
    else this.child.kill('SIGTERM')
    const timer = setTimeout(() => { if (this.running) this.child.kill('SIGKILL') }, STOP_GRACE_MS)
    try {
      await this.exited
    } finally {
      clearTimeout(timer)
    }
  }

  #wakeAll (): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

export class ProcessGroup {
  readonly #processes = new Set<BenchProcess>()
  readonly #onExit = (): void => { this.killAll() }

  constructor () {
    process.on('exit', this.#onExit)
  }

  /** Starts `bench-worker.ts` in `role` with an IPC channel (the worker stops itself if the channel closes). */
  worker (name: string, role: string, args: unknown): BenchProcess {
    const child = fork(WORKER_ENTRY, [role, JSON.stringify(args)], { execPath: process.execPath, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    return this.#add(new BenchProcess(name, child))
  }

  /** Starts the real `mirage` command with `args`. */
  mirage (name: string, args: string[]): BenchProcess {
    const child = spawn(process.execPath, [MIRAGE_ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    return this.#add(new BenchProcess(name, child))
  }

  get size (): number {
    return this.#processes.size
  }

  /**
   * CPU time used so far by the running processes of the group and by this
   * process, in clock ticks (USER_HZ, as /proc/stat counts): tells the
   * benchmark's own load from other work on the machine.
   */
  cpuTicks (): number {
    const own = process.cpuUsage()
    let ticks = (own.user + own.system) / 1e6 * CLOCK_TICKS_PER_SECOND
    for (const p of this.#processes) {
      if (!p.running || p.pid === undefined) continue
      try {
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8')
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0)
      } catch {}
    }
    return ticks
  }

  /** Resident memory of every running process of the group, summed (from /proc; 0 where unreadable). */
  rssBytes (): number {
    let total = 0
    for (const p of this.#processes) {
      if (!p.running || p.pid === undefined) continue
      try {
        const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))
        total += Number(match?.[1] ?? 0) * 1024
      } catch {}
    }
    return total
  }

  /** Stops every process of the group, all at once, and forgets them. */
  async stopAll (): Promise<void> {
    const all = [...this.#processes]
    this.#processes.clear()
    await Promise.allSettled(all.map(async p => p.stop()))
  }

  /** Last resort (process exit): SIGKILL whatever still runs. */
  killAll (): void {
    for (const p of this.#processes) if (p.running) p.child.kill('SIGKILL')
  }

  dispose (): void {
    process.off('exit', this.#onExit)
  }

  #add (p: BenchProcess): BenchProcess {
    this.#processes.add(p)
    return p
  }
}

/** MemAvailable from /proc/meminfo: what the machine can still give without swapping or OOM kills. */
export function memAvailableBytes (): number {
  const match = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))
  return Number(match?.[1] ?? 0) * 1024
}

function tail (text: string): string {
  return text.length > MAX_OUTPUT_CHARS ? text.slice(-MAX_OUTPUT_CHARS) : text
}
