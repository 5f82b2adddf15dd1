import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chunkStream } from '../../../src/content/index.ts'
import { collect, concat } from './helpers.ts'

async function * pieces (parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part
}

/** Splits `bytes` at the given cut points (sorted, deduplicated), keeping empty pieces too. */
function split (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [0, ...cuts.map((c) => c % (bytes.byteLength + 1)).sort((a, b) => a - b), bytes.byteLength]
  const parts: Uint8Array[] = []
  for (let i = 1; i < points.length; i++) parts.push(bytes.subarray(points[i - 1], points[i]))
  return parts
}

describe('chunkStream', () => {
  it('cuts any split of any input into full chunks and one shorter last chunk', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.integer({ min: 1, max: 700 }),
      async (input, cuts, chunkSize) => {
        const chunks = await collect(chunkStream(pieces(split(input, cuts)), chunkSize))
        // Collected first, compared after: a reused buffer would show here.
        expect(concat(chunks)).toEqual(input)
        expect(chunks.length).toBe(Math.ceil(input.byteLength / chunkSize))
        chunks.forEach((chunk, i) => {
          expect(chunk.byteLength).toBeGreaterThan(0)
          if (i < chunks.length - 1) expect(chunk.byteLength).toBe(chunkSize)
        })
      }
    ), { numRuns: 300 })
  })

  it('yields exact chunks at a boundary and nothing for an empty source', async () => {
    const input = new Uint8Array(12).map((_, i) => i)
    const sizes = (await collect(chunkStream(pieces([input.subarray(0, 5), input.subarray(5)]), 4))).map((c) => c.byteLength)
    expect(sizes).toEqual([4, 4, 4])
    expect(await collect(chunkStream(pieces([]), 4))).toEqual([])
    expect(await collect(chunkStream(pieces([new Uint8Array(0), new Uint8Array(0)]), 4))).toEqual([])
  })

  it('does not copy whole chunks that sit inside one input buffer', async () => {
    const input = new Uint8Array(10).fill(7)
    const chunks = await collect(chunkStream(pieces([input]), 4))
    expect(chunks.map((c) => c.byteLength)).toEqual([4, 4, 2])
    expect(chunks[0]?.buffer).toBe(input.buffer)
    expect(chunks[1]?.buffer).toBe(input.buffer)
    // The last chunk is assembled: it must own an exact-size buffer, with
    // no uninitialised bytes behind it.
    expect(chunks[2]?.buffer).not.toBe(input.buffer)
    expect(chunks[2]?.buffer.byteLength).toBe(2)
  })

  it('keeps every assembled chunk valid after later ones are produced', async () => {
    const parts = Array.from({ length: 9 }, (_, i) => new Uint8Array(3).fill(i))
    const chunks = await collect(chunkStream(pieces(parts), 5))
    expect(concat(chunks)).toEqual(concat(parts))
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length)
  })

  it('refuses a chunk size that is not a positive integer', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(collect(chunkStream(pieces([new Uint8Array(3)]), bad))).rejects.toMatchObject({ name: 'ContentError', reason: 'chunk-size' })
    }
  })
})
