import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { MAX_INCLUDE_DEPTH, fileIncludes, parseApache } from '../../../../src/env/parsers/index.ts'
import type { ConfigItems } from '../../../../src/env/types.ts'
import { diffItems, expectOneChange, expectParseError, fixturePath, junkText, memoryIncludes, onlyConfigParseErrors, recommented, shuffled } from './parser-test-kit.ts'

const root = fixturePath('apache2')
const path = join(root, 'apache2.conf')
const files: Record<string, string> = {}

beforeAll(async () => {
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files[join(entry.parentPath, entry.name)] = await readFile(join(entry.parentPath, entry.name), 'utf8')
  }
})

const text = (name: string): string => files[join(root, name)] ?? ''

/** Parses the fixture with the files in `changes` (relative to the fixture dir) replaced. */
async function parseWith (changes: Record<string, string> = {}): Promise<ConfigItems> {
  const all = { ...files }
  for (const [name, content] of Object.entries(changes)) all[join(root, name)] = content
  return parseApache(all[path] ?? '', path, memoryIncludes(all))
}

type Block = { lines: string[] } | { open: string[], children: Block[], close: string }

/** The statements of a file as a tree: a line (with its continuations), or a section and its children. */
function blocks (lines: readonly string[]): Block[] {
  let pos = 0
  const level = (): Block[] => {
    const out: Block[] = []
    while (pos < lines.length && !(lines[pos] ?? '').trim().startsWith('</')) {
      const group = [lines[pos++] ?? '']
      while ((group[group.length - 1] ?? '').endsWith('\\') && pos < lines.length) group.push(lines[pos++] ?? '')
      if ((group[0] ?? '').trim().startsWith('<')) {
        const children = level()
        out.push({ open: group, children, close: lines[pos++] ?? '' })
      } else {
        out.push({ lines: group })
      }
    }
    return out
  }
  return level()
}

/** The file with its statements shuffled at every level (sections move whole). */
function reordered (source: string, seed: number): string {
  const render = (nodes: Block[], salt: number): string[] => shuffled(nodes, seed + salt)
    .flatMap(node => 'lines' in node ? node.lines : [...node.open, ...render(node.children, salt + 1), node.close])
  return render(blocks(source.split('\n')), 0).join('\n')
}

describe('parseApache on a Debian-style apache2.conf with includes', () => {
  it('names items by section context and lower-cased directive', async () => {
    const items = await parseApache(text('apache2.conf'), path, fileIncludes())
    expect(items.get('timeout')).toBe('300')
    expect(items.get('defaultruntimedir')).toBe('${APACHE_RUN_DIR}')
    expect(items.get('<directory />/options')).toBe('FollowSymLinks')
    expect(items.get('<directory /var/www/>/options')).toBe('Indexes FollowSymLinks')
    expect(items.get('<filesmatch ^\\.ht>/require')).toBe('all denied')
    expect(items.get('<ifmodule mod_headers.c>/header')).toBe('always set X-Content-Type-Options nosniff\nalways set X-Frame-Options SAMEORIGIN')
    expect(items.get('addtype application/x-gzip')).toBe('.gz .tgz')
    expect(items.get('logformat combined')).toBe(JSON.stringify('%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"'))
    expect(items.get('logformat agent')).toBe('%{User-agent}i')
    expect(items).toEqual(await parseWith())
  })

  it('follows Include and IncludeOptional globs inside the includer\'s context', async () => {
    const items = await parseApache(text('apache2.conf'), path, fileIncludes())
    expect(items.get('include ports.conf')).toBe('')
    expect(items.get('includeoptional mods-enabled/*.load')).toBe('')
    expect(items.get('includeoptional sites-enabled/*.conf')).toBe('')
    expect(items.get('loadmodule rewrite_module')).toBe('/usr/lib/apache2/modules/mod_rewrite.so')
    expect(items.get('loadmodule php_module')).toBe('/usr/lib/apache2/modules/libphp8.2.so')
    expect(items.get('<ifmodule mpm_prefork_module>/maxrequestworkers')).toBe('150')
    expect(items.get('listen')).toBe('80')
    expect(items.get('<ifmodule ssl_module>/listen')).toBe('443')
    expect(items.get('<ifmodule mod_ssl.c>/sslrandomseed')).toBe('connect builtin\nconnect file:/dev/urandom 512\nstartup builtin\nstartup file:/dev/urandom 512')
    expect(items.get('<ifmodule mod_userdir.c>/<directory /home/*/public_html>/php_admin_flag engine')).toBe('Off')
    expect(items.get('servertokens')).toBe('Prod')
    expect(items.get('<virtualhost *:80>/<directory /var/www/shop/public>/rewriterule')).toBe('^ index.php [QSA,L]')
    expect(items.get('<virtualhost *:80>/alias /static')).toBe('/var/www/shop/static')
    expect(items.get('<virtualhost *:80>/setenv APP_ENV')).toBe('production')
    expect(items.get('<ifmodule mod_ssl.c>/<virtualhost _default_:443>/<filesmatch \\.(?:cgi|shtml|phtml|php)$>/ssloptions')).toBe('+StdEnvVars')
  })

  it('changes exactly one item when one directive changes, in any file', async () => {
    const before = await parseWith()
    expectOneChange(before, await parseWith({ 'apache2.conf': text('apache2.conf').replace('KeepAliveTimeout 5', 'KeepAliveTimeout 15') }), 'keepalivetimeout')
    expectOneChange(before, await parseWith({ 'mods-enabled/rewrite.load': 'LoadModule rewrite_module /opt/apache/mod_rewrite.so\n' }), 'loadmodule rewrite_module')
    expectOneChange(before, await parseWith({ 'ports.conf': text('ports.conf').replace('<IfModule ssl_module>\n\tListen 443', '<IfModule ssl_module>\n\tListen 8443') }), '<ifmodule ssl_module>/listen')
    expectOneChange(before, await parseWith({ 'sites-enabled/000-default.conf': text('sites-enabled/000-default.conf').replace('AllowOverride All', 'AllowOverride None') }), '<virtualhost *:80>/<directory /var/www/shop/public>/allowoverride')
    expectOneChange(before, await parseWith({ 'sites-enabled/000-default.conf': text('sites-enabled/000-default.conf').replace('SetEnv APP_DEBUG 0', 'SetEnv APP_DEBUG 1') }), '<virtualhost *:80>/setenv APP_DEBUG')
    expectOneChange(before, await parseWith({ 'mods-enabled/ssl.conf': text('mods-enabled/ssl.conf').replace('SSLRandomSeed connect builtin', 'SSLRandomSeed connect file:/dev/random 256') }), '<ifmodule mod_ssl.c>/sslrandomseed')
    expectOneChange(before, await parseWith({ 'apache2.conf': text('apache2.conf').replace('LogFormat "%{User-agent}i" agent', 'LogFormat "%{User-Agent}i" agent') }), 'logformat agent')
    // Enabling a module adds its items and changes nothing else.
    expect(diffItems(before, await parseWith({ 'mods-enabled/headers.load': 'LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so\n' })))
      .toEqual({ changed: [], added: ['loadmodule headers_module'], removed: [] })
  })

  it('does not change when statements move within sections or sections move', async () => {
    const before = await parseWith()
    for (const seed of [1, 2, 3, 99, 2026]) {
      expect(reordered(text('apache2.conf'), seed)).not.toBe(text('apache2.conf'))
      expect(await parseWith({
        'apache2.conf': reordered(text('apache2.conf'), seed),
        'ports.conf': reordered(text('ports.conf'), seed),
        'sites-enabled/000-default.conf': reordered(text('sites-enabled/000-default.conf'), seed),
        'mods-enabled/ssl.conf': reordered(text('mods-enabled/ssl.conf'), seed)
      })).toEqual(before)
    }
  })

  it('does not change with other comments, blank lines, quoting or directive case', async () => {
    const before = await parseWith()
    const isComment = (line: string): boolean => line.startsWith('#')
    expect(await parseWith({
      'apache2.conf': recommented(text('apache2.conf'), isComment, '#'),
      'sites-enabled/000-default.conf': recommented(text('sites-enabled/000-default.conf'), isComment, '  #')
    })).toEqual(before)
    expect(await parseWith({
      'apache2.conf': text('apache2.conf')
        .replace('KeepAliveTimeout 5', 'keepalivetimeout   "5"')
        .replace('<Directory /usr/share>\n\tAllowOverride None', '<DIRECTORY "/usr/share">\n\tallowoverride \'None\'')
        .replace('Timeout 300', 'Timeout \\\n  300')
    })).toEqual(before)
  })

  it('names the file and line of malformed input, in included files too', async () => {
    const main = text('apache2.conf')
    const lines = main.split('\n')
    const open = lines.indexOf('<Directory /usr/share>') + 1
    await expectParseError(() => parseWith({ 'apache2.conf': main.replace('<Directory /usr/share>', '<Directory /usr/share') }), { path, line: open, reason: 'syntax' })
    await expectParseError(() => parseWith({ 'apache2.conf': main.replace('<Directory /usr/share>', '') }), { path, line: open + 3, message: /"<\/Directory>" without a matching "<Directory>"/ })
    await expectParseError(() => parseWith({ 'apache2.conf': main.replace('\tRequire all granted\n</Directory>\n\n<Directory "/var/www/">', '\tRequire all granted\n</Files>\n\n<Directory "/var/www/">') }), { path, line: open + 3, message: /"<\/Files>" closes "<Directory>" opened on line/ })
    await expectParseError(() => parseWith({ 'apache2.conf': `${main}\n<VirtualHost *:8080>\nServerName x\n` }), { path, line: lines.length + 1, message: /"<VirtualHost>" is never closed/ })
    await expectParseError(() => parseWith({ 'apache2.conf': main.replace('Timeout 300', 'Time=out 300') }), { path, line: lines.indexOf('Timeout 300') + 1 })
    await expectParseError(() => parseWith({ 'apache2.conf': main.replace('Include ports.conf', 'Include') }), { path, line: lines.indexOf('Include ports.conf') + 1, message: /one path/ })
    const site = join(root, 'sites-enabled', '000-default.conf')
    await expectParseError(() => parseWith({ 'sites-enabled/000-default.conf': text('sites-enabled/000-default.conf').replace('</VirtualHost>', '') }), { path: site, line: 1 })
  })

  it('throws nothing but ConfigParseError on junk, includes included', async () => {
    const junk = junkText(['<Directory /x>', '</Directory>', '<', '</', '>', 'Include ', 'IncludeOptional ', '*.conf', 'a.conf', 'ServerRoot ', '/etc', 'Listen 80', '\\\n'])
    await fc.assert(fc.asyncProperty(junk, junk, async (main, other) => {
      const includes = memoryIncludes({ '/etc/apache2/a.conf': other, '/etc/apache2/apache2.conf': main, '/etc/b.conf': other })
      await onlyConfigParseErrors(() => parseApache(main, '/etc/apache2/apache2.conf', includes))
    }), { numRuns: 300 })
  })

  it('turns a reader\'s I/O failure into ConfigParseError, and lets its bugs through', async () => {
    const denied = async (): Promise<never> => { throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }) }
    await expectParseError(() => parseApache('Timeout 5\nInclude secret.conf\n', 'main.conf', denied), { path: 'main.conf', line: 2, reason: 'include-unreadable', message: /permission denied/ })
    const buggy = async (): Promise<never> => { throw new TypeError('bug') }
    await expect(parseApache('Include x.conf\n', 'main.conf', buggy)).rejects.toThrow(TypeError)
  })

  it('stays linear on long runs of continuation lines and long lines', async () => {
    const started = performance.now()
    const items = await parseApache(`Header set X ${'a \\\n'.repeat(500_000)}end\nListen ${'8'.repeat(1_000_000)}\n`, 'long.conf', memoryIncludes({}))
    expect(items.get('header')?.length).toBe('set X '.length + 'a '.length * 500_000 + 'end'.length)
    expect(performance.now() - started).toBeLessThan(20_000)
  })

  it('refuses sections nested too deep', async () => {
    const deep = `${'<IfModule x>\n'.repeat(100)}${'</IfModule>\n'.repeat(100)}`
    await expectParseError(() => parseApache(deep, 'deep.conf', memoryIncludes({})), { path: 'deep.conf', line: 65, reason: 'too-deep' })
  })
})

describe('parseApache includes on a real filesystem', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'mirage-apache-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('records a missing Include as "missing" and an empty IncludeOptional as just the directive', async () => {
    const items = await parseApache('Include nope.conf\nInclude conf.d/*.conf\nIncludeOptional other.d/*.conf\nIncludeOptional gone.conf\n', join(dir, 'httpd.conf'), fileIncludes())
    expect(Object.fromEntries(items)).toEqual({
      'include nope.conf': 'missing',
      'include conf.d/*.conf': 'missing',
      'includeoptional other.d/*.conf': '',
      'includeoptional gone.conf': ''
    })
  })

  it('resolves relative includes against ServerRoot when set, else the includer\'s directory', async () => {
    const serverRoot = join(dir, 'srv')
    await mkdir(join(serverRoot, 'conf.d'), { recursive: true })
    await mkdir(join(dir, 'etc', 'conf.d'), { recursive: true })
    await writeFile(join(serverRoot, 'conf.d', 'b.conf'), 'Listen 8080\n')
    await writeFile(join(serverRoot, 'conf.d', 'a.conf'), '<Location /status>\nSetHandler server-status\n</Location>\n')
    await writeFile(join(dir, 'etc', 'conf.d', 'local.conf'), 'ServerName local\n')
    const main = join(dir, 'etc', 'httpd.conf')
    const items = await parseApache(`Include conf.d/local.conf\nServerRoot "${serverRoot}"\n<VirtualHost *:80>\nInclude conf.d/*.conf\n</VirtualHost>\n`, main, fileIncludes())
    expect(Object.fromEntries(items)).toEqual({
      'include conf.d/local.conf': '',
      servername: 'local',
      serverroot: serverRoot,
      '<virtualhost *:80>/include conf.d/*.conf': '',
      '<virtualhost *:80>/listen': '8080',
      '<virtualhost *:80>/<location /status>/sethandler': 'server-status'
    })
  })

  it('includes every file under a directory named without a glob', async () => {
    await mkdir(join(dir, 'conf', 'sub'), { recursive: true })
    await writeFile(join(dir, 'conf', 'one.conf'), 'Listen 81\n')
    await writeFile(join(dir, 'conf', 'sub', 'two'), 'Listen 82\n')
    const items = await parseApache('Include conf/\n', join(dir, 'httpd.conf'), fileIncludes())
    expect(items.get('listen')).toBe('81\n82')
  })

  it('refuses include cycles and chains deeper than the limit, naming where', async () => {
    const main = join(dir, 'httpd.conf')
    await writeFile(join(dir, 'loop.conf'), '# a loop\nInclude *.conf\n')
    await expectParseError(() => parseApache('Include loop.conf\n', main, fileIncludes()), { path: join(dir, 'loop.conf'), line: 2, reason: 'include-cycle' })
    await rm(join(dir, 'loop.conf'))
    for (let i = 0; i <= MAX_INCLUDE_DEPTH + 1; i++) await writeFile(join(dir, `d${i}.conf`), `Listen ${i}\nInclude d${i + 1}.conf\n`)
    await expectParseError(() => parseApache('Include d0.conf\n', main, fileIncludes()), { path: join(dir, `d${MAX_INCLUDE_DEPTH - 1}.conf`), line: 2, reason: 'include-depth' })
  })
})
