import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import {
  MAX_ARTIFACT_CHUNKS,
  MAX_CHUNK_SIZE_BYTES,
  MIN_CHUNK_SIZE_BYTES,
  artifactRoot,
  checkLayout,
  chunkCid,
  chunkDigestFromCid,
  digestFromHex,
  digestToHex,
  expectedChunkLength,
  sha256
} from '../../../src/content/index.ts'
import type { ArtifactLayout } from '../../../src/content/index.ts'

const KiB = 1024

function digestOf (label: string): Uint8Array {
  return sha256(new TextEncoder().encode(label))
}

function layout (overrides: Partial<ArtifactLayout> = {}): ArtifactLayout {
  return {
    size: 150 * KiB,
    chunkSize: 64 * KiB,
    chunks: [digestOf('a'), digestOf('b'), digestOf('c')],
    ...overrides
  }
}

describe('sha256 and hex', () => {
  it('matches the known SHA-256 of "abc" and round-trips through hex', () => {
    const digest = sha256(new TextEncoder().encode('abc'))
    expect(digestToHex(digest)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(digest.constructor).toBe(Uint8Array)
    expect(digestFromHex(digestToHex(digest))).toEqual(digest)
    expect(() => digestFromHex('abc')).toThrow(expect.objectContaining({ name: 'ContentError', reason: 'digest' }))
  })
})

describe('chunkCid', () => {
  it('is a raw sha2-256 CIDv1 that round-trips through its string form', () => {
    const digest = digestOf('chunk')
    const cid = chunkCid(digest)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect(cid.multihash.code).toBe(0x12)
    const parsed = CID.parse(cid.toString())
    expect(parsed.equals(cid)).toBe(true)
    expect(chunkDigestFromCid(parsed)).toEqual(digest)
  })

  it('refuses a digest that is not 32 bytes, and a CID that is not a chunk CID', () => {
    expect(() => chunkCid(new Uint8Array(31))).toThrow(expect.objectContaining({ reason: 'digest' }))
    expect(() => chunkDigestFromCid(artifactRoot(layout()))).toThrow(expect.objectContaining({ reason: 'digest' }))
  })
})

describe('artifactRoot', () => {
  it('is a dag-cbor sha2-256 CIDv1 and a pure function of the layout', () => {
    const root = artifactRoot(layout())
    expect(root.version).toBe(1)
    expect(root.code).toBe(0x71)
    expect(root.multihash.code).toBe(0x12)
    expect(artifactRoot(layout()).equals(root)).toBe(true)
    // Buffers and plain Uint8Arrays with the same bytes name the same artifact.
    expect(artifactRoot(layout({ chunks: layout().chunks.map((d) => Buffer.from(d)) })).equals(root)).toBe(true)
  })

  it('pins the encoding: a fixed layout has a fixed root', () => {
    // If this changes, every published release changes name: a wire break.
    expect(artifactRoot(layout()).toString()).toBe(GOLDEN_ROOT)
  })

  it('changes when any digest, the size or the chunk size changes', () => {
    const base = artifactRoot(layout())
    const variants: ArtifactLayout[] = [
      layout({ chunks: [digestOf('x'), digestOf('b'), digestOf('c')] }),
      layout({ chunks: [digestOf('a'), digestOf('x'), digestOf('c')] }),
      layout({ chunks: [digestOf('a'), digestOf('b'), digestOf('x')] }),
      layout({ chunks: [digestOf('b'), digestOf('a'), digestOf('c')] }),
      layout({ size: 150 * KiB + 1 }),
      layout({ size: 129 * KiB }),
      layout({ chunkSize: 64 * KiB + 1 })
    ]
    const roots = variants.map((v) => artifactRoot(v).toString())
    expect(roots).not.toContain(base.toString())
    expect(new Set(roots).size).toBe(roots.length)
    // One flipped bit in one digest is enough.
    const flipped = layout()
    const last = new Uint8Array(flipped.chunks[2] ?? [])
    last[31] = (last[31] ?? 0) ^ 1
    flipped.chunks[2] = last
    expect(artifactRoot(flipped).equals(base)).toBe(false)
  })
})

describe('checkLayout', () => {
  it('accepts a consistent layout', () => {
    expect(() => { checkLayout(layout()) }).not.toThrow()
    expect(() => { checkLayout({ size: 1, chunkSize: MIN_CHUNK_SIZE_BYTES, chunks: [digestOf('a')] }) }).not.toThrow()
  })

  const cases: Array<[string, Partial<ArtifactLayout>, string]> = [
    ['too few chunks', { chunks: [digestOf('a'), digestOf('b')] }, 'chunk-count'],
    ['too many chunks', { chunks: [digestOf('a'), digestOf('b'), digestOf('c'), digestOf('d')] }, 'chunk-count'],
    ['a short digest', { chunks: [digestOf('a'), new Uint8Array(31), digestOf('c')] }, 'digest'],
    ['a digest that is not bytes', { chunks: [digestOf('a'), 'beef' as unknown as Uint8Array, digestOf('c')] }, 'digest'],
    ['a zero size', { size: 0, chunks: [] }, 'size'],
    ['a negative size', { size: -1, chunks: [] }, 'size'],
    ['a fractional size', { size: 1.5 }, 'size'],
    ['an unsafe size', { size: 2 ** 53 }, 'size'],
    ['a chunk size below the minimum', { chunkSize: MIN_CHUNK_SIZE_BYTES - 1 }, 'chunk-size'],
    ['a chunk size above the maximum', { chunkSize: MAX_CHUNK_SIZE_BYTES + 1 }, 'chunk-size'],
    ['more chunks than the limit', { size: (MAX_ARTIFACT_CHUNKS + 1) * MIN_CHUNK_SIZE_BYTES, chunkSize: MIN_CHUNK_SIZE_BYTES }, 'chunk-count']
  ]
  for (const [what, overrides, reason] of cases) {
    it(`refuses ${what} (reason ${reason})`, () => {
      expect(() => { checkLayout(layout(overrides)) }).toThrow(expect.objectContaining({ name: 'ContentError', reason }))
      expect(() => artifactRoot(layout(overrides))).toThrow(expect.objectContaining({ reason }))
    })
  }
})

describe('expectedChunkLength', () => {
  it('is chunkSize except for the last chunk', () => {
    expect([0, 1, 2].map((i) => expectedChunkLength(layout(), i))).toEqual([64 * KiB, 64 * KiB, 22 * KiB])
    expect(expectedChunkLength(layout({ size: 128 * KiB, chunks: [digestOf('a'), digestOf('b')] }), 1)).toBe(64 * KiB)
  })

  it('throws on an index out of range', () => {
    for (const index of [-1, 3, 1.5]) {
      expect(() => expectedChunkLength(layout(), index)).toThrow(expect.objectContaining({ reason: 'chunk-index' }))
    }
  })
})

/**
 * Computed independently (a hand-written CBOR encoder in Python): the map
 * {size, chunks, chunkSize} in dag-cbor key order, SHA-256, CIDv1 dag-cbor.
 */
const GOLDEN_ROOT = 'bafyreicem64c3lk674zakmozjorqbnvsboqo76ezxlh5kwx3k6m6zzz2fy'
