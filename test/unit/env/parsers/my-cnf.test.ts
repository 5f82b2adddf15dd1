import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { MAX_INCLUDED_FILES, MAX_INCLUDED_TEXT_BYTES, MAX_INCLUDE_DEPTH, fileIncludes, parseMyCnf } from '../../../../src/env/parsers/index.ts'
import type { ReadIncludes } from '../../../../src/env/types.ts'
import { diffItems, expectOneChange, expectParseError, fixturePath, junkText, memoryIncludes, onlyConfigParseErrors, recommented, shuffled } from './parser-test-kit.ts'

const path = fixturePath('mysql/my.cnf')
const files: Record<string, string> = {}
let text: string

beforeAll(async () => {
  text = await readFile(path, 'utf8')
  for (const name of ['my.cnf', 'local.cnf', 'conf.d/mysqld.cnf', 'conf.d/mysqldump.cnf', 'conf.d/README']) {
    files[fixturePath(`mysql/${name}`)] = await readFile(fixturePath(`mysql/${name}`), 'utf8')
  }
})

/** The fixture's includes, with `name` (relative to the fixture dir) replaced by `content`. */
function includesWith (name: string, content: string): ReadIncludes {
  return memoryIncludes({ ...files, [fixturePath(`mysql/${name}`)]: content })
}

/** Groups shuffled among themselves and lines within groups; the include lines stay last. */
function reordered (source: string, seed: number): string {
  const lines = source.split('\n')
  const includes = lines.filter(line => line.startsWith('!'))
  const groups: string[][] = []
  for (const line of lines.filter(l => !l.startsWith('!'))) {
    if (line.startsWith('[') || groups.length === 0) groups.push([line])
    else groups[groups.length - 1]?.push(line)
  }
  const [preamble = [], ...rest] = groups
  return [preamble.join('\n'), ...shuffled(rest, seed).map(([header = '', ...body]) => [header, ...shuffled(body, seed ^ 0x55)].join('\n')), ...includes].join('\n')
}

describe('parseMyCnf on a my.cnf', () => {
  it('names items group.option, with bare options as "" flags and "-" read as "_"', async () => {
    const items = await parseMyCnf(text, path, fileIncludes())
    expect(items.get('client.port')).toBe('3306')
    expect(items.get('client.default_character_set')).toBe('utf8mb4')
    expect(items.get('mysqld.pid_file')).toBe('/var/run/mysqld/mysqld.pid')
    expect(items.get('mysqld.skip_networking')).toBe('')
    expect(items.get('mysqld.skip_external_locking')).toBe('')
    expect(items.get('mysqld.sql_mode')).toBe('STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO')
    expect(items.get('mysqld.init_connect')).toBe('SET NAMES utf8mb4')
    expect(items.get('mysql.no_auto_rehash')).toBe('')
    expect(items.get('mysqld.max_allowed_packet')).toBe('64M')
  })

  it('follows !includedir (only .cnf files) and !include', async () => {
    const items = await parseMyCnf(text, path, fileIncludes())
    expect(items.get('mysqld.performance_schema')).toBe('OFF')
    expect(items.get('mysqld.slow_query_log_file')).toBe('/var/log/mysql/mysql-slow.log')
    expect(items.get('mysqldump.quick')).toBe('')
    expect(items.get('mysqldump.quote_names')).toBe('')
    expect(items.get('mysqldump.max_allowed_packet')).toBe('16M')
    expect(items.get('mysqld.innodb_log_file_size')).toBe('128M')
    expect(items.get('mysqld.port')).toBe('3306') // conf.d/README is not a .cnf file
    expect(items.get('!includedir conf.d/')).toBe('')
    expect(items.get('!include local.cnf')).toBe('')
    expect(await parseMyCnf(text, path, memoryIncludes(files))).toEqual(items)
  })

  it('changes exactly one item when one option changes, here or in an included file', async () => {
    const before = await parseMyCnf(text, path, memoryIncludes(files))
    const parse = async (main: string, includes = memoryIncludes(files)): Promise<Map<string, string>> => parseMyCnf(main, path, includes)
    expectOneChange(before, await parse(text.replace('max_connections         = 151', 'max_connections = 500')), 'mysqld.max_connections')
    expectOneChange(before, await parse(text.replace('key_buffer_size         = 16M\nmax', 'key-buffer-size = 32M\nmax')), 'mysqld.key_buffer_size')
    expectOneChange(before, await parse(text, includesWith('conf.d/mysqld.cnf', (files[fixturePath('mysql/conf.d/mysqld.cnf')] ?? '').replace('long_query_time = 2', 'long_query_time = 10'))), 'mysqld.long_query_time')
    expect(diffItems(before, await parse(text.replace('skip-networking\n', '')))).toEqual({ changed: [], added: [], removed: ['mysqld.skip_networking'] })
  })

  it('treats - and _ in option names alike, and group names regardless of case', async () => {
    const a = await parseMyCnf('[mysqld]\nkey-buffer-size = 16M\nskip_name_resolve\n', 'a.cnf', memoryIncludes({}))
    const b = await parseMyCnf('[MySQLd]\nkey_buffer_size=16M\nskip-name-resolve\n', 'a.cnf', memoryIncludes({}))
    expect(b).toEqual(a)
  })

  it('does not change when lines move within groups, groups move, or comments change', async () => {
    const before = await parseMyCnf(text, path, memoryIncludes(files))
    for (const seed of [1, 2, 3, 42, 1234]) {
      expect(reordered(text, seed)).not.toBe(text)
      expect(await parseMyCnf(reordered(text, seed), path, memoryIncludes(files))).toEqual(before)
    }
    expect(await parseMyCnf(recommented(text, line => line.startsWith('#'), ';'), path, memoryIncludes(files))).toEqual(before)
    expect(await parseMyCnf(text.replace('bind-address    = 127.0.0.1', 'bind-address = "127.0.0.1" # loopback only'), path, memoryIncludes(files))).toEqual(before)
  })

  it('names the file and line of malformed input, in included files too', async () => {
    const includes = memoryIncludes(files)
    await expectParseError(() => parseMyCnf('# header\nport = 3306\n[mysqld]\n', path, includes), { path, line: 2, reason: 'syntax', message: /without a preceding "\[group\]"/ })
    await expectParseError(() => parseMyCnf('[mysqld]\nport = 1\n[mysqld\n', path, includes), { path, line: 3 })
    await expectParseError(() => parseMyCnf('[mysqld]\n!inclde /etc/x.cnf\n', path, includes), { path, line: 2 })
    await expectParseError(() => parseMyCnf('[mysqld]\nkey buffer = 1\n', path, includes), { path, line: 2 })
    const local = fixturePath('mysql/local.cnf')
    await expectParseError(() => parseMyCnf(text, path, includesWith('local.cnf', '[mysqld]\n\n= 5\n')), { path: local, line: 3 })
  })

  it('bounds the number and total size of included files', async () => {
    const many: Record<string, string> = {}
    for (let i = 0; i <= MAX_INCLUDED_FILES; i++) many[`/etc/mysql/conf.d/f${i}.cnf`] = `[g]\nk${i} = 1\n`
    await expectParseError(() => parseMyCnf('!includedir conf.d\n', '/etc/mysql/my.cnf', memoryIncludes(many)), { path: '/etc/mysql/my.cnf', line: 1, reason: 'too-many-items' })
    const comment = `# ${'x'.repeat(8 * 1024 * 1024)}\n`
    const large: Record<string, string> = {}
    for (let i = 0; i < MAX_INCLUDED_TEXT_BYTES / (8 * 1024 * 1024); i++) large[`/etc/mysql/conf.d/f${i}.cnf`] = comment
    await expectParseError(() => parseMyCnf('[mysqld]\n\n!includedir conf.d\n', '/etc/mysql/my.cnf', memoryIncludes(large)), { path: '/etc/mysql/my.cnf', line: 3, reason: 'too-large' })
  })

  it('throws nothing but ConfigParseError on junk, includes included', async () => {
    const junk = junkText(['[mysqld]', '[', ']', 'port', '=', '!include ', '!includedir ', 'a.cnf', 'skip-x', '-'])
    await fc.assert(fc.asyncProperty(junk, junk, async (main, other) => {
      const includes = memoryIncludes({ '/etc/mysql/a.cnf': other, '/etc/mysql/my.cnf': main, '/etc/mysql/d/b.cnf': other })
      await onlyConfigParseErrors(() => parseMyCnf(main, '/etc/mysql/my.cnf', includes))
    }), { numRuns: 300 })
  })
})

describe('parseMyCnf includes on a real filesystem', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'mirage-mycnf-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('records a missing !include or empty !includedir as "missing"', async () => {
    const main = join(dir, 'my.cnf')
    await mkdir(join(dir, 'empty.d'))
    const items = await parseMyCnf(`[mysqld]\nport = 3306\n!include ${dir}/nope.cnf\n!includedir ${dir}/empty.d\n!includedir ${dir}/absent.d/\n`, main, fileIncludes())
    expect(Object.fromEntries(items)).toEqual({
      'mysqld.port': '3306',
      [`!include ${dir}/nope.cnf`]: 'missing',
      [`!includedir ${dir}/empty.d`]: 'missing',
      [`!includedir ${dir}/absent.d/`]: 'missing'
    })
  })

  it('reads !includedir files sorted, and a later file adds to, not replaces, an option', async () => {
    await mkdir(join(dir, 'conf.d'))
    await writeFile(join(dir, 'conf.d', 'b.cnf'), '[mysqld]\nport = 3307\n')
    await writeFile(join(dir, 'conf.d', 'a.cnf'), '[mysqld]\nport = 3306\n[client]\nuser = shop\n')
    await writeFile(join(dir, 'conf.d', 'c.conf'), '[mysqld]\nport = 9\n')
    const items = await parseMyCnf('!includedir conf.d\n', join(dir, 'my.cnf'), fileIncludes())
    expect(items.get('mysqld.port')).toBe('3306\n3307')
    expect(items.get('client.user')).toBe('shop')
  })

  it('refuses include cycles and chains deeper than the limit', async () => {
    const a = join(dir, 'a.cnf')
    const b = join(dir, 'b.cnf')
    await writeFile(a, '[mysqld]\n!include b.cnf\n')
    await writeFile(b, '[client]\n\n!include a.cnf\n')
    await expectParseError(async () => parseMyCnf(await readFile(a, 'utf8'), a, fileIncludes()), { path: b, line: 3, reason: 'include-cycle', message: /a\.cnf → .*b\.cnf → .*a\.cnf/ })
    await writeFile(a, '!includedir .\n')
    await expectParseError(async () => parseMyCnf(await readFile(a, 'utf8'), a, fileIncludes()), { path: a, line: 1, reason: 'include-cycle' })

    for (let i = 0; i <= MAX_INCLUDE_DEPTH + 1; i++) await writeFile(join(dir, `d${i}.cnf`), `[g${i}]\nk = ${i}\n!include d${i + 1}.cnf\n`)
    const first = join(dir, 'd0.cnf')
    await expectParseError(async () => parseMyCnf(await readFile(first, 'utf8'), first, fileIncludes()), { path: join(dir, `d${MAX_INCLUDE_DEPTH}.cnf`), line: 3, reason: 'include-depth' })
  })
})
