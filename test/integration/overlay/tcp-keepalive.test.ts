/**
 * Vanished peers are found by TCP keepalive (TCP_KEEPALIVE_INITIAL_DELAY_MS),
 * not by libp2p's connection monitor: every connection between two overlay
 * nodes carries the kernel's keepalive timer with the overlay's short delay,
 * not the system default of two hours. Read from /proc/net/tcp, which shows
 * each socket's armed timer (Linux only; elsewhere the test says why it
 * cannot run).
 */
import { readFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { TCP_KEEPALIVE_INITIAL_DELAY_MS } from '../../../src/overlay/constants.ts'
import { createOverlayLibp2p } from '../../../src/overlay/index.ts'
import type { OverlayLibp2p } from '../../../src/overlay/index.ts'
import { generateSigningKey } from '../../../src/trust/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'

/** /proc/net/tcp's timer code for the keepalive timer, and its time unit (USER_HZ ticks). */
const KEEPALIVE_TIMER = 2
const TICKS_PER_SECOND = 100

interface SocketTimer { localPort: number, remotePort: number, timer: number, remainingMs: number }

/** Established IPv4 sockets with their armed timer, as the kernel lists them. */
async function tcpSockets (): Promise<SocketTimer[]> {
  const lines = (await readFile('/proc/net/tcp', 'utf8')).trim().split('\n').slice(1)
  return lines.map(line => line.trim().split(/\s+/)).filter(f => f[3] === '01').map((f) => {
    const [timer = '0', when = '0'] = (f[5] ?? '').split(':')
    return {
      localPort: Number.parseInt((f[1] ?? '').split(':')[1] ?? '', 16),
      remotePort: Number.parseInt((f[2] ?? '').split(':')[1] ?? '', 16),
      timer: Number.parseInt(timer, 16),
      remainingMs: Number.parseInt(when, 16) * 1000 / TICKS_PER_SECOND
    }
  })
}

const procReadable = await readFile('/proc/net/tcp', 'utf8').then(() => true, () => false)
const nodes: OverlayLibp2p[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async node => { await node.stop() })) })

describe.skipIf(!procReadable)('TCP keepalive on overlay connections (needs /proc/net/tcp)', () => {
  it('arms the kernel keepalive with the overlay delay on both ends of a connection', async () => {
    for (let i = 0; i < 2; i++) nodes.push(await createOverlayLibp2p({ privateKey: await generateSigningKey(), listen: ['/ip4/127.0.0.1/tcp/0'] }))
    const [a, b] = nodes as [OverlayLibp2p, OverlayLibp2p]
    await b.dial(a.getMultiaddrs())
    const port = Number(/\/tcp\/(\d+)/.exec(a.getMultiaddrs()[0]?.toString() ?? '')?.[1])

    // Both ends of b's connection to a's listening port: a's accepted socket and b's dialled one.
    let ends: SocketTimer[] = []
    await waitFor('both ends of the connection to show their keepalive timer', async () => {
      ends = (await tcpSockets()).filter(s => s.localPort === port || s.remotePort === port)
      return ends.length >= 2 && ends.every(s => s.timer === KEEPALIVE_TIMER)
    }, { timeoutMs: 20_000 })
    for (const end of ends) {
      expect(end.timer).toBe(KEEPALIVE_TIMER)
      // Without the overlay's setting the kernel default (7,200 s) applies.
      expect(end.remainingMs).toBeLessThanOrEqual(TCP_KEEPALIVE_INITIAL_DELAY_MS)
    }
  }, 60_000)
})
