import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadResults } from '../../../src/results-report/index.ts'
import { makeResults } from './fixtures.ts'

describe('loadResults', () => {
  let dir = ''
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'mirage-results-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  async function failure (promise: Promise<unknown>): Promise<Error & { reason?: string, field?: string, file?: string }> {
    try {
      await promise
    } catch (err) {
      return err as Error
    }
    throw new Error('expected a failure')
  }

  it('reads a valid results file', async () => {
    const file = join(dir, 'results.json')
    const results = makeResults()
    await writeFile(file, JSON.stringify(results))
    expect(await loadResults(file)).toEqual(results)
  })

  it('names the file and the field that breaks the schema', async () => {
    const file = join(dir, 'results.json')
    const results = makeResults()
    const doc = JSON.parse(JSON.stringify(results)) as { runs: Array<{ machines: Array<{ events: Array<{ state: string }> }> }> }
    const event = doc.runs[1]?.machines[4]?.events[1]
    if (event === undefined) throw new Error('fixture too small')
    event.state = 'exploded'
    await writeFile(file, JSON.stringify(doc))
    const err = await failure(loadResults(file))
    expect(err.name).toBe('ResultsFileError')
    expect(err.reason).toBe('invalid')
    expect(err.field).toBe('runs[1].machines[4].events[1].state')
    expect(err.file).toBe(file)
    expect(err.message).toContain(file)
    expect(err.message).toContain('runs[1].machines[4].events[1].state')
  })

  it('refuses another format version and unknown fields', async () => {
    const file = join(dir, 'results.json')
    await writeFile(file, JSON.stringify({ ...makeResults(), v: 2, extra: true }))
    const err = await failure(loadResults(file))
    expect(err.reason).toBe('invalid')
    expect(err.message).toMatch(/\bv: /)
  })

  it('says when the file is not JSON or cannot be read', async () => {
    const file = join(dir, 'results.json')
    await writeFile(file, '{"v": 1,')
    const notJson = await failure(loadResults(file))
    expect(notJson.reason).toBe('not-json')
    expect(notJson.message).toContain(file)
    const missing = await failure(loadResults(join(dir, 'nope.json')))
    expect(missing.reason).toBe('unreadable')
    expect(missing.message).toContain('nope.json')
  })
})
