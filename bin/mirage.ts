#!/usr/bin/env node
// The `mirage` command. Node 24 runs this TypeScript directly (type stripping).
import { sizeThreadPoolForSwarm } from '../src/scenario/thread-pool.ts'

// Commands that host a whole swarm in this process size libuv's pool before
// the first I/O fixes it: hence main is imported only after this line.
const SWARM_COMMANDS = new Set(['quickstart', 'scenario'])
if (SWARM_COMMANDS.has(process.argv[2] ?? '')) await sizeThreadPoolForSwarm()
const { main } = await import('../src/cli/main.ts')

const controller = new AbortController()
let signals = 0
const onSignal = (signal: NodeJS.Signals): void => {
  signals++
  if (signals === 1) {
    // First signal: let the running command stop between steps and close what it holds.
    process.stderr.write(`\nmirage: ${signal} received, stopping (again to force)\n`)
    controller.abort(new DOMException(`stopped by ${signal}`, 'AbortError'))
  } else {
    process.exit(130)
  }
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal })
process.off('SIGINT', onSignal)
process.off('SIGTERM', onSignal)
