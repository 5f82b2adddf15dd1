import { resolve } from 'node:path'
import { callControl, loadNodeConfig, startMirageNode } from '../../node/index.ts'
import { EXIT_OK, requiredString } from '../command.ts'
import { formatNodeStatus } from '../node-view.ts'
import type { NodeStatus } from '../../node/index.ts'
import type { CliIo, Command, CommandGroup } from '../command.ts'

const startCommand: Command = {
  kind: 'command',
  name: 'start',
  summary: 'Run the Mirage node in the foreground until SIGINT or SIGTERM.',
  description: 'Joins the swarm, announces this machine\'s cluster for every configured app, and follows the\nstaged rollout of their releases: tests as a representative, or installs once the gate opens.',
  options: {
    config: { type: 'string', valueName: 'FILE', description: 'node config (JSON)', required: true },
    json: { type: 'boolean', description: 'print {"peerId", "addresses"} as one JSON line once started' }
  },
  async run (args, io) {
    const config = await loadNodeConfig(resolve(requiredString(args, 'config')))
    const node = await startMirageNode({ config })
    try {
      announceStarted(io, args.values.json === true, node.peerId.toString(), node.multiaddrs())
      await untilAborted(io.signal)
    } finally {
      await node.stop()
    }
    return EXIT_OK
  }
}

const statusCommand: Command = {
  kind: 'command',
  name: 'status',
  summary: 'Show where every release stands on a running node: cluster, role, gate and why, download, install.',
  options: {
    config: { type: 'string', valueName: 'FILE', description: 'the running node\'s config (JSON)', required: true },
    json: { type: 'boolean', description: 'print the status as JSON' }
  },
  async run (args, io) {
    const config = await loadNodeConfig(resolve(requiredString(args, 'config')))
    const status = await callControl(config.dataDir, 'GET', '/status') as NodeStatus
    io.stdout.write(args.values.json === true ? `${JSON.stringify(status, null, 2)}\n` : formatNodeStatus(status))
    return EXIT_OK
  }
}

export function announceStarted (io: CliIo, json: boolean, peerId: string, addresses: string[]): void {
  io.stdout.write(json
    ? `${JSON.stringify({ peerId, addresses })}\n`
    : `mirage node ${peerId}\n${addresses.map(a => `  listening on ${a}\n`).join('')}`)
}

export async function untilAborted (signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}

export const nodeCommands: CommandGroup = {
  kind: 'group',
  name: 'node',
  summary: 'Run a Mirage node on this machine and inspect it.',
  commands: [startCommand, statusCommand]
}
