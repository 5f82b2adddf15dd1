/**
 * The census file reader (`vendor cluster`'s input) and the atomic census
 * writer (`vendor census`): valid files in both layouts, and malformed,
 * truncated, oversized and invalid ones, each refused naming the entry.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_CENSUS_LINE_BYTES, readCensusFile, saveCensus } from '../../../src/vendor/index.ts'
import type { CensusFileEntry, ReadCensusOptions } from '../../../src/vendor/index.ts'
import { makeMachine, sampleFingerprint } from '../../helpers/census-fixtures.ts'

let dir: string
let peers: string[]

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirage-census-file-'))
  peers = await Promise.all([1, 2, 3].map(async () => (await makeMachine()).peerId.toString()))
})
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

function entry (i: number, variant = 'a'): CensusFileEntry {
  return { peerId: peers[i] ?? '', receivedAt: 1_790_000_000_000 + i, fingerprint: sampleFingerprint('webshop', variant) }
}

/** The layout `vendor census` writes: one entry per line. */
function perLine (values: unknown[]): string {
  return `[\n${values.map(v => JSON.stringify(v)).join(',\n')}${values.length === 0 ? '' : '\n'}]\n`
}

async function read (text: string, options: ReadCensusOptions = {}, app: string | undefined = 'webshop'): Promise<CensusFileEntry[]> {
  const file = join(dir, 'census.json')
  await writeFile(file, text)
  const out: CensusFileEntry[] = []
  for await (const e of readCensusFile(file, app, options)) out.push(e)
  return out
}

async function failure (text: string, options: ReadCensusOptions = {}): Promise<{ name: string, reason: string, entry: number | undefined, message: string }> {
  try {
    await read(text, options)
  } catch (err) {
    const e = err as { name: string, reason: string, entry: number | undefined, message: string }
    return { name: e.name, reason: e.reason, entry: e.entry, message: e.message }
  }
  throw new Error('expected the census to be refused')
}

const LINE_MODE: ReadCensusOptions = { maxWholeFileBytes: 0 }

describe('reading a census file', () => {
  it('reads both layouts: one entry per line, and any JSON array when small', async () => {
    const entries = [entry(0), entry(1, 'b'), entry(2)]
    expect(await read(perLine(entries), LINE_MODE)).toEqual(entries)
    expect(await read(JSON.stringify(entries, null, 2))).toEqual(entries)
    expect(await read(perLine([]), LINE_MODE)).toEqual([])
  })

  it('names the entry and its peer when a fingerprint is invalid', async () => {
    const bad = { ...entry(1), fingerprint: { ...sampleFingerprint(), facts: [{ resource: 'libmysql', item: '', value: 'cleartext!' }] } }
    for (const options of [{}, LINE_MODE]) {
      const error = await failure(perLine([entry(0), bad, entry(2)]), options)
      expect(error).toMatchObject({ name: 'CensusFileError', reason: 'entry', entry: 1 })
      expect(error.message).toContain(`entry [1] (peer ${peers[1] ?? ''})`)
      expect(error.message).toContain('value hash')
    }
  })

  it('refuses malformed entries, naming each', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['no fingerprint', { peerId: peers[0], receivedAt: 1 }, 'fingerprint'],
      ['an extra field', { ...entry(0), note: 'x' }, 'unknown field'],
      ['not a peer id', { ...entry(0), peerId: 'alice' }, 'is not a peer id'],
      ['a negative time', { ...entry(0), receivedAt: -5 }, 'receivedAt'],
      ['a __proto__ resource', { ...entry(0), fingerprint: JSON.parse('{"format":1,"app":"webshop","resources":{"__proto__":{"kind":"env","relevant":true,"weight":1}},"facts":[],"notes":[]}') as unknown }, '__proto__'],
      ['not an object', 42, 'expected']
    ]
    for (const [what, value, text] of cases) {
      const error = await failure(perLine([entry(1), value]))
      expect(error, what).toMatchObject({ name: 'CensusFileError', entry: 1 })
      expect(error.message, what).toContain(text)
    }
  })

  it('refuses a fingerprint of another app and a peer listed twice', async () => {
    expect(await failure(perLine([entry(0), { ...entry(1), fingerprint: sampleFingerprint('blog') }]))).toMatchObject({ reason: 'wrong-app', entry: 1 })
    expect(await failure(perLine([entry(0), entry(1), entry(0, 'b')]))).toMatchObject({ reason: 'duplicate', entry: 2 })
  })

  it('refuses files that are not a census', async () => {
    expect(await failure('not json at all')).toMatchObject({ reason: 'not-json', entry: undefined })
    expect(await failure('{"peerId": 1}')).toMatchObject({ reason: 'not-an-array' })
    expect(await failure('')).toMatchObject({ reason: 'not-json' })
  })

  it('in the per-line layout: refuses a truncated file, a bad first line, trailing data and a line that is not JSON', async () => {
    const good = perLine([entry(0), entry(1)])
    expect((await failure(good.slice(0, good.lastIndexOf(']')), LINE_MODE)).message).toContain('truncated')
    expect((await failure(`{\n${good}`, LINE_MODE)).message).toContain('first line')
    expect((await failure(`${good}[]\n`, LINE_MODE)).message).toContain('nothing may follow')
    const broken = `[\n${JSON.stringify(entry(0))},\n{"peerId": \n]\n`
    expect(await failure(broken, LINE_MODE)).toMatchObject({ reason: 'not-json', entry: 1 })
  })

  it('in the per-line layout: refuses a line over the limit without holding it', async () => {
    const huge = `[\n"${'x'.repeat(MAX_CENSUS_LINE_BYTES + 10)}"\n]\n`
    expect(await failure(huge, LINE_MODE)).toMatchObject({ name: 'CensusFileError', reason: 'too-large' })
  })

  it('refuses a missing file with a named error', async () => {
    const iterator = readCensusFile(join(dir, 'absent.json'))
    await expect(iterator.next()).rejects.toMatchObject({ name: 'CensusFileError', reason: 'unreadable' })
  })
})

describe('saving a census', () => {
  async function * chunks (text: string, size = 7): AsyncGenerator<string> {
    for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size)
  }

  it('writes the file once every entry validated, and counts machines and fingerprints', async () => {
    const file = join(dir, 'census.json')
    const text = perLine([entry(0), entry(1), entry(2, 'b')])
    expect(await saveCensus(chunks(text), file, 'webshop')).toEqual({ machines: 3, fingerprints: 2 })
    expect(await readFile(file, 'utf8')).toBe(text)
    expect(await readdir(dir)).toEqual(['census.json'])
  })

  it('leaves the previous file and no temp file when the census is cut short or invalid', async () => {
    const file = join(dir, 'census.json')
    await writeFile(file, 'previous')
    const text = perLine([entry(0), entry(1)])
    await expect(saveCensus(chunks(text.slice(0, text.length - 30)), file, 'webshop')).rejects.toMatchObject({ name: 'CensusFileError' })
    await expect(saveCensus(chunks(text), file, 'blog')).rejects.toMatchObject({ name: 'CensusFileError', reason: 'wrong-app' })
    const error = await saveCensus(chunks(text), file, 'blog').catch((err: Error) => err)
    expect((error as Error).message).toContain(`${file} (as received)`)
    expect(await readFile(file, 'utf8')).toBe('previous')
    expect(await readdir(dir)).toEqual(['census.json'])
  })
})
