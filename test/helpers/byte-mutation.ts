import fc from 'fast-check'

/** Random single-byte edits, truncations and insertions, for fuzzing decoders of network data. */
export const byteMutation = fc.tuple(fc.constantFrom('flip', 'truncate', 'insert', 'delete'), fc.nat(), fc.nat(255))

export function mutateBytes (bytes: Uint8Array, [kind, at, value]: [string, number, number]): Uint8Array {
  const i = at % Math.max(1, bytes.length)
  const out = Array.from(bytes)
  if (kind === 'flip') out[i] = (out[i] ?? 0) ^ (1 << (value % 8))
  if (kind === 'truncate') return bytes.subarray(0, i)
  if (kind === 'insert') out.splice(i, 0, value)
  if (kind === 'delete') out.splice(i, 1)
  return Uint8Array.from(out)
}
