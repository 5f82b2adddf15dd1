import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_CONFIG_TEXT_BYTES, fileIncludes } from '../../../../src/env/parsers/index.ts'
import { expectParseError } from './parser-test-kit.ts'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirage-includes-'))
  await mkdir(join(dir, 'conf.d', 'sub'), { recursive: true })
  await writeFile(join(dir, 'conf.d', 'b.conf'), 'B\n')
  await writeFile(join(dir, 'conf.d', 'a.conf'), 'A\n')
  await writeFile(join(dir, 'conf.d', 'notes.txt'), 'T\n')
  await writeFile(join(dir, 'conf.d', 'sub', 'c.conf'), 'C\n')
})
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('fileIncludes', () => {
  const from = (): string => join(dir, 'main.conf')

  it('resolves relative globs against the includer\'s directory, sorted, files only', async () => {
    const read = fileIncludes()
    const expected = [{ path: join(dir, 'conf.d', 'a.conf'), text: 'A\n' }, { path: join(dir, 'conf.d', 'b.conf'), text: 'B\n' }]
    expect(await read('conf.d/*.conf', from())).toEqual(expected)
    expect(await read(join(dir, 'conf.d', '*.conf'), '/elsewhere/x.conf')).toEqual(expected)
    expect((await read('conf.d/*', from())).map(file => file.path)).toEqual([...expected.map(file => file.path), join(dir, 'conf.d', 'notes.txt')])
    expect(await read('conf.d/[ab].conf', from())).toEqual(expected)
  })

  it('reads a named file, every file under a named directory, and nothing for a missing path', async () => {
    const read = fileIncludes()
    expect(await read('conf.d/a.conf', from())).toEqual([{ path: join(dir, 'conf.d', 'a.conf'), text: 'A\n' }])
    expect(await read('../' + join(dir.split('/').pop() ?? '', 'conf.d', 'b.conf'), from())).toEqual([{ path: join(dir, 'conf.d', 'b.conf'), text: 'B\n' }])
    expect((await read('conf.d', from())).map(file => file.path)).toEqual(['a.conf', 'b.conf', 'notes.txt', 'sub/c.conf'].map(name => join(dir, 'conf.d', name)))
    expect(await read('missing.conf', from())).toEqual([])
    expect(await read('conf.d/a.conf/x', from())).toEqual([])
    expect(await read('nothing/*.conf', from())).toEqual([])
  })

  it('works when the includer\'s directory has glob characters in its name', async () => {
    const odd = join(dir, 'we[ir]d*')
    await mkdir(join(odd, 'x'), { recursive: true })
    await writeFile(join(odd, 'x', 'one.conf'), '1\n')
    expect(await fileIncludes()('x/*.conf', join(odd, 'main.conf'))).toEqual([{ path: join(odd, 'x', 'one.conf'), text: '1\n' }])
  })

  it('refuses a file over the size limit', async () => {
    const big = join(dir, 'conf.d', 'big.conf')
    await writeFile(big, '')
    await truncate(big, MAX_CONFIG_TEXT_BYTES + 1)
    await expectParseError(() => fileIncludes()('conf.d/*.conf', from()), { path: big, reason: 'too-large' })
  })
})
