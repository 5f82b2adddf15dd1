import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import {
  describeHead, guessFileKind, inspectTracedFiles, namedPaths, parseStrace, proposeSpec, tempDirs, tracedFilePaths
} from '../../../src/env/trace/index.ts'
import type { FileFacts, InspectIo, TraceEvent } from '../../../src/env/trace/index.ts'
import { locationExclusion } from '../../../src/env/trace/classify-path.ts'
import { RESOURCE_NAME_PATTERN, uniqueResourceNames } from '../../../src/env/trace/resource-names.ts'
import { checkEnvSpec } from '../../../src/env/index.ts'

/** A minimal ELF64 little-endian header, with a PT_INTERP program header when `interpreter` is given. */
function elf (interpreter?: string): Uint8Array {
  const bytes = new Uint8Array(4096)
  const view = new DataView(bytes.buffer)
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1])
  view.setBigUint64(0x20, 64n, true) // e_phoff
  view.setUint16(0x36, 56, true) // e_phentsize
  view.setUint16(0x38, interpreter === undefined ? 0 : 2, true) // e_phnum
  view.setUint32(64, 6, true) // PT_PHDR, skipped
  if (interpreter !== undefined) {
    view.setUint32(120, 3, true) // PT_INTERP
    view.setBigUint64(128, 0x200n, true) // p_offset
    view.setBigUint64(152, BigInt(interpreter.length + 1), true) // p_filesz, with the NUL
    bytes.set(Buffer.from(interpreter), 0x200)
  }
  return bytes
}

const LOADER = '/lib64/ld-linux-x86-64.so.2'

describe('file heads', () => {
  it('finds the dynamic loader of an ELF program and the interpreter of a script', () => {
    expect(describeHead(elf(LOADER))).toEqual({ elf: true, interpreter: LOADER, interpreterFrom: 'pt-interp' })
    expect(describeHead(elf())).toEqual({ elf: true })
    expect(describeHead(Buffer.from('#!/bin/sh -e\necho hi\n'))).toEqual({ elf: false, interpreter: '/bin/sh', interpreterFrom: 'shebang' })
    expect(describeHead(Buffer.from('#! /usr/bin/env python3\n'))).toMatchObject({ interpreter: '/usr/bin/env' })
    expect(describeHead(Buffer.from('#!python\n'))).toEqual({ elf: false })
    expect(describeHead(Buffer.from('[mysqld]\nport=3306\n'))).toEqual({ elf: false })
    expect(describeHead(new Uint8Array(0))).toEqual({ elf: false })
  })

  it('gives up quietly on truncated or malformed ELF headers', () => {
    const whole = elf(LOADER)
    expect(describeHead(whole.subarray(0, 4))).toEqual({ elf: true })
    expect(describeHead(whole.subarray(0, 100))).toEqual({ elf: true })
    expect(describeHead(whole.subarray(0, 0x205))).toEqual({ elf: true })
    const hostile = elf(LOADER)
    new DataView(hostile.buffer).setBigUint64(0x20, 2n ** 63n, true)
    expect(describeHead(hostile)).toEqual({ elf: true })
    const manyHeaders = elf(LOADER)
    new DataView(manyHeaders.buffer).setUint16(0x38, 0xffff, true)
    expect(describeHead(manyHeaders)).toMatchObject({ elf: true, interpreter: LOADER })
    let seed = 3
    for (let i = 0; i < 500; i++) {
      const noise = elf()
      for (let j = 4; j < 200; j++) { seed = (seed * 48271) % 2147483647; noise[j] = seed & 0xff }
      expect(() => describeHead(noise)).not.toThrow()
    }
  })

  it.skipIf(!existsSync('/usr/bin/cat'))('reads the loader of a real program (/usr/bin/cat)', async () => {
    const head = (await readFile('/usr/bin/cat')).subarray(0, 4096)
    expect(describeHead(head)).toMatchObject({ elf: true, interpreterFrom: 'pt-interp', interpreter: expect.stringMatching(/^\/lib.*\/ld-/) })
  })
})

describe('path rules', () => {
  it('guesses the kind of a file by name and place', () => {
    const cases: Array<[string, string]> = [
      ['/etc/php/8.2/apache2/php.ini', 'ini'], ['/srv/app/settings.INI', 'ini'], ['/etc/mysql/my.cnf', 'mycnf'],
      ['/etc/mysql/conf.d/mysqld.cnf', 'mycnf'], ['/etc/apache2/apache2.conf', 'apache'], ['/etc/apache2/envvars', 'apache'],
      ['/etc/httpd/conf/httpd.conf', 'apache'], ['/opt/httpd.conf', 'apache'], ['/etc/app/config.json', 'json'],
      ['/etc/app/a.yaml', 'yaml'], ['/etc/app/b.yml', 'yaml'], ['/etc/app/README', 'text'], ['/usr/lib/libfoo.so.1.2', 'binary'],
      ['/usr/lib/php/20220829/mysqli.so', 'binary']
    ]
    for (const [path, kind] of cases) expect(guessFileKind(path, false), path).toBe(kind)
    expect(guessFileKind('/opt/tool/data.bin', true)).toBe('binary')
  })

  it('excludes by location, with heuristics that a named path escapes', () => {
    const temp = ['/tmp', '/var/tmp', '/scratch']
    const cases: Array<[string, string | undefined]> = [
      ['/proc/self/stat', 'pseudo-fs'], ['/sys/kernel/mm/x', 'pseudo-fs'], ['/dev/urandom', 'pseudo-fs'], ['/run/app.pid', 'pseudo-fs'],
      ['/var/run/x', 'pseudo-fs'], ['/tmp/x.ini', 'temp'], ['/scratch/y', 'temp'], ['/tmpfoo/app.ini', undefined],
      ['/etc/ld.so.cache', 'cache'], ['/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache', 'cache'], ['/home/u/.cache/x', 'cache'],
      ['/var/cache/app/y', 'cache'], ['/usr/lib/locale/C.utf8/LC_CTYPE', 'locale'], ['/usr/share/locale/locale.alias', 'locale'],
      ['/var/lib/dpkg/status', 'variable-data'], ['/var/log/app.log', 'variable-data'], ['/var/www/html/index.php', undefined],
      ['/etc/app.ini', undefined]
    ]
    for (const [path, reason] of cases) expect(locationExclusion(path, { tempDirs: temp }), path).toBe(reason)
    expect(locationExclusion('/tmp/x.ini', { tempDirs: temp, heuristics: false })).toBeUndefined()
    expect(locationExclusion('/proc/self/stat', { tempDirs: temp, heuristics: false })).toBe('pseudo-fs')
  })

  it('names resources by base name, adding directories only to tell equal names apart', () => {
    const names = uniqueResourceNames(['/etc/php/8.2/apache2/php.ini', '/etc/php/8.2/cli/php.ini', '/usr/bin/php', '/a/x/conf', '/b/a/x/conf', '/c/conf'])
    expect(Object.fromEntries(names)).toEqual({
      '/etc/php/8.2/apache2/php.ini': 'apache2/php.ini',
      '/etc/php/8.2/cli/php.ini': 'cli/php.ini',
      '/usr/bin/php': 'php',
      '/a/x/conf': 'a/x/conf',
      '/b/a/x/conf': 'b/a/x/conf',
      '/c/conf': 'c/conf'
    })
    expect(new Set(names.values()).size).toBe(names.size)
  })

  it('makes names a spec accepts: odd characters replaced, no leading dot, at most 200 characters, still unique', () => {
    const long = `/srv/${'d'.repeat(300)}/${'f'.repeat(250)}.ini`
    const paths = ['/home/u/.bashrc', '/tmp/stx/we"ird\tné>a<b|c.ini', '/srv/a b.conf', '/srv/a_b.conf', long, '/srv/...']
    const names = uniqueResourceNames(paths)
    expect(names.get('/home/u/.bashrc')).toBe('bashrc')
    expect(names.get('/tmp/stx/we"ird\tné>a<b|c.ini')).toBe('we_ird_n__a_b_c.ini')
    expect([names.get('/srv/a b.conf'), names.get('/srv/a_b.conf')]).toEqual(['a_b.conf', 'a_b.conf-2'])
    expect(names.get(long)).toMatch(/^f+\.ini$/)
    expect(names.get('/srv/...')).toBe('file')
    for (const name of names.values()) expect(name).toMatch(RESOURCE_NAME_PATTERN)
    expect(new Set(names.values()).size).toBe(paths.length)
  })

  it('takes temp dirs from $TMPDIR and named paths from the command line', () => {
    expect(tempDirs('/scratch/tmp/')).toEqual(expect.arrayContaining(['/tmp', '/var/tmp', '/scratch/tmp']))
    expect(tempDirs('relative')).not.toContain('relative')
    expect(namedPaths(['./run.sh', '--config=/etc/app.ini', '-v', 'conf/x.yaml', ''], '/srv')).toEqual(
      ['/srv/run.sh', '/etc/app.ini', '/srv/conf/x.yaml'])
  })
})

/** A fake file system for the recorded script-chdir-y trace: what `inspectTracedFiles` would find on that machine. */
const fakeIo: InspectIo = {
  async kind (path) { return path === '/tmp/stx/gone.ini' ? undefined : 'file' },
  async realPath (path) {
    const real: Record<string, string> = {
      '/bin/sh': '/usr/bin/dash',
      [LOADER]: '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      '/lib/x86_64-linux-gnu/libpcre2-8.so.0': '/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2'
    }
    return real[path] ?? path.replace(/^\/lib\//, '/usr/lib/')
  },
  async readHead (path) {
    if (path === '/tmp/stx/run.sh') return Buffer.from('#!/bin/sh\ncd conf\n')
    if (['/bin/sh', '/usr/bin/cat', '/usr/bin/mkdir'].includes(path)) return elf(LOADER)
    if (/\.so(\.\d+)*$/.test(path)) return elf()
    return Buffer.from('key = value\n')
  }
}

describe('proposing a spec', () => {
  it('proposes executables, interpreters, libraries and config files of a recorded trace, and says what it left out', async () => {
    const text = await readFile(new URL('../../fixtures/trace/script-chdir-y.strace', import.meta.url), 'utf8')
    const { events } = parseStrace(text, { cwd: '/tmp/stx' })
    const files = await inspectTracedFiles(events, fakeIo)
    expect(files.get('/bin/sh')).toMatchObject({ elf: true, interpreter: LOADER, realPath: '/usr/bin/dash' })
    expect(files.has(LOADER)).toBe(true)
    expect([...files.keys()].some(p => p.startsWith('/proc') || p.startsWith('/dev'))).toBe(false)

    // As if /tmp/stx were the application's directory, not a temporary one.
    const proposal = proposeSpec(events, { app: 'demo', files, tempDirs: [], namedPaths: ['/tmp/stx/run.sh'] })
    expect(proposal.spec.format).toBe(1)
    expect(proposal.spec.app).toBe('demo')
    expect(proposal.entries.map(e => [e.role, e.resource.name, e.resource.kind, e.resource.path])).toEqual([
      ['executable', 'sh', 'binary', '/bin/sh'],
      ['executable', 'run.sh', 'binary', '/tmp/stx/run.sh'],
      ['executable', 'cat', 'binary', '/usr/bin/cat'],
      ['executable', 'mkdir', 'binary', '/usr/bin/mkdir'],
      ['library', 'libc.so.6', 'binary', '/lib/x86_64-linux-gnu/libc.so.6'],
      ['library', 'libpcre2-8.so.0', 'binary', '/lib/x86_64-linux-gnu/libpcre2-8.so.0'],
      ['library', 'libselinux.so.1', 'binary', '/lib/x86_64-linux-gnu/libselinux.so.1'],
      ['library', 'ld-linux-x86-64.so.2', 'binary', LOADER],
      ['file', 'app.ini', 'ini', '/tmp/stx/app.ini'],
      ['file', 'my.cnf', 'mycnf', '/tmp/stx/conf/my.cnf']
    ])
    expect(proposal.entries[0]?.note).toBe('interpreter of /tmp/stx/run.sh')
    expect(proposal.entries[7]?.note).toMatch(/^dynamic loader of /)
    expect(proposal.spec.resources[8]).toEqual({ name: 'app.ini', kind: 'ini', path: '/tmp/stx/app.ini', relevant: true })
    expect(proposal.spec.resources.every(r => r.relevant)).toBe(true)
    // What the owner gets is a valid spec as it stands (src/env/spec.ts).
    expect(checkEnvSpec(proposal.spec, 'proposal').resources).toHaveLength(10)

    const reasons = Object.fromEntries(proposal.excluded.filter(x => x.reason !== 'locale').map(x => [x.path, x.reason]))
    expect(reasons).toEqual({
      '/etc/ld.so.cache': 'cache',
      '/proc/filesystems': 'pseudo-fs',
      '/tmp/stx/result.txt': 'written',
      '/tmp/stx/state/pid': 'written',
      '/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache': 'cache'
    })
    expect(proposal.excluded.filter(x => x.reason === 'locale')).toHaveLength(14)
    expect(proposal.excluded.map(x => x.path)).toEqual([...proposal.excluded.map(x => x.path)].sort())

    // With /tmp as a temporary directory, the configs there go, but the script named on the command line stays.
    const inTmp = proposeSpec(events, { app: 'demo', files, namedPaths: ['/tmp/stx/run.sh'] })
    expect(inTmp.spec.resources.map(r => r.name)).toContain('run.sh')
    expect(inTmp.spec.resources.map(r => r.name)).not.toContain('app.ini')
    expect(inTmp.excluded).toContainEqual({ path: '/tmp/stx/conf/my.cnf', reason: 'temp' })
  })

  const ev = (action: TraceEvent['action'], path: string, extra: Partial<TraceEvent> = {}): TraceEvent =>
    ({ pid: 1, syscall: action === 'exec' ? 'execve' : 'openat', action, path, ok: true, ...extra })

  it('leaves out data: written under any name, in created directories, gone, directories, relative, glob-like', () => {
    const events: TraceEvent[] = [
      ev('read', '/srv/app/db.sqlite'), ev('write', '/srv/app/link-to-db', { resolvedPath: '/srv/app/db.sqlite' }),
      ev('mkdir', '/srv/app/cache-dir'), ev('read', '/srv/app/cache-dir/entry'),
      ev('read', '/srv/app/gone.ini'), ev('read', '/srv/app', { directory: true }), ev('read', 'rel.ini'),
      ev('read', '/srv/app/[x].conf'), ev('read', '/srv/app/missing.ini', { ok: false, errno: 'ENOENT' }),
      ev('read', '/srv/app/app.ini')
    ]
    const files = new Map<string, FileFacts>([['/srv/app/gone.ini', { type: 'missing', elf: false }]])
    const proposal = proposeSpec(events, { app: 'x', files })
    expect(proposal.spec.resources.map(r => r.path)).toEqual(['/srv/app/app.ini'])
    expect(proposal.excluded).toEqual([
      { path: '/srv/app', reason: 'directory' },
      { path: '/srv/app/[x].conf', reason: 'glob-characters' },
      { path: '/srv/app/cache-dir/entry', reason: 'under-created-dir' },
      { path: '/srv/app/db.sqlite', reason: 'written' },
      { path: '/srv/app/gone.ini', reason: 'gone' },
      { path: '/srv/app/link-to-db', reason: 'written' },
      { path: 'rel.ini', reason: 'relative' }
    ])
  })

  it('disambiguates equal names, marks machine-specific files not relevant, and guesses kinds without file facts', () => {
    const events = [
      ev('exec', '/usr/sbin/apache2'), ev('read', '/usr/lib/apache2/modules/libphp8.2.so'),
      ev('read', '/etc/php/8.2/apache2/php.ini'), ev('read', '/etc/php/8.2/cli/php.ini'),
      ev('read', '/etc/apache2/apache2.conf'), ev('read', '/etc/hosts'), ev('read', '/etc/app/site.yaml')
    ]
    const { spec, entries } = proposeSpec(events, { app: 'webshop' })
    expect(spec.resources).toEqual([
      { name: 'apache2', kind: 'binary', path: '/usr/sbin/apache2', relevant: true },
      { name: 'libphp8.2.so', kind: 'binary', path: '/usr/lib/apache2/modules/libphp8.2.so', relevant: true },
      { name: 'apache2.conf', kind: 'apache', path: '/etc/apache2/apache2.conf', relevant: true },
      { name: 'site.yaml', kind: 'yaml', path: '/etc/app/site.yaml', relevant: true },
      { name: 'hosts', kind: 'text', path: '/etc/hosts', relevant: false },
      { name: 'apache2/php.ini', kind: 'ini', path: '/etc/php/8.2/apache2/php.ini', relevant: true },
      { name: 'cli/php.ini', kind: 'ini', path: '/etc/php/8.2/cli/php.ini', relevant: true }
    ])
    expect(entries.map(e => e.role)).toEqual(['executable', 'library', 'file', 'file', 'file', 'file', 'file'])
    expect(checkEnvSpec(spec, 'proposal').resources.map(r => r.relevant)).toEqual(spec.resources.map(r => r.relevant))
  })

  it('stays within the resources a spec may hold, naming what it left out', () => {
    const events = [ev('exec', '/usr/bin/app'), ev('read', '/usr/lib/libx.so.1'), ev('read', '/etc/a.ini'), ev('read', '/etc/b.ini')]
    const { spec, excluded } = proposeSpec(events, { app: 'x', maxResources: 3 })
    expect(spec.resources.map(r => r.path)).toEqual(['/usr/bin/app', '/usr/lib/libx.so.1', '/etc/a.ini'])
    expect(excluded).toEqual([{ path: '/etc/b.ini', reason: 'over-limit' }])
  })

  it('is deterministic: the order of events does not change the spec', () => {
    const events = [
      ev('exec', '/usr/bin/b'), ev('exec', '/usr/bin/a'), ev('read', '/lib/x/libz.so.1', { resolvedPath: '/usr/lib/x/libz.so.1.3' }),
      ev('read', '/usr/lib/x/libz.so.1', { resolvedPath: '/usr/lib/x/libz.so.1.3' }), ev('read', '/etc/b.json'), ev('read', '/etc/a.json'),
      ev('write', '/var/app/out'), ev('read', '/proc/cpuinfo')
    ]
    const first = JSON.stringify(proposeSpec(events, { app: 'x' }))
    expect(JSON.stringify(proposeSpec([...events].reverse(), { app: 'x' }))).toBe(first)
    // two names for one library are one resource, under the smaller name
    expect(proposeSpec(events, { app: 'x' }).spec.resources.filter(r => r.name === 'libz.so.1').map(r => r.path)).toEqual(['/lib/x/libz.so.1'])
  })

  it('inspects only files that may be opened safely', () => {
    const paths = tracedFilePaths([
      ev('read', '/dev/tty'), ev('read', '/proc/self/maps'), ev('read', '/etc/a', { resolvedPath: '/etc/b' }),
      ev('read', '/etc/dir', { directory: true }), ev('write', '/etc/w'), ev('read', '/etc/failed', { ok: false }), ev('read', 'rel')
    ])
    expect(paths).toEqual(['/etc/a', '/etc/b'])
  })
})
