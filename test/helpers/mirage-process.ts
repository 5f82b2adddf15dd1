import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'

const ENTRY = new URL('../../bin/mirage.ts', import.meta.url).pathname

/**
 * A long-running `mirage` command (node start, vendor seed) in a child
 * process, with its output collected. Tests stop every one they start.
 */
export class MirageProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>

  constructor (args: string[]) {
    this.child = spawn(process.execPath, [ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout?.setEncoding('utf8').on('data', (text: string) => { this.stdout += text })
    this.child.stderr?.setEncoding('utf8').on('data', (text: string) => { this.stderr += text })
    this.exited = new Promise(resolve => { this.child.on('exit', (code, signal) => { resolve({ code, signal }) }) })
  }

  /** The first JSON line printed on stdout that has `key` (commands print one with --json when started). */
  async jsonLine<T> (key: string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      for (const line of this.stdout.split('\n')) {
        if (!line.startsWith('{')) continue
        const value = JSON.parse(line) as Record<string, unknown>
        if (key in value) return value as T
      }
      if (this.child.exitCode !== null) throw new Error(`mirage exited (${this.child.exitCode}) before printing ${key}: ${this.stderr}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error(`mirage printed no ${key} in ${timeoutMs} ms: ${this.stderr}`)
  }

  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}
