/**
 * One worker thread of the in-process runner (see machine-threads.ts): it
 * hosts some of a scenario's machines as real Mirage nodes on its own event
 * loop and answers the runner's start, stop and status calls.
 */
import { parentPort } from 'node:worker_threads'
import { startMirageNode } from '../node/index.ts'
import type { MirageNode } from '../node/index.ts'
import type { ThreadCall, ThreadReply } from './machine-threads.ts'

const port = parentPort
if (port === null) throw new Error('machine-thread.ts runs only as a worker thread')

const nodes = new Map<string, MirageNode>()

async function serve (call: ThreadCall): Promise<unknown> {
  switch (call.op) {
    case 'start': {
      if (nodes.has(call.machine)) return undefined
      nodes.set(call.machine, await startMirageNode({ config: call.config }))
      return undefined
    }
    case 'stop': {
      const node = nodes.get(call.machine)
      nodes.delete(call.machine)
      await node?.stop()
      return undefined
    }
    case 'status': {
      const node = nodes.get(call.machine)
      // The same plain data a machine process sends over its control socket.
      return node === undefined ? undefined : JSON.parse(JSON.stringify(await node.status()))
    }
    case 'progress': {
      // Plain data already (no class instances), so no JSON round trip.
      return await nodes.get(call.machine)?.progress()
    }
  }
}

port.on('message', (call: ThreadCall) => {
  serve(call).then(
    (value) => { port.postMessage({ id: call.id, ok: true, value } satisfies ThreadReply) },
    (err: unknown) => { port.postMessage({ id: call.id, ok: false, error: (err as Error)?.stack ?? String(err) } satisfies ThreadReply) }
  )
})
