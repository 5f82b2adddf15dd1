import { afterEach, describe, expect, it } from 'vitest'
import { BootstrapDialer } from '../../../src/node/bootstrap-dialer.ts'
import { createOverlayLibp2p } from '../../../src/overlay/index.ts'
import type { OverlayLibp2p } from '../../../src/overlay/index.ts'
import { generateSigningKey } from '../../../src/trust/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'

const nodes: OverlayLibp2p[] = []
let dialer: BootstrapDialer | undefined
afterEach(async () => {
  await dialer?.stop()
  dialer = undefined
  await Promise.all(nodes.splice(0).map(async n => n.stop()))
})

describe('bootstrap dialer', () => {
  it('keeps trying while the node has no connection, and joins once the bootstrap peer is back', async () => {
    const bootstrapKey = await generateSigningKey()
    // Learn a free port, then take the bootstrap peer down: the machine starts alone.
    const first = await createOverlayLibp2p({ privateKey: bootstrapKey, listen: ['/ip4/127.0.0.1/tcp/0'] })
    const address = first.getMultiaddrs()[0]?.toString() ?? ''
    const port = /\/tcp\/(\d+)\//.exec(address)?.[1]
    await first.stop()
    expect(port).toBeDefined()

    const machine = await createOverlayLibp2p({ privateKey: await generateSigningKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(machine)
    dialer = new BootstrapDialer(machine, [address], { recheckMs: 300, maxAttempts: 1 })
    dialer.start()
    // Its first round fails for sure (nothing listens); a later round must still come.
    await waitFor('the first round to end', async () => !dialer?.dialing, { timeoutMs: 10_000, intervalMs: 20 })
    expect(machine.getConnections().length).toBe(0)

    const back = await createOverlayLibp2p({ privateKey: bootstrapKey, listen: [`/ip4/127.0.0.1/tcp/${port ?? 0}`] })
    nodes.push(back)
    await waitFor('the machine to reach the bootstrap peer again', async () => machine.getConnections(back.peerId).length > 0, { timeoutMs: 30_000, intervalMs: 100 })
    expect(machine.getConnections(back.peerId).length).toBeGreaterThan(0)
  })
})
