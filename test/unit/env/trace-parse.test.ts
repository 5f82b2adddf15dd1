import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { createStraceParser, parseStrace } from '../../../src/env/trace/index.ts'
import type { TraceEvent } from '../../../src/env/trace/index.ts'
import { parseFd, parseResult, splitSyscall, unescapeStrace, unquoteString } from '../../../src/env/trace/strace-syntax.ts'

/** Recorded with strace 6.1 on Debian 12, in /tmp/stx (see the test names for the flags). */
async function fixture (name: string): Promise<string> {
  return await readFile(new URL(`../../fixtures/trace/${name}`, import.meta.url), 'utf8')
}

function find (events: TraceEvent[], match: Partial<TraceEvent>): TraceEvent | undefined {
  return events.find(e => Object.entries(match).every(([key, value]) => e[key as keyof TraceEvent] === value))
}

describe('strace syntax', () => {
  it('splits a call into name, top-level arguments and result', () => {
    const call = splitSyscall('openat(AT_FDCWD</tmp/a, b)>, "/etc/x,y)", O_RDONLY|O_CLOEXEC) = 3</etc/x,y)>')
    expect(call).toEqual({ name: 'openat', args: ['AT_FDCWD</tmp/a, b)>', '"/etc/x,y)"', 'O_RDONLY|O_CLOEXEC'], result: '3</etc/x,y)>' })
    const exec = splitSyscall('execve("/bin/sh", ["/bin/sh", "-c", "a, b"...], 0x7ffc47e69eb8 /* 35 vars */) = 0')
    expect(exec?.args).toHaveLength(3)
    expect(exec?.result).toBe('0')
    const openat2 = splitSyscall('openat2(AT_FDCWD, "/etc/app.ini", {flags=O_RDONLY|O_CLOEXEC, resolve=RESOLVE_NO_SYMLINKS}, 24) = 3')
    expect(openat2?.args[2]).toBe('{flags=O_RDONLY|O_CLOEXEC, resolve=RESOLVE_NO_SYMLINKS}')
    expect(splitSyscall('vfork()                           = 32535')).toEqual({ name: 'vfork', args: [], result: '32535' })
  })

  it('refuses fragments and junk', () => {
    expect(splitSyscall('openat(AT_FDCWD, "/etc/x", O_RDONLY')).toBeUndefined()
    expect(splitSyscall('openat(AT_FDCWD, "/etc/x) = 3')).toBeUndefined()
    expect(splitSyscall('openat(AT_FDCWD, "/etc/x")')).toBeUndefined()
    expect(splitSyscall('hello world')).toBeUndefined()
    expect(splitSyscall('')).toBeUndefined()
  })

  it('undoes strace quoting: C escapes, octal, hex, and non-UTF-8 bytes refused', () => {
    expect(unquoteString('"we\\"ird\\tn\\303\\251>a<b|c.ini"')).toBe('we"ird\tné>a<b|c.ini')
    expect(unquoteString('"nl\\nx.conf"')).toBe('nl\nx.conf')
    expect(unquoteString('"\\xc3\\xa9t\\x65"')).toBe('éte')
    expect(unquoteString('"back\\\\slash"')).toBe('back\\slash')
    expect(unquoteString('"cut short"...')).toBeUndefined()
    expect(unquoteString('NULL')).toBeUndefined()
    expect(unquoteString('"\\377\\376"')).toBeUndefined()
    expect(unescapeStrace('trailing\\')).toBeUndefined()
    expect(unescapeStrace('\\0001')).toBe('\u00001')
  })

  it('reads -y descriptor paths, escaped < and > included', () => {
    expect(parseFd('AT_FDCWD</tmp/stx>')).toEqual({ fd: 'AT_FDCWD', path: '/tmp/stx' })
    expect(parseFd('3</tmp/stx/we\\"ird\\tn\\303\\251\\76a\\74b|c.ini>')).toEqual({ fd: '3', path: '/tmp/stx/we"ird\tné>a<b|c.ini' })
    expect(parseFd('AT_FDCWD')).toEqual({ fd: 'AT_FDCWD' })
    expect(parseFd('5<socket:[12345]>')).toEqual({ fd: '5' })
    expect(parseFd('4</tmp/gone (deleted)>')).toEqual({ fd: '4', path: '/tmp/gone' })
  })

  it('reads results: descriptors with paths, errors, unknowns', () => {
    expect(parseResult('3</etc/ld.so.cache>')).toEqual({ value: 3, path: '/etc/ld.so.cache' })
    expect(parseResult('-1 ENOENT (No such file or directory)')).toEqual({ value: -1, errno: 'ENOENT' })
    expect(parseResult('?')).toEqual({})
    expect(parseResult('0x7f00')).toEqual({ value: 0x7f00 })
    expect(parseResult('3</unterminated')).toBeUndefined()
    expect(parseResult('garbage')).toBeUndefined()
  })
})

describe('strace parser on recorded traces', () => {
  it('joins <unfinished ...>/resumed pairs across pids, follows chdir, and marks failures (-f -y, no -z)', async () => {
    // strace -f -qq -y -e trace=... /bin/sh -c 'cat app.ini > out.txt; cd /etc && cat ./hostname >/dev/null; ls nosuch; echo x | cat'
    const { events, stats } = parseStrace(await fixture('sh-cat-unfinished.strace'), { cwd: '/tmp/stx' })
    expect(stats).toMatchObject({ lines: 158, ignoredLines: 0 })
    expect(stats.truncated).toBeUndefined()
    expect(find(events, { pid: 32210, action: 'exec', path: '/bin/sh', ok: true })).toBeDefined()
    // execve split by <unfinished ...> while the parent's vfork was pending
    expect(find(events, { pid: 32211, action: 'exec', path: '/usr/bin/cat', ok: true })).toBeDefined()
    expect(find(events, { pid: 32211, action: 'read', path: '/tmp/stx/app.ini', resolvedPath: '/tmp/stx/app.ini', ok: true })).toBeDefined()
    expect(find(events, { pid: 32210, action: 'write', path: '/tmp/stx/out.txt', ok: true })).toBeDefined()
    // after `cd /etc`, the relative ./hostname is /etc/hostname
    expect(find(events, { pid: 32212, action: 'read', path: '/etc/hostname', ok: true })).toBeDefined()
    const missing = find(events, { path: '/usr/lib/locale/locale-archive' })
    expect(missing).toMatchObject({ action: 'read', ok: false, errno: 'ENOENT' })
    expect(missing?.resolvedPath).toBeUndefined()
    // symlinks resolved by the kernel, as -y shows
    expect(find(events, { path: '/lib/x86_64-linux-gnu/libpcre2-8.so.0' })?.resolvedPath).toBe('/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2')
    expect(events.filter(e => e.action === 'exec').map(e => e.path)).toEqual(['/bin/sh', '/usr/bin/cat', '/usr/bin/cat', '/usr/bin/ls', '/usr/bin/cat'])
  })

  it('reads odd file names (quotes, tabs, newlines, UTF-8, < and >) and directory opens (-z)', async () => {
    const { events, stats } = parseStrace(await fixture('odd-names-successful.strace'), { cwd: '/tmp/stx' })
    expect(stats.ignoredLines).toBe(0)
    expect(find(events, { action: 'read', path: '/tmp/stx/we"ird\tné>a<b|c.ini', resolvedPath: '/tmp/stx/we"ird\tné>a<b|c.ini' })).toBeDefined()
    expect(find(events, { action: 'read', path: '/tmp/stx/nl\nx.conf' })).toBeDefined()
    expect(find(events, { path: '/tmp/stx', directory: true, action: 'read' })).toBeDefined()
    // mv o2 o3 (renameat2) and rm o3 (unlinkat) write; mkdir creates
    expect(events.filter(e => e.action === 'write' && e.syscall !== 'openat').map(e => `${e.syscall} ${e.path}`))
      .toEqual(['renameat2 /tmp/stx/o2', 'renameat2 /tmp/stx/o3', 'unlinkat /tmp/stx/o3'])
    expect(find(events, { action: 'mkdir', path: '/tmp/stx/d', ok: true })).toBeDefined()
    expect(events.every(e => e.ok)).toBe(true)
  })

  it('makes relative paths absolute from AT_FDCWD, chdir and fork inheritance (the flags runTrace uses)', async () => {
    // strace -f -qq -y -z --seccomp-bpf -e signal=none -e trace=... ./run.sh, run.sh does `cd conf && cat my.cnf ../app.ini > ../result.txt; mkdir -p ../state ...`
    const { events, stats } = parseStrace(await fixture('script-chdir-y.strace'), { cwd: '/tmp/stx' })
    expect(stats.ignoredLines).toBe(0)
    expect(events[0]).toMatchObject({ pid: 311, action: 'exec', path: '/tmp/stx/run.sh', ok: true })
    expect(find(events, { pid: 312, path: '/tmp/stx/conf/my.cnf', action: 'read' })).toBeDefined()
    expect(find(events, { pid: 312, path: '/tmp/stx/app.ini', action: 'read' })).toBeDefined()
    expect(find(events, { pid: 311, path: '/tmp/stx/result.txt', action: 'write' })).toBeDefined()
    // mkdir has no dirfd: `chdir("..")` from /tmp/stx/conf put it in /tmp/stx
    expect(find(events, { pid: 313, syscall: 'mkdir', path: '/tmp/stx/state', action: 'mkdir' })).toBeDefined()
  })

  it('follows the working directory without -y, through vfork to the child', async () => {
    const { events, stats } = parseStrace(await fixture('script-chdir-plain.strace'), { cwd: '/tmp/stx' })
    expect(stats.ignoredLines).toBe(0)
    expect(find(events, { pid: 318, path: '/tmp/stx/run.sh', action: 'read' })).toBeDefined()
    expect(find(events, { pid: 318, path: '/tmp/stx/result.txt', action: 'write' })).toBeDefined()
    expect(find(events, { pid: 319, path: '/tmp/stx/conf/my.cnf', action: 'read' })).toBeDefined()
    expect(find(events, { pid: 319, path: '/tmp/stx/app.ini', action: 'read' })).toBeDefined()
    expect(find(events, { pid: 320, syscall: 'mkdir', path: '/tmp/stx/state', ok: false, errno: 'EEXIST' })).toBeDefined()
    expect(find(events, { pid: 321, path: '/tmp/stx/state/pid', action: 'read' })).toBeDefined()
    expect(events.every(e => e.resolvedPath === undefined)).toBe(true)
  })
})

describe('strace parser, hand-made and hostile input', () => {
  it('handles [pid N] prefixes, timestamps, no pid column, open/creat/openat2/execveat and numeric flags', () => {
    const { events, stats } = parseStrace([
      'execve("/usr/bin/app", ["app"], 0x1 /* 2 vars */) = 0',
      'open("conf/app.yaml", O_RDONLY) = 3',
      '[pid  42] 12:00:01.123456 openat(3</etc/app>, "site.json", O_RDONLY) = 4</etc/app/site.json>',
      '42 creat("/var/app/out.log", 0644) = 5',
      '42 openat2(AT_FDCWD</srv>, "data.db", {flags=O_RDWR|O_CLOEXEC, resolve=0}, 24) = 6</srv/data.db>',
      '42 openat(AT_FDCWD</srv>, "raw", 0x2) = 7</srv/raw>',
      '42 openat(AT_FDCWD</srv>, "list", 0200000) = 8</srv>',
      '43 execveat(3</usr/libexec>, "helper", ["helper"], 0x2 /* 1 var */, 0) = 0',
      '44 execveat(9</usr/bin/tool>, "", ["tool"], 0x2 /* 1 var */, AT_EMPTY_PATH) = 0',
      '45 openat(7, "rel.ini", O_RDONLY) = 3</opt/x/rel.ini>',
      '46 openat(7, "lost.ini", O_RDONLY) = 3'
    ].join('\n'), { cwd: '/home/u' })
    expect(stats.ignoredLines).toBe(0)
    expect(events.map(e => [e.pid, e.action, e.path])).toEqual([
      [0, 'exec', '/usr/bin/app'],
      [0, 'read', '/home/u/conf/app.yaml'],
      [42, 'read', '/etc/app/site.json'],
      [42, 'write', '/var/app/out.log'],
      [42, 'write', '/srv/data.db'],
      [42, 'write', '/srv/raw'],
      [42, 'read', '/srv/list'],
      [43, 'exec', '/usr/libexec/helper'],
      [44, 'exec', '/usr/bin/tool'],
      [45, 'read', '/opt/x/rel.ini'],
      [46, 'read', 'lost.ini']
    ])
    expect(events[6]?.directory).toBe(true)
  })

  it('tolerates junk, chatter and orphans; counts only junk', () => {
    const { events, stats } = parseStrace([
      '100 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---',
      '100 +++ exited with 0 +++',
      'strace: Process 100 attached',
      '',
      '\u0000\u0001 binary junk \uFFFD',
      '100 <... openat resumed>) = 3',
      '100 openat(AT_FDCWD, "/etc/a", O_RDONLY',
      '100 openat(AT_FDCWD, "/etc/b", O_RDONLY) = 3 <0.000012>',
      '100 openat(AT_FDCWD, "/etc/c", O_RDONLY <unfinished ...>',
      '101 <... read resumed>"x", 1) = 1',
      '100 <... openat resumed>) = 4</etc/c>',
      '100 openat(AT_FDCWD, "/etc/d" <unfinished ...>',
      '100 <... close resumed>) = 0',
      '100 openat(AT_FDCWD, NULL, O_RDONLY) = -1 EFAULT (Bad address)',
      '100 mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f0000000000'
    ].join('\n'))
    expect(events.map(e => e.path)).toEqual(['/etc/b', '/etc/c'])
    expect(events[1]?.resolvedPath).toBe('/etc/c')
    // junk, orphaned resumes (x3), the fragment, the NULL path
    expect(stats.ignoredLines).toBe(6)
  })

  it('stops at the line limit and at the path limit, saying so', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `1 openat(AT_FDCWD, "/etc/f${i}", O_RDONLY) = 3`)
    const byLines = parseStrace(lines.join('\n'), { maxLines: 10 })
    expect(byLines.events).toHaveLength(10)
    expect(byLines.stats).toMatchObject({ lines: 10, truncated: 'lines' })
    const byPaths = parseStrace(lines.join('\n'), { maxPaths: 5 })
    expect(byPaths.events).toHaveLength(5)
    expect(byPaths.stats.truncated).toBe('paths')
    const parser = createStraceParser({ maxLines: 1 })
    expect(parser.push(lines[0] as string)).toBe(true)
    expect(parser.push(lines[1] as string)).toBe(false)
    expect(parser.push(lines[2] as string)).toBe(false)
  })

  it('skips an oversized line and forgets pending calls of pids beyond its bound', () => {
    const huge = `1 openat(AT_FDCWD, "/${'a'.repeat(200_000)}", O_RDONLY) = 3`
    const { events, stats } = parseStrace(`${huge}\n1 openat(AT_FDCWD, "/etc/ok", O_RDONLY) = 3`)
    expect(events.map(e => e.path)).toEqual(['/etc/ok'])
    expect(stats.ignoredLines).toBe(1)
    const many = Array.from({ length: 70_000 }, (_, i) => `${i + 1} openat(AT_FDCWD, "/x" <unfinished ...>`)
    const parser = createStraceParser()
    for (const line of many) parser.push(line)
    parser.push('1 <... openat resumed>, O_RDONLY) = 3')
    parser.push('70000 <... openat resumed>, O_RDONLY) = 3')
    expect(parser.result().events.map(e => e.pid)).toEqual([70000])
  })

  it('never throws on random bytes', () => {
    let seed = 7
    const random = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    const alphabet = 'openat(AT_FDCWD<>"\\/, )=-1 ENOENT 0123|O_RDONLY{}[]resumed unfinished ...'
    for (let i = 0; i < 2000; i++) {
      const line = Array.from({ length: Math.floor(random() * 120) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
      expect(() => parseStrace(line)).not.toThrow()
    }
  })
})
