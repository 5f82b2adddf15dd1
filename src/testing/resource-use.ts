/**
 * Measuring what a test cost, and how exactly it ended, through a small
 * wrapper process that runs the test as its child.
 *
 * Why a wrapper, and why a Node one: Node's child_process reports no
 * rusage, and a process's CPU time can only be read by its parent once it
 * has reaped it (the kernel then adds the child's times, and those of the
 * descendants it waited for, to the parent's `cutime`/`cstime` in
 * /proc/self/stat). The obvious `sh -c '"$@"; times >&3'` wrapper loses the
 * exit status, though: sh folds "killed by signal N" into exit code 128+N,
 * as does bubblewrap, so a test that exits 143 and one killed by SIGTERM
 * would look alike. A wrapper run by the node's own binary sees the raw
 * wait status, is always there (inside the sandbox too, which shows the
 * whole file system read-only) and costs about 40 ms of start-up per test.
 *
 * The wrapper sends one JSON line on fd 3, a pipe the test does not
 * inherit, so nothing mixes into the test's output. The test could still
 * forge it (through /proc/<ppid>/fd/3, as the same user); that gains it
 * nothing, since a test decides its own verdict anyway. When no report
 * arrives (the wrapper was SIGKILLed with the rest of the group), the
 * runner falls back to the wrapper's own exit status and reports no
 * resource use.
 *
 * Max RSS is not measured: only getrusage(RUSAGE_CHILDREN) reports it for
 * descendants, and neither Node nor POSIX sh expose that call.
 */
import { constants as osConstants } from 'node:os'
import { MAX_WRAPPER_REPORT_BYTES, USER_HZ } from './constants.ts'

/** CPU time the test used, including descendants it (transitively) waited for. */
export interface ResourceUse {
  /** CPU time in user mode, ms (10 ms resolution: the kernel counts in USER_HZ ticks). */
  userCpuMs: number
  /** CPU time in the kernel on the test's behalf, ms (same resolution). */
  systemCpuMs: number
}

/** What the wrapper reports: how the test ended, or why it could not start. */
export type WrapperReport =
  | { kind: 'exited', exitCode: number | null, signal: NodeJS.Signals | null, resourceUse: ResourceUse | null }
  | { kind: 'spawn-error', message: string }

/**
 * The wrapper, run with `node -e`. Plain JavaScript in a string: it runs
 * outside this module (inside the sandbox), so it must not depend on
 * how this file is loaded or transformed. Fields of /proc/self/stat after
 * the ")" that ends the command name: index 13 is cutime, 14 cstime.
 */
const WRAPPER_SOURCE = `'use strict'
const { spawn } = require('node:child_process')
const { readFileSync, writeSync } = require('node:fs')
const { constants } = require('node:os')
// The runner signals the whole process group: the test gets the SIGTERM
// itself, while the wrapper stays to report how it ended.
process.on('SIGTERM', () => {})
const [envJson, program, ...args] = process.argv.slice(1)
const report = (r) => { try { writeSync(3, JSON.stringify(r) + '\\n') } catch {} }
const child = spawn(program, args, { env: JSON.parse(envJson), stdio: 'inherit' })
child.on('error', (err) => { report({ spawnError: err.message }); process.exit(127) })
child.on('exit', (code, signal) => {
  let cpu = null
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    cpu = { cutime: Number(fields[13]), cstime: Number(fields[14]) }
  } catch {}
  report({ exitCode: code, signal, cpu })
  process.exit(code ?? 128 + (constants.signals[signal] ?? 0))
})
`

/**
 * argv that runs `program args` with exactly `env`, under the wrapper.
 * The wrapper itself is started with an empty environment (so e.g. a
 * NODE_OPTIONS meant for the test does not change the wrapper) and is
 * handed the test's environment as an argument.
 */
export function wrapperArgv (env: Record<string, string>, program: string, args: string[]): string[] {
  return [process.execPath, '-e', WRAPPER_SOURCE, '--', JSON.stringify(env), program, ...args]
}

/** Collects the wrapper's side channel, keeping at most MAX_WRAPPER_REPORT_BYTES. */
export class WrapperReportReader {
  readonly #chunks: Buffer[] = []
  #bytes = 0

  add (chunk: Buffer): void {
    this.#bytes += chunk.byteLength
    if (this.#bytes <= MAX_WRAPPER_REPORT_BYTES) this.#chunks.push(chunk)
  }

  /** The report, or undefined when none (or no valid one) arrived. */
  report (): WrapperReport | undefined {
    if (this.#bytes > MAX_WRAPPER_REPORT_BYTES) return undefined
    return parseWrapperReport(Buffer.concat(this.#chunks).toString('utf8'))
  }
}

/** Parses the wrapper's one line strictly; anything else is undefined. */
export function parseWrapperReport (text: string): WrapperReport | undefined {
  if (!text.endsWith('\n') || text.indexOf('\n') !== text.length - 1) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const r = value as Record<string, unknown>
  if (typeof r.spawnError === 'string') return { kind: 'spawn-error', message: r.spawnError }
  const { exitCode, signal, cpu } = r
  const codeOk = exitCode === null || (Number.isInteger(exitCode) && (exitCode as number) >= 0 && (exitCode as number) <= 255)
  const signalOk = signal === null || (typeof signal === 'string' && Object.hasOwn(osConstants.signals, signal))
  // Exactly one of the two says how the test ended.
  if (!codeOk || !signalOk || (exitCode === null) === (signal === null)) return undefined
  let resourceUse: ResourceUse | null = null
  if (cpu !== null) {
    const ticks = cpu as Record<string, unknown> | undefined
    if (typeof ticks !== 'object' || !isTicks(ticks.cutime) || !isTicks(ticks.cstime)) return undefined
    resourceUse = { userCpuMs: ticks.cutime * 1000 / USER_HZ, systemCpuMs: ticks.cstime * 1000 / USER_HZ }
  }
  return { kind: 'exited', exitCode: exitCode as number | null, signal: signal as NodeJS.Signals | null, resourceUse }
}

function isTicks (value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}
