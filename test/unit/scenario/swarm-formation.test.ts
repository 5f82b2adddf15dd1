import { describe, expect, it } from 'vitest'
import { swarmGrewSinceAnnounce } from '../../../src/node/index.ts'
import { awaitSwarmFormation, formationTimeoutMs, machineFormed } from '../../../src/scenario/swarm-formation.ts'
import type { NodeProgress } from '../../../src/node/index.ts'

function status (connectedPeers: number, announcedPeers?: number): NodeProgress {
  return {
    connectedPeers,
    ...(announcedPeers === undefined ? {} : { announced: { at: 1, peers: announcedPeers } }),
    reports: { waiting: 0 },
    apps: []
  }
}

describe('swarmGrewSinceAnnounce (the node re-announces when its swarm doubled)', () => {
  it('re-announces from twice the connections of the last round, and from 2 after an announcement to nobody', () => {
    expect(swarmGrewSinceAnnounce(5, 9)).toBe(false)
    expect(swarmGrewSinceAnnounce(5, 10)).toBe(true)
    expect(swarmGrewSinceAnnounce(0, 1)).toBe(false)
    expect(swarmGrewSinceAnnounce(0, 2)).toBe(true)
  })
})

describe('machineFormed', () => {
  it('is false for a machine that did not answer, has no connection, or has not announced', () => {
    expect(machineFormed(undefined)).toBe(false)
    expect(machineFormed(status(0, 0))).toBe(false)
    expect(machineFormed(status(3))).toBe(false)
  })

  it('is false while the swarm has doubled since the announcement (the node will announce again)', () => {
    expect(machineFormed(status(8, 4))).toBe(false)
    expect(machineFormed(status(39, 6))).toBe(false)
  })

  it('is true once the announcement went out with at least half the connections the machine has now', () => {
    expect(machineFormed(status(7, 4))).toBe(true)
    expect(machineFormed(status(39, 39))).toBe(true)
    expect(machineFormed(status(1, 0))).toBe(true)
  })
})

describe('awaitSwarmFormation', () => {
  it('waits until every machine is formed, counting a machine once formed even if it grows again', async () => {
    const polls = new Map<string, number>()
    // a forms at its 2nd poll and then looks unformed again; b forms at its 4th.
    const script: Record<string, Array<NodeProgress | undefined>> = {
      a: [undefined, status(4, 4), status(20, 4)],
      b: [status(2), status(2), status(4, 1), status(4, 3)]
    }
    const result = await awaitSwarmFormation(['a', 'b'], async id => {
      const n = polls.get(id) ?? 0
      polls.set(id, n + 1)
      const steps = script[id] ?? []
      return steps[Math.min(n, steps.length - 1)]
    }, { timeoutMs: 60_000, pollMs: 1 })
    expect(result.formed).toBe(true)
    expect(result.waitingFor).toEqual([])
    expect(polls.get('a')).toBe(2)
    expect(polls.get('b')).toBe(4)
  })

  it('gives up at the timeout and names the machines that never formed', async () => {
    const result = await awaitSwarmFormation(['a', 'b', 'c'], async id => id === 'b' ? status(3, 3) : status(5), { timeoutMs: 20, pollMs: 5 })
    expect(result.formed).toBe(false)
    expect(result.waitingFor).toEqual(['a', 'c'])
    expect(result.tookMs).toBeGreaterThanOrEqual(20)
  })

  it('stops at once when aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stopped by the test'))
    await expect(awaitSwarmFormation(['a'], async () => status(1), { timeoutMs: 60_000, signal: controller.signal })).rejects.toThrow('stopped by the test')
  })

  it('gives a larger swarm longer to form', () => {
    expect(formationTimeoutMs(200)).toBeGreaterThan(formationTimeoutMs(10))
  })
})
