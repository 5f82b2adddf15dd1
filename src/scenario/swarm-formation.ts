/**
 * Before a scenario's clock starts, its machines must form a swarm: a vendor
 * publishes into a running overlay, not into one still booting. Measured at
 * 40 machines in one process: publishing the moment the last node started
 * put the release into the start-up storm (every node dialling, handshaking
 * and filling its routing table), member lookups were cut short for 40 s,
 * and the rollout latency measured mostly start-up (scratch counts in the
 * issue 6 notes).
 */
import { swarmGrewSinceAnnounce } from '../node/index.ts'
import type { NodeProgress } from '../node/index.ts'

/** How often the runner asks the machines whether the swarm has formed. */
export const FORMATION_POLL_MS = 1_000

/**
 * The longest the runner waits for a swarm to form before it starts the
 * clock anyway (and says so in the results' notes): a base for the slowest
 * start-up plus a second per machine, since start-up work grows with the
 * swarm.
 */
export function formationTimeoutMs (machines: number): number {
  return 60_000 + 1_000 * machines
}

/**
 * Whether one machine is part of the formed swarm: it is connected, its
 * membership announcement went out, and its swarm has not grown enough
 * since to make it announce again (the node's own rule,
 * `swarmGrewSinceAnnounce`). A machine that has not answered is not formed.
 */
export function machineFormed (status: Pick<NodeProgress, 'connectedPeers' | 'announced'> | undefined): boolean {
  if (status === undefined || status.connectedPeers === 0) return false
  const announced = status.announced
  return announced !== undefined && !swarmGrewSinceAnnounce(announced.peers, status.connectedPeers)
}

export interface FormationResult {
  formed: boolean
  /** Machines not formed when the wait ended (empty when formed). */
  waitingFor: string[]
  tookMs: number
}

/**
 * Waits until every machine is formed (`machineFormed`), polling `status`,
 * or until `timeoutMs`; never rejects for a machine that stays unformed.
 * Bounded by the timeout and the abort signal.
 */
export async function awaitSwarmFormation (
  ids: readonly string[],
  status: (id: string) => Promise<NodeProgress | undefined>,
  options: { timeoutMs: number, pollMs?: number, signal?: AbortSignal }
): Promise<FormationResult> {
  const started = Date.now()
  let waitingFor = [...ids]
  while (true) {
    options.signal?.throwIfAborted()
    const formed = await Promise.all(waitingFor.map(async id => machineFormed(await status(id))))
    // A machine once formed stays counted: its later growth re-announcements do not stop the clock.
    waitingFor = waitingFor.filter((_, i) => !formed[i])
    const tookMs = Date.now() - started
    if (waitingFor.length === 0) return { formed: true, waitingFor, tookMs }
    if (tookMs >= options.timeoutMs) return { formed: false, waitingFor, tookMs }
    await new Promise(resolve => setTimeout(resolve, options.pollMs ?? FORMATION_POLL_MS))
  }
}
