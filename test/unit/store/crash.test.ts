import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from '../../../src/store/index.ts'
import type { Store } from '../../../src/store/index.ts'
import { cleanUp, makeTempDir, spawnFixture } from './harness.ts'
import { releaseFor } from './fixtures/records.ts'

/** Far more than get written before the kill: the child must die mid-stream, not finish. */
const RECORDS_TO_WRITE = 200_000
/** Acks to see before killing, so the kill lands after real, acknowledged work. */
const ACKS_BEFORE_KILL = 50

let store: Store | undefined

afterEach(async () => {
  await store?.close()
  store = undefined
  await cleanUp()
})

function ackedIndexes (lines: readonly string[]): number[] {
  return lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)))
}

describe('crash safety', () => {
  it('keeps every acknowledged record intact when the writer is SIGKILLed mid-stream', async () => {
    const dir = await makeTempDir()
    const writer = spawnFixture('write-records.ts', [dir, String(RECORDS_TO_WRITE)])
    await writer.waitFor((lines) => ackedIndexes(lines).length >= ACKS_BEFORE_KILL)

    const exit = await writer.kill()
    expect(exit.signal).toBe('SIGKILL')
    // Every line the child wrote before dying has been read by now.
    const acked = ackedIndexes(writer.lines)
    expect(acked).toEqual(acked.map((_, i) => i)) // acks come in order, none skipped
    expect(writer.lines).not.toContain('done') // it really died mid-stream
    const lastAcked = acked.length - 1
    expect(lastAcked).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL - 1)

    store = await openStore({ dir })
    for (let i = 0; i <= lastAcked; i++) {
      expect(await store.releases.get(releaseFor(i).releaseId)).toEqual(releaseFor(i))
    }
    // Whatever else made it to disk (at most the put in flight) is intact
    // too: entries() validates every record it reads.
    let stored = 0
    for await (const [key, record] of store.releases.entries()) {
      expect(record).toEqual(releaseFor(record.sequence))
      expect(key).toBe(record.releaseId)
      stored++
    }
    expect(stored).toBeGreaterThanOrEqual(lastAcked + 1)
    expect(stored).toBeLessThanOrEqual(lastAcked + 2)
  })
})
