/**
 * A generated population of machines running "webshop" (a PHP shop on
 * Apache and MySQL's client library), built around real upgrade failures of
 * the kind Mirage studied (SOSP 2007, §2 and §6): webshop 2.0 brings Apache
 * httpd 2.4, PHP 5.4 and libmysqlclient18, and
 *
 *   - `apache-include`: httpd 2.4 refuses to start on an `Include` of a
 *     wildcard that matches no file (2.2 accepted it), e.g. a config with
 *     `Include sites-enabled/*.conf` and no site, or only Debian-2.2-style
 *     site names without `.conf`;
 *   - `php-mysql-abi`: where php.ini loads `mysql.so` from a php5-mysql
 *     built against libmysqlclient15off, the upgrade's libmysqlclient18
 *     (which replaces it) leaves the extension unloadable;
 *   - `php-removed-directive`: PHP 5.4 refuses to start while php.ini still
 *     enables register_globals, safe_mode, magic_quotes_gpc and the like.
 *
 * The upgrade's test is a real script (`WEBSHOP_UPGRADE_TEST`); the ground
 * truth for a machine is its exit status, and `expectedCauses` is only what
 * the generator meant (tests check the two agree).
 *
 * Each machine's environment is a directory standing for `/`
 * (`<dir>/m001/etc/apache2/apache2.conf`, `etc/php5/apache2/php.ini`,
 * `etc/php5/apache2/conf.d/99-tuning.ini`, `etc/mysql/my.cnf`,
 * `var/lib/dpkg/status`, `etc/hostname`, `etc/motd`). Machines are cloned
 * from a few site images (as hosting fleets are), then drift: an admin
 * disables a site, turns a legacy directive back on, enables a module. On
 * top comes what must not matter: comments, blank lines, line order,
 * spacing, `skip-external-locking` vs `skip_external_locking`, dpkg stanza
 * order, unrelated and removed packages, the hostname and motd, and local
 * PHP tuning values (which matter little, see `WEBSHOP_CLUSTER_WEIGHTS`).
 *
 * Deterministic: the same options give the same files, byte for byte.
 * Reusable by scenarios and benchmarks.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ResourceSpecInput } from '../../../src/env/index.ts'
import { mulberry32 } from '../../helpers/seeded-random.ts'

/** The upgrade's test: `sh WEBSHOP_UPGRADE_TEST ROOT`, exit 0 when webshop 2.0 would work on that machine. */
export const WEBSHOP_UPGRADE_TEST = fileURLToPath(new URL('../../fixtures/upgrade/webshop-upgrade-test.sh', import.meta.url))

export const FAILURE_CAUSES = ['apache-include', 'php-mysql-abi', 'php-removed-directive'] as const
export type FailureCause = typeof FAILURE_CAUSES[number]

/**
 * What webshop depends on (its environmental resources, Mirage §4.1), as
 * the vendor would ship them in its spec: the Apache configuration with its
 * includes, php.ini and the local tuning file as separate resources,
 * my.cnf, the versions of the packages it runs on, and the hostname and
 * motd, which a tracer finds read but which say nothing about the upgrade.
 */
export const WEBSHOP_RESOURCES: ResourceSpecInput[] = [
  { name: 'apache', kind: 'apache', path: '/etc/apache2/apache2.conf' },
  { name: 'php.ini', kind: 'ini', path: '/etc/php5/apache2/php.ini' },
  { name: 'php-tuning', kind: 'ini', path: '/etc/php5/apache2/conf.d/99-tuning.ini' },
  { name: 'my.cnf', kind: 'mycnf', path: '/etc/mysql/my.cnf' },
  { name: 'packages', kind: 'packages', packages: ['apache2*', 'libapache2-mod-php5*', 'php5*', 'libmysqlclient*'] },
  { name: 'hostname', kind: 'text', path: '/etc/hostname', relevant: false },
  { name: 'motd', kind: 'text', path: '/etc/motd', relevant: false }
]

/**
 * The vendor's weights, per resource. Every resource but one can hold a
 * failure condition of this release (an include, an extension, a removed
 * directive, a library version), so one differing item there weighs a full
 * 1. The local tuning file (`99-tuning.ini`: memory_limit, upload sizes,
 * timeouts) is where operators adjust capacity, which changes how the shop
 * performs but not whether it starts: it weighs 0.25.
 */
export const WEBSHOP_CLUSTER_WEIGHTS: Readonly<Record<string, number>> = { 'php-tuning': 0.25 }

/**
 * The vendor's diameter: below 1, so two machines that differ in any item
 * of a weight-1 resource are never in one cluster, and at 0.75 three
 * differing tuning items still are (operators tune one or two knobs).
 * A larger diameter would save clusters (tests) by merging machines that
 * differ in exactly the places this release's failures live.
 */
export const WEBSHOP_CLUSTER_DIAMETER = 0.75

export interface PopulationOptions {
  /** Where the machines' root directories are written (`<dir>/m001`, ...). */
  dir: string
  machines: number
  seed: number
  /** Site images the machines are cloned from; default about one per 16 machines. */
  images?: number
}

export type StackName = 'lenny-dotdeb53' | 'hardy-ppa53' | 'squeeze' | 'lucid' | 'wheezy-apache24'
/** How apache2.conf pulls in modules, conf.d and sites. */
export type ApacheStyle = 'debian-dirs' | 'sites-wildcard' | 'all-wildcards' | 'monolithic' | 'optional-24'
export type ModuleSet = 'minimal' | 'standard' | 'ssl'
export type PhpProfile = 'production' | 'development' | 'legacy' | 'shared-hosting' | 'hardened' | 'trimmed'

/** The choices that make up a machine's environment (what noise leaves alone). */
export interface MachineEnvironment {
  stack: StackName
  apache: ApacheStyle
  modules: ModuleSet
  /** Modules enabled on top of the set (a2enmod), sorted. */
  extraModules: string[]
  /** Entries of sites-enabled (symlinks into sites-available, as a2ensite makes), sorted. */
  sites: string[]
  /** Entries of conf.d (2.2) or conf-enabled (2.4), sorted. */
  confd: string[]
  php: PhpProfile
  /** php.ini settings changed from the profile (key → value), e.g. a legacy directive turned back on. */
  phpOverrides: Record<string, string>
  /** php.ini loads `mysql.so` (otherwise the shop runs on its SQLite backend). */
  mysqlExtension: boolean
  /** libmysqlclient15off left installed (unused) after an upgrade from an older release. */
  leftoverLibmysqlclient15: boolean
  /** The local tuning file's settings. */
  tuning: Record<string, string>
}

export interface GeneratedMachine {
  /** `m001`, ... */
  name: string
  /** The directory standing for the machine's `/`. */
  root: string
  /** Index of the site image it was cloned from. */
  image: number
  /** How it drifted from its image. */
  drifts: string[]
  environment: MachineEnvironment
  /** The failures the generator meant this machine to have (the script decides). */
  expectedCauses: FailureCause[]
  /**
   * A canonical rendering of `environment`: machines with equal keys differ
   * only in noise, so their relevant fingerprints must be equal.
   */
  environmentKey: string
}

// ------------------------------------------------------------------ randomness

export { mulberry32 }

type Rng = () => number

function pick<T> (rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T
}

function weighted<T> (rng: Rng, choices: ReadonlyArray<readonly [T, number]>): T {
  const total = choices.reduce((sum, [, w]) => sum + w, 0)
  let x = rng() * total
  for (const [value, w] of choices) {
    x -= w
    if (x < 0) return value
  }
  return (choices[choices.length - 1] as readonly [T, number])[0]
}

function shuffle<T> (rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    const t = items[i] as T
    items[i] = items[j] as T
    items[j] = t
  }
  return items
}

function chance (rng: Rng, p: number): boolean {
  return rng() < p
}

// ---------------------------------------------------------------- the stacks

interface Package {
  name: string
  version: string
  architecture: string
  section: string
  depends?: string
  description: string
  status?: string
}

interface Stack {
  apache24: boolean
  /** The libmysqlclient php5-mysql is built against. */
  mysqlClient: 'libmysqlclient15off' | 'libmysqlclient16' | 'libmysqlclient18'
  mysql: '5.0' | '5.1' | '5.5'
  packages: Package[]
}

function stackPackages (apache: string, apache24: boolean, php: string, client: Stack['mysqlClient'], clientVersion: string): Package[] {
  const apachePackages: Package[] = apache24
    ? [
        { name: 'apache2', version: apache, architecture: 'amd64', section: 'httpd', description: 'Apache HTTP Server' },
        { name: 'apache2-bin', version: apache, architecture: 'amd64', section: 'httpd', description: 'Apache HTTP Server (modules and other binary files)' },
        { name: 'apache2-data', version: apache, architecture: 'all', section: 'httpd', description: 'Apache HTTP Server (common files)' },
        { name: 'apache2-utils', version: apache, architecture: 'amd64', section: 'httpd', description: 'Apache HTTP Server (utility programs for web servers)' }
      ]
    : [
        { name: 'apache2', version: apache, architecture: 'amd64', section: 'httpd', description: 'Apache HTTP Server metapackage' },
        { name: 'apache2-mpm-prefork', version: apache, architecture: 'amd64', section: 'httpd', description: 'Apache HTTP Server - traditional non-threaded model' },
        { name: 'apache2-utils', version: apache, architecture: 'amd64', section: 'httpd', description: 'utility programs for webservers' },
        { name: 'apache2.2-common', version: apache, architecture: 'amd64', section: 'httpd', description: 'Apache HTTP Server common files' },
        { name: 'apache2.2-bin', version: apache, architecture: 'amd64', section: 'httpd', description: 'Apache HTTP Server common binary files' }
      ]
  return [
    ...apachePackages,
    { name: 'libapache2-mod-php5', version: php, architecture: 'amd64', section: 'php', description: 'server-side, HTML-embedded scripting language (Apache 2 module)' },
    { name: 'php5', version: php, architecture: 'all', section: 'php', description: 'server-side, HTML-embedded scripting language (metapackage)' },
    { name: 'php5-common', version: php, architecture: 'amd64', section: 'php', description: 'Common files for packages built from the php5 source' },
    { name: 'php5-cli', version: php, architecture: 'amd64', section: 'php', description: 'command-line interpreter for the php5 scripting language' },
    {
      name: 'php5-mysql',
      version: php,
      architecture: 'amd64',
      section: 'php',
      depends: `libc6 (>= 2.7-1), ${client} (>= ${clientVersion.split('-')[0] ?? clientVersion}), php5-common (= ${php})`,
      description: 'MySQL module for php5'
    },
    { name: 'php5-sqlite', version: php, architecture: 'amd64', section: 'php', description: 'SQLite module for php5' },
    { name: client, version: clientVersion, architecture: 'amd64', section: 'libs', description: 'MySQL database client library' }
  ]
}

const STACKS: Record<StackName, Stack> = {
  // Debian lenny with PHP 5.3 from dotdeb, built against lenny's MySQL 5.0 client.
  'lenny-dotdeb53': { apache24: false, mysqlClient: 'libmysqlclient15off', mysql: '5.0', packages: stackPackages('2.2.9-10+lenny12', false, '5.3.3-0.dotdeb.1', 'libmysqlclient15off', '5.0.51a-24+lenny5') },
  // Ubuntu 8.04 with a PHP 5.3 PPA, also on the 5.0 client.
  'hardy-ppa53': { apache24: false, mysqlClient: 'libmysqlclient15off', mysql: '5.0', packages: stackPackages('2.2.8-1ubuntu0.25', false, '5.3.2-1ppa~hardy2', 'libmysqlclient15off', '5.0.51a-3ubuntu5.8') },
  'squeeze': { apache24: false, mysqlClient: 'libmysqlclient16', mysql: '5.1', packages: stackPackages('2.2.16-6+squeeze15', false, '5.3.3-7+squeeze19', 'libmysqlclient16', '5.1.73-1') },
  'lucid': { apache24: false, mysqlClient: 'libmysqlclient16', mysql: '5.1', packages: stackPackages('2.2.14-5ubuntu8.17', false, '5.3.2-1ubuntu4.30', 'libmysqlclient16', '5.1.73-0ubuntu0.10.04.1') },
  // Debian wheezy with Apache 2.4 from backports (and a 2.4-style configuration) and dotdeb's PHP 5.3.
  'wheezy-apache24': { apache24: true, mysqlClient: 'libmysqlclient18', mysql: '5.5', packages: stackPackages('2.4.10-10~bpo70+1', true, '5.3.29-1~dotdeb.0', 'libmysqlclient18', '5.5.47-0+deb7u1') }
}

const LEFTOVER_LIBMYSQLCLIENT15: Package = { name: 'libmysqlclient15off', version: '5.0.51a-24+lenny5', architecture: 'amd64', section: 'libs', description: 'MySQL database client library' }

/** Packages that have nothing to do with webshop: their presence and versions must not matter. */
const UNRELATED_PACKAGES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['openssh-server', ['1:5.5p1-6+squeeze8', '1:6.0p1-4+deb7u6']],
  ['vim', ['2:7.2.445+hg~cb94c42-3', '2:7.3.547-7']],
  ['curl', ['7.21.0-2.1+squeeze12', '7.26.0-1+wheezy25']],
  ['rsync', ['3.0.7-2', '3.0.9-4']],
  ['sudo', ['1.7.4p4-2.squeeze.6', '1.8.5p2-1+nmu3']],
  ['ntp', ['1:4.2.6.p2+dfsg-1+deb6u1', '1:4.2.6.p5+dfsg-2+deb7u7']],
  ['postfix', ['2.7.1-1+squeeze1', '2.9.6-2']],
  ['git', ['1:1.7.2.5-3', '1:1.7.10.4-1+wheezy3']],
  ['logrotate', ['3.7.8-6', '3.8.1-4']],
  ['mysql-common', ['5.1.73-1', '5.5.47-0+deb7u1']],
  ['libapache2-mod-rpaf', ['0.5-3']],
  ['munin-node', ['1.4.5-3', '2.0.6-4+deb7u2']]
]

// ---------------------------------------------------------- Apache configuration

const APACHE22_GLOBALS: ReadonlyArray<readonly [string, string]> = [
  ['PidFile', '${APACHE_PID_FILE}'],
  ['Timeout', '300'],
  ['KeepAlive', 'On'],
  ['MaxKeepAliveRequests', '100'],
  ['KeepAliveTimeout', '15'],
  ['User', '${APACHE_RUN_USER}'],
  ['Group', '${APACHE_RUN_GROUP}'],
  ['AccessFileName', '.htaccess'],
  ['DefaultType', 'None'],
  ['HostnameLookups', 'Off'],
  ['ErrorLog', '${APACHE_LOG_DIR}/error.log'],
  ['LogLevel', 'warn']
]

const APACHE24_GLOBALS: ReadonlyArray<readonly [string, string]> = [
  ['Mutex', 'file:${APACHE_LOCK_DIR} default'],
  ['PidFile', '${APACHE_PID_FILE}'],
  ['Timeout', '300'],
  ['KeepAlive', 'On'],
  ['MaxKeepAliveRequests', '100'],
  ['KeepAliveTimeout', '5'],
  ['User', '${APACHE_RUN_USER}'],
  ['Group', '${APACHE_RUN_GROUP}'],
  ['HostnameLookups', 'Off'],
  ['ErrorLog', '${APACHE_LOG_DIR}/error.log'],
  ['LogLevel', 'warn'],
  ['AccessFileName', '.htaccess']
]

const APACHE_COMMENTS: readonly string[] = [
  '# This is the main Apache server configuration file.  It contains the\n# configuration directives that give the server its instructions.\n# See http://httpd.apache.org/docs/2.2/ for detailed information about\n# the directives.',
  '#\n# Timeout: The number of seconds before receives and sends time out.\n#',
  '# KeepAlive: Whether or not to allow persistent connections (more than\n# one request per connection). Set to "Off" to deactivate.',
  '# HostnameLookups: Log the names of clients or just their IP addresses\n# e.g., www.apache.org (on) or 204.62.129.132 (off).',
  '# managed by puppet, do not edit by hand',
  '# local change, see ticket OPS-1234'
]

const MODULE_SETS: Record<ModuleSet, readonly string[]> = {
  minimal: ['alias', 'authz_host', 'dir', 'mime', 'php5'],
  standard: ['alias', 'auth_basic', 'authn_file', 'authz_host', 'deflate', 'dir', 'env', 'mime', 'negotiation', 'php5', 'reqtimeout', 'setenvif', 'status'],
  ssl: ['alias', 'auth_basic', 'authn_file', 'authz_host', 'deflate', 'dir', 'env', 'mime', 'negotiation', 'php5', 'reqtimeout', 'setenvif', 'ssl', 'status']
}

/** The `.conf` half of a module, where Debian ships one. */
const MODULE_CONF: Record<string, string> = {
  alias: '<IfModule alias_module>\nAlias /icons/ "/usr/share/apache2/icons/"\n<Directory "/usr/share/apache2/icons">\n    Options Indexes MultiViews\n    AllowOverride None\n</Directory>\n</IfModule>\n',
  deflate: '<IfModule mod_deflate.c>\n          AddOutputFilterByType DEFLATE text/html text/plain text/xml\n          AddOutputFilterByType DEFLATE text/css\n          AddOutputFilterByType DEFLATE application/x-javascript application/javascript\n</IfModule>\n',
  dir: '<IfModule mod_dir.c>\n          DirectoryIndex index.html index.cgi index.pl index.php index.xhtml index.htm\n</IfModule>\n',
  mime: '<IfModule mod_mime.c>\nTypesConfig /etc/mime.types\nAddType application/x-compress .Z\nAddType application/x-gzip .gz .tgz\nAddLanguage en .en\nAddCharset UTF-8 .utf8\n</IfModule>\n',
  negotiation: '<IfModule mod_negotiation.c>\nLanguagePriority en ca cs da de el eo es et fr he hr it ja ko ltz nl nn no pl pt pt-BR ru sv zh-CN zh-TW\nForceLanguagePriority Prefer Fallback\n</IfModule>\n',
  php5: '<IfModule mod_php5.c>\n    <FilesMatch "\\.ph(p3?|tml)$">\n\tSetHandler application/x-httpd-php\n    </FilesMatch>\n    <IfModule mod_userdir.c>\n        <Directory /home/*/public_html>\n            php_admin_value engine Off\n        </Directory>\n    </IfModule>\n</IfModule>\n',
  reqtimeout: '<IfModule reqtimeout_module>\nRequestReadTimeout header=20-40,minrate=500\nRequestReadTimeout body=10,minrate=500\n</IfModule>\n',
  setenvif: '<IfModule mod_setenvif.c>\nBrowserMatch "Mozilla/2" nokeepalive\nBrowserMatch "MSIE 4\\.0b2;" nokeepalive downgrade-1.0 force-response-1.0\nBrowserMatch "RealPlayer 4\\.0" force-response-1.0\n</IfModule>\n',
  ssl: '<IfModule mod_ssl.c>\nSSLRandomSeed startup builtin\nSSLRandomSeed connect builtin\nAddType application/x-x509-ca-cert .crt\nSSLPassPhraseDialog  builtin\nSSLSessionCacheTimeout  300\nSSLCipherSuite HIGH:MEDIUM:!aNULL:!MD5\nSSLProtocol all -SSLv2\n</IfModule>\n',
  status: '<IfModule mod_status.c>\n<Location /server-status>\n    SetHandler server-status\n    Order deny,allow\n    Deny from all\n    Allow from 127.0.0.1 ::1\n</Location>\n</IfModule>\n',
  rewrite: '',
  expires: '',
  headers: ''
}

/** Modules an admin enables after cloning (a2enmod). */
const EXTRA_MODULES = ['rewrite', 'expires', 'headers'] as const

const SITES: Record<string, string> = {
  '000-default': '<VirtualHost *:80>\n\tServerAdmin webmaster@localhost\n\n\tDocumentRoot /var/www\n\t<Directory />\n\t\tOptions FollowSymLinks\n\t\tAllowOverride None\n\t</Directory>\n\t<Directory /var/www/>\n\t\tOptions Indexes FollowSymLinks MultiViews\n\t\tAllowOverride None\n\t\tOrder allow,deny\n\t\tallow from all\n\t</Directory>\n\n\tErrorLog ${APACHE_LOG_DIR}/error.log\n\n\t# Possible values include: debug, info, notice, warn, error, crit,\n\t# alert, emerg.\n\tLogLevel warn\n\n\tCustomLog ${APACHE_LOG_DIR}/access.log combined\n</VirtualHost>\n',
  'webshop': '# webshop: the shop front (shipped by the webshop package)\n<VirtualHost *:80>\n\tServerName shop.example.com\n\tDocumentRoot /srv/webshop/public\n\t<Directory /srv/webshop/public>\n\t\tAllowOverride All\n\t\tphp_admin_value upload_tmp_dir /srv/webshop/tmp\n\t</Directory>\n\tCustomLog ${APACHE_LOG_DIR}/webshop-access.log combined\n</VirtualHost>\n'
}

/** conf.d on Debian's Apache 2.2 (no `.conf` suffix), and conf-enabled on 2.4. */
const CONFD22: Record<string, string> = {
  'charset': '# Read the documentation before enabling AddDefaultCharset.\n# In general, it is only a good idea if you know that all your files\n# have this encoding. It will override any encoding given in the files\n# in meta http-equiv or xml encoding tags.\n\n#AddDefaultCharset UTF-8\n',
  'localized-error-pages': '# Customizable error responses come in three flavors:\n# 1) plain text 2) local redirects 3) external redirects\n#\n#    ErrorDocument 500 "The server made a boo boo."\n',
  'other-vhosts-access-log': '# Define an access log for VirtualHosts that don\'t define their own logfile\nCustomLog ${APACHE_LOG_DIR}/other_vhosts_access.log vhost_combined\n',
  'security': '# Changing the following options will not really affect the security of the\n# server, but might make attacks slightly more difficult in some cases.\nServerTokens OS\nServerSignature On\nTraceEnable Off\n'
}

/** conf.d contents a site image may have (2.2), and conf-enabled contents (2.4). */
const CONFD22_DEBIAN = ['charset', 'localized-error-pages', 'other-vhosts-access-log', 'security']
const CONFD22_RENAMED = ['charset.conf', 'security.conf']
const CONFD24 = ['charset.conf', 'other-vhosts-access-log.conf', 'security.conf']

function confdText (name: string): string {
  return CONFD22[name.replace(/\.conf$/, '')] ?? ''
}

function renderApacheConf (rng: Rng, env: MachineEnvironment): string {
  const stack = STACKS[env.stack]
  const lines: string[] = []
  const comment = (p: number): void => {
    if (chance(rng, p)) lines.push(pick(rng, APACHE_COMMENTS))
    if (chance(rng, 0.3)) lines.push('')
  }
  comment(0.6)
  if (chance(rng, 0.5)) lines.push('#ServerRoot "/etc/apache2"', '')
  // The plain global directives may come in any order; names are case-insensitive in httpd.
  const globals = [...(stack.apache24 ? APACHE24_GLOBALS : APACHE22_GLOBALS)]
  if (chance(rng, 0.5)) shuffle(rng, globals)
  for (const [name, value] of globals) {
    comment(0.15)
    lines.push(`${chance(rng, 0.05) ? name.toLowerCase() : name} ${value}`)
  }
  lines.push('')
  lines.push('<IfModule mpm_prefork_module>', '    StartServers          5', '    MinSpareServers       5', '    MaxSpareServers      10', '    MaxClients          150', '    MaxRequestsPerChild   0', '</IfModule>', '')
  const inc = stack.apache24 ? 'IncludeOptional' : 'Include'
  lines.push(`${inc} mods-enabled/*.load`, `${inc} mods-enabled/*.conf`)
  if (!stack.apache24) lines.push('Include httpd.conf')
  lines.push('Include ports.conf', '')
  if (stack.apache24) {
    lines.push('<Directory />', '\tOptions FollowSymLinks', '\tAllowOverride None', '\tRequire all denied', '</Directory>', '')
    lines.push('<FilesMatch "^\\.ht">', '\tRequire all denied', '</FilesMatch>', '')
  } else {
    lines.push('<Files ~ "^\\.ht">', '    Order allow,deny', '    Deny from all', '    Satisfy all', '</Files>', '')
  }
  comment(0.3)
  lines.push('LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" vhost_combined')
  lines.push('LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined')
  lines.push('')
  switch (env.apache) {
    case 'debian-dirs':
      lines.push('# Include generic snippets of statements', 'Include conf.d/', '', '# Include the virtual host configurations:', 'Include sites-enabled/')
      break
    case 'sites-wildcard':
      lines.push('Include conf.d/', '', '# Include the virtual host configurations:', 'Include sites-enabled/*.conf')
      break
    case 'all-wildcards':
      lines.push('Include conf.d/*.conf', 'Include sites-enabled/*.conf')
      break
    case 'monolithic':
      lines.push('ServerTokens Prod', 'ServerSignature Off', '')
      lines.push('<VirtualHost *:80>', '\tServerName shop.example.com', '\tDocumentRoot /srv/webshop/public', '\t<Directory /srv/webshop/public>', '\t\tAllowOverride All', '\t</Directory>', '</VirtualHost>')
      break
    case 'optional-24':
      lines.push('IncludeOptional conf-enabled/*.conf', '', '# Include the virtual host configurations:', 'IncludeOptional sites-enabled/*.conf')
      break
  }
  comment(0.2)
  return `${lines.join('\n')}\n`
}

function portsConf (stack: Stack): string {
  return stack.apache24
    ? 'Listen 80\n\n<IfModule ssl_module>\n\tListen 443\n</IfModule>\n'
    : '# If you just change the port or add more ports here, you will likely also\n# have to change the VirtualHost statement in\n# /etc/apache2/sites-enabled/000-default\n\nNameVirtualHost *:80\nListen 80\n\n<IfModule mod_ssl.c>\n    Listen 443\n</IfModule>\n'
}

// ---------------------------------------------------------------- php.ini

type IniSection = [string, Array<[string, string]>]

const REMOVED_IN_PHP54 = new Set([
  'allow_call_time_pass_reference', 'define_syslog_variables', 'highlight.bg', 'magic_quotes_gpc', 'magic_quotes_runtime', 'magic_quotes_sybase',
  'register_globals', 'register_long_arrays', 'safe_mode', 'safe_mode_gid', 'safe_mode_include_dir', 'safe_mode_exec_dir',
  'safe_mode_allowed_env_vars', 'safe_mode_protected_env_vars', 'zend.ze1_compatibility_mode'
])

function phpSections (profile: PhpProfile): IniSection[] {
  const core: Array<[string, string]> = [
    ['engine', 'On'], ['short_open_tag', 'Off'], ['precision', '14'], ['output_buffering', '4096'],
    ['zlib.output_compression', 'Off'], ['implicit_flush', 'Off'], ['serialize_precision', '17'],
    ['max_input_time', '60'], ['error_reporting', 'E_ALL & ~E_DEPRECATED'], ['display_errors', 'Off'],
    ['log_errors', 'On'], ['variables_order', '"GPCS"'], ['request_order', '"GP"'], ['post_max_size', '8M'],
    ['default_mimetype', '"text/html"'], ['file_uploads', 'On'], ['allow_url_fopen', 'On'], ['allow_url_include', 'Off'],
    ['default_socket_timeout', '60']
  ]
  const removedOff: Array<[string, string]> = [
    ['register_globals', 'Off'], ['register_long_arrays', 'Off'], ['magic_quotes_gpc', 'Off'],
    ['magic_quotes_runtime', 'Off'], ['magic_quotes_sybase', 'Off'], ['safe_mode', 'Off'], ['allow_call_time_pass_reference', 'Off']
  ]
  const tail: IniSection[] = [
    ['Date', [['date.timezone', 'Europe/Zurich']]],
    ['MySQL', [['mysql.allow_persistent', 'On'], ['mysql.max_persistent', '-1'], ['mysql.max_links', '-1'], ['mysql.default_port', ''], ['mysql.connect_timeout', '60']]],
    ['Session', [['session.save_handler', 'files'], ['session.use_cookies', '1'], ['session.name', 'PHPSESSID'], ['session.gc_probability', '0'], ['session.gc_divisor', '1000']]]
  ]
  switch (profile) {
    case 'production':
      return [['PHP', [...core, ...removedOff]], ...tail]
    case 'development':
      return [['PHP', [...core.map(([k, v]): [string, string] => k === 'display_errors' ? [k, 'On'] : k === 'error_reporting' ? [k, 'E_ALL | E_STRICT'] : [k, v]), ...removedOff, ['track_errors', 'On']]], ...tail]
    case 'legacy':
      // A php.ini carried over from PHP 4/5.2 days for an old shop module.
      return [['PHP', [...core, ['register_globals', 'On'], ['register_long_arrays', 'On'], ['magic_quotes_gpc', 'On'], ['magic_quotes_runtime', 'Off'], ['safe_mode', 'Off']]], ...tail]
    case 'shared-hosting':
      return [['PHP', [...core, ['register_globals', 'Off'], ['magic_quotes_gpc', 'Off'], ['safe_mode', 'On'], ['safe_mode_gid', 'Off'], ['safe_mode_include_dir', ''], ['safe_mode_exec_dir', ''], ['open_basedir', '/srv:/tmp:/usr/share/php'], ['disable_functions', 'exec,passthru,shell_exec,system,proc_open,popen']]], ...tail]
    case 'hardened':
      // Spells Off as 0: equal to PHP, a different value to a fingerprint.
      return [['PHP', [...core.map(([k, v]): [string, string] => k === 'allow_url_fopen' ? [k, 'Off'] : [k, v]), ['expose_php', 'Off'], ['register_globals', '0'], ['magic_quotes_gpc', '0'], ['safe_mode', '0'], ['disable_functions', 'exec,passthru,shell_exec,system']]], ...tail]
    case 'trimmed':
      // Only what the admin cares about; PHP's defaults for the rest.
      return [['PHP', [['engine', 'On'], ['short_open_tag', 'Off'], ['error_reporting', 'E_ALL & ~E_DEPRECATED'], ['display_errors', 'Off'], ['log_errors', 'On'], ['post_max_size', '8M']]], ['Date', [['date.timezone', 'UTC']]]]
  }
}

/** The php.ini settings after the machine's overrides (override of a key the profile lacks: added to [PHP]). */
function phpSettings (env: MachineEnvironment): IniSection[] {
  const sections = phpSections(env.php).map(([name, entries]): IniSection => [name, entries.map(([k, v]): [string, string] => [k, env.phpOverrides[k] ?? v])])
  const present = new Set(sections.flatMap(([, entries]) => entries.map(([k]) => k)))
  const php = sections[0] as IniSection
  for (const [k, v] of Object.entries(env.phpOverrides).sort()) if (!present.has(k)) php[1].push([k, v])
  return sections
}

const INI_COMMENTS: readonly string[] = [
  ';;;;;;;;;;;;;;;;;;;\n; About php.ini   ;\n;;;;;;;;;;;;;;;;;;;\n; PHP\'s initialization file, generally called php.ini, is responsible for\n; configuring many of the aspects of PHP\'s behavior.',
  '; Default Value: Off\n; Development Value: Off\n; Production Value: Off\n; http://php.net/register-globals',
  '; Maximum size of POST data that PHP will accept.\n; http://php.net/post-max-size',
  '; This directive determines whether or not PHP will recognize code between\n; <? and ?> tags as PHP source which should be processed as such.',
  '; changed by ops 2012-03-14',
  '; edited with puppet'
]

function renderPhpIni (rng: Rng, env: MachineEnvironment): string {
  const out: string[] = []
  if (chance(rng, 0.7)) out.push(pick(rng, INI_COMMENTS), '')
  for (const [section, entries] of phpSettings(env)) {
    out.push(`[${section}]`)
    const lines = entries.map(([k, v]) => `${k}${pick(rng, [' = ', '=', '  =  ', ' =\t'])}${v}${chance(rng, 0.05) ? ' ; local' : ''}`)
    if (section === 'PHP') {
      const extensions = ['pdo_sqlite.so', ...(env.mysqlExtension ? ['mysql.so'] : [])]
      lines.push(...extensions.map(e => `extension=${e}`))
      // Commented-out extension lines, as php.ini-production has them.
      if (chance(rng, 0.6)) lines.push(';extension=mysqli.so', ...(env.mysqlExtension ? [] : [';extension=mysql.so']))
    }
    if (chance(rng, 0.5)) shuffle(rng, lines)
    for (const line of lines) {
      if (chance(rng, 0.08)) out.push(pick(rng, INI_COMMENTS))
      out.push(line)
      if (chance(rng, 0.1)) out.push('')
    }
    out.push('')
  }
  return out.join('\n')
}

const TUNING_BASE: Record<string, string> = { memory_limit: '128M', max_execution_time: '30', upload_max_filesize: '8M', 'session.gc_maxlifetime': '1440' }
const TUNING_ALTERNATIVES: Record<string, readonly string[]> = {
  memory_limit: ['64M', '128M', '256M', '512M'],
  max_execution_time: ['30', '60', '120'],
  upload_max_filesize: ['2M', '8M', '16M', '32M'],
  'session.gc_maxlifetime': ['1440', '3600', '7200']
}

function renderTuning (rng: Rng, env: MachineEnvironment): string {
  const lines = Object.entries(env.tuning).map(([k, v]) => `${k} = ${v}`)
  if (chance(rng, 0.5)) shuffle(rng, lines)
  const header = chance(rng, 0.5) ? `; local tuning, ${pick(rng, ['alice', 'bob', 'ops'])} ${2010 + Math.floor(rng() * 5)}\n` : ''
  return `${header}${lines.join('\n')}\n`
}

// ---------------------------------------------------------------- my.cnf

function renderMyCnf (rng: Rng, stack: Stack): string {
  const dash = (name: string): string => chance(rng, 0.5) ? name.replaceAll('_', '-') : name.replaceAll('-', '_')
  const groups: Array<[string, string[]]> = [
    ['client', ['port = 3306', 'socket = /var/run/mysqld/mysqld.sock']],
    ['mysqld_safe', ['socket = /var/run/mysqld/mysqld.sock', 'nice = 0']],
    ['mysqld', [
      'user = mysql', `${dash('pid-file')} = /var/run/mysqld/mysqld.pid`, 'socket = /var/run/mysqld/mysqld.sock', 'port = 3306',
      'basedir = /usr', 'datadir = /var/lib/mysql', 'tmpdir = /tmp', dash('skip-external-locking'), `${dash('bind-address')} = 127.0.0.1`,
      stack.mysql === '5.5' ? 'key_buffer_size = 16M' : 'key_buffer = 16M', 'max_allowed_packet = 16M', 'thread_stack = 192K', 'thread_cache_size = 8',
      ...(stack.mysql === '5.0' ? [] : [stack.mysql === '5.5' ? 'myisam-recover-options = BACKUP' : 'myisam-recover = BACKUP']),
      'query_cache_limit = 1M', 'query_cache_size = 16M', `${dash('expire_logs_days')} = 10`, 'max_binlog_size = 100M',
      ...(stack.mysql === '5.0' ? ['skip-bdb'] : [])
    ]],
    ['mysqldump', ['quick', dash('quote-names'), 'max_allowed_packet = 16M']],
    ['isamchk', ['key_buffer = 16M']]
  ]
  const out: string[] = []
  if (chance(rng, 0.7)) out.push('#\n# The MySQL database server configuration file.\n#\n# You can copy this to one of:\n# - "/etc/mysql/my.cnf" to set global options,\n# - "~/.my.cnf" to set user-specific options.', '')
  for (const [group, options] of groups) {
    out.push(`[${group}]`)
    const lines = [...options]
    if (chance(rng, 0.3)) shuffle(rng, lines)
    for (const line of lines) {
      if (chance(rng, 0.05)) out.push('# * Fine Tuning')
      out.push(chance(rng, 0.1) ? `\t${line}` : line)
    }
    out.push('')
  }
  out.push('!includedir /etc/mysql/conf.d/', '')
  return out.join('\n')
}

// ---------------------------------------------------------------- dpkg status

function renderStanza (p: Package): string {
  const fields = [
    `Package: ${p.name}`,
    `Status: ${p.status ?? 'install ok installed'}`,
    'Priority: optional',
    `Section: ${p.section}`,
    `Installed-Size: ${100 + (p.name.length * 37) % 900}`,
    'Maintainer: Debian Maintainers <debian-devel@lists.debian.org>',
    `Architecture: ${p.architecture}`,
    `Version: ${p.version}`,
    ...(p.depends === undefined ? [] : [`Depends: ${p.depends}`]),
    `Description: ${p.description}`,
    ` ${p.description} (long description).`
  ]
  return `${fields.join('\n')}\n`
}

function renderDpkgStatus (rng: Rng, env: MachineEnvironment): string {
  const stack = STACKS[env.stack]
  const packages = [...stack.packages]
  if (env.leftoverLibmysqlclient15) packages.push(LEFTOVER_LIBMYSQLCLIENT15)
  else if (stack.mysqlClient !== 'libmysqlclient15off' && chance(rng, 0.3)) {
    // Removed, its configuration files kept: not installed, so not a fact.
    packages.push({ ...LEFTOVER_LIBMYSQLCLIENT15, status: 'deinstall ok config-files' })
  }
  for (const [name, versions] of UNRELATED_PACKAGES) {
    if (chance(rng, 0.6)) packages.push({ name, version: pick(rng, versions), architecture: 'amd64', section: 'admin', description: `${name}` })
  }
  shuffle(rng, packages)
  return packages.map(renderStanza).join('\n')
}

// ---------------------------------------------------------------- images and drift

function expectedFailures (env: MachineEnvironment): FailureCause[] {
  const causes: FailureCause[] = []
  const anyConf = (names: readonly string[]): boolean => names.some(n => n.endsWith('.conf'))
  if (((env.apache === 'sites-wildcard' || env.apache === 'all-wildcards') && !anyConf(env.sites)) || (env.apache === 'all-wildcards' && !anyConf(env.confd))) {
    causes.push('apache-include')
  }
  if (env.mysqlExtension && STACKS[env.stack].mysqlClient === 'libmysqlclient15off') causes.push('php-mysql-abi')
  const enabled = phpSettings(env).some(([, entries]) => entries.some(([k, v]) => REMOVED_IN_PHP54.has(k) && /^(on|yes|true|[1-9][0-9]*)$/i.test(v)))
  if (enabled) causes.push('php-removed-directive')
  return causes
}

function drawImage (rng: Rng): MachineEnvironment {
  const stack = weighted<StackName>(rng, [['squeeze', 0.3], ['lenny-dotdeb53', 0.2], ['lucid', 0.2], ['hardy-ppa53', 0.1], ['wheezy-apache24', 0.2]])
  const apache24 = STACKS[stack].apache24
  const apache = apache24 ? 'optional-24' : weighted<ApacheStyle>(rng, [['debian-dirs', 0.4], ['sites-wildcard', 0.3], ['all-wildcards', 0.15], ['monolithic', 0.15]])
  const sites = apache24
    ? weighted(rng, [[['000-default.conf'], 0.3], [['webshop.conf'], 0.4], [['000-default.conf', 'webshop.conf'], 0.2], [[], 0.1]])
    : weighted(rng, [[['000-default'], 0.25], [['000-default.conf'], 0.15], [['webshop.conf'], 0.3], [['000-default', 'webshop'], 0.15], [['webshop'], 0.05], [[], 0.1]])
  const confd = apache24 ? CONFD24 : apache === 'all-wildcards' ? weighted(rng, [[CONFD22_RENAMED, 0.7], [CONFD22_DEBIAN, 0.3]]) : CONFD22_DEBIAN
  const client = STACKS[stack].mysqlClient
  return {
    stack,
    apache,
    modules: weighted<ModuleSet>(rng, [['minimal', 0.3], ['standard', 0.5], ['ssl', 0.2]]),
    extraModules: [],
    sites: [...sites].sort(),
    confd: [...confd].sort(),
    php: weighted<PhpProfile>(rng, [['production', 0.35], ['development', 0.1], ['legacy', 0.15], ['shared-hosting', 0.1], ['hardened', 0.15], ['trimmed', 0.15]]),
    phpOverrides: {},
    mysqlExtension: chance(rng, 0.75),
    leftoverLibmysqlclient15: client === 'libmysqlclient16' && chance(rng, 0.3),
    tuning: { ...TUNING_BASE, memory_limit: pick(rng, ['128M', '256M']) }
  }
}

/**
 * Cloned machines drift from their image: each drift touches something the
 * upgrade's failures depend on (or a near miss of it), so the clustering
 * must tell the drifted machines apart.
 */
const DRIFTS: ReadonlyArray<readonly [string, number, (env: MachineEnvironment) => void]> = [
  ['disabled-all-sites', 0.03, env => { env.sites = [] }],
  ['enabled-webshop-site', 0.02, env => { env.sites = [...new Set([...env.sites, STACKS[env.stack].apache24 || env.apache !== 'debian-dirs' ? 'webshop.conf' : 'webshop'])].sort() }],
  ['register-globals-on', 0.025, env => { env.phpOverrides = { ...env.phpOverrides, register_globals: 'On' } }],
  ['magic-quotes-off', 0.02, env => { env.phpOverrides = { ...env.phpOverrides, magic_quotes_gpc: 'Off' } }],
  ['switched-database', 0.025, env => { env.mysqlExtension = !env.mysqlExtension }],
  ['a2enmod', 0.03, env => { env.extraModules = [...new Set([...env.extraModules, 'rewrite'])].sort() }]
]

/** Per machine: zero, one or (rarely) two tuning knobs moved from the image's. */
function tuneMachine (rng: Rng, env: MachineEnvironment): void {
  const knobs = Object.keys(TUNING_ALTERNATIVES)
  const moves = weighted(rng, [[0, 0.45], [1, 0.45], [2, 0.1]])
  for (const knob of shuffle(rng, [...knobs]).slice(0, moves)) {
    env.tuning[knob] = pick(rng, (TUNING_ALTERNATIVES[knob] ?? []).filter(v => v !== env.tuning[knob]))
  }
}

function environmentKey (env: MachineEnvironment): string {
  const sortRecord = (r: Record<string, string>): Array<[string, string]> => Object.entries(r).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  return JSON.stringify({ ...env, phpOverrides: sortRecord(env.phpOverrides), tuning: sortRecord(env.tuning) })
}

// ---------------------------------------------------------------- writing

/** A file's path under the machine root → its content, or `{ link }` for a symlink. */
type Tree = Map<string, string | { link: string }>

function machineTree (rng: Rng, env: MachineEnvironment, hostname: string): Tree {
  const stack = STACKS[env.stack]
  const tree: Tree = new Map()
  tree.set('etc/apache2/apache2.conf', renderApacheConf(rng, env))
  tree.set('etc/apache2/ports.conf', portsConf(stack))
  if (!stack.apache24) tree.set('etc/apache2/httpd.conf', '')
  const modules = [...new Set([...MODULE_SETS[env.modules], ...env.extraModules, ...(stack.apache24 ? ['mpm_prefork', 'authz_core'] : [])])].sort()
  for (const module of [...modules, ...EXTRA_MODULES]) {
    tree.set(`etc/apache2/mods-available/${module}.load`, `LoadModule ${module}_module /usr/lib/apache2/modules/mod_${module}.so\n`)
    const conf = MODULE_CONF[module]
    if (conf !== undefined && conf !== '') tree.set(`etc/apache2/mods-available/${module}.conf`, conf)
  }
  for (const module of modules) {
    // a2enmod: symlinks into mods-available.
    tree.set(`etc/apache2/mods-enabled/${module}.load`, { link: `../mods-available/${module}.load` })
    if (tree.has(`etc/apache2/mods-available/${module}.conf`)) tree.set(`etc/apache2/mods-enabled/${module}.conf`, { link: `../mods-available/${module}.conf` })
  }
  for (const site of ['000-default', 'webshop']) {
    const name = stack.apache24 ? `${site}.conf` : site
    tree.set(`etc/apache2/sites-available/${name}`, SITES[site] ?? '')
  }
  for (const entry of env.sites) {
    const base = entry.replace(/\.conf$/, '')
    const available = stack.apache24 ? `${base}.conf` : base
    // 2.2 sites renamed for `*.conf` patterns are copies; otherwise a2ensite's symlink.
    if (entry === available) tree.set(`etc/apache2/sites-enabled/${entry}`, { link: `../sites-available/${available}` })
    else tree.set(`etc/apache2/sites-enabled/${entry}`, SITES[base] ?? '')
  }
  // An empty directory must exist: `Include sites-enabled/` of a missing one would be another failure.
  tree.set('etc/apache2/sites-enabled/', '')
  if (stack.apache24) {
    for (const entry of CONFD24) tree.set(`etc/apache2/conf-available/${entry}`, confdText(entry))
    for (const entry of env.confd) tree.set(`etc/apache2/conf-enabled/${entry}`, { link: `../conf-available/${entry}` })
    tree.set('etc/apache2/conf-enabled/', '')
  } else {
    for (const entry of env.confd) tree.set(`etc/apache2/conf.d/${entry}`, confdText(entry))
    tree.set('etc/apache2/conf.d/', '')
  }
  tree.set('etc/php5/apache2/php.ini', renderPhpIni(rng, env))
  tree.set('etc/php5/apache2/conf.d/99-tuning.ini', renderTuning(rng, env))
  tree.set('etc/mysql/my.cnf', renderMyCnf(rng, stack))
  if (stack.mysql !== '5.0') tree.set('etc/mysql/conf.d/mysqld_safe_syslog.cnf', '[mysqld_safe]\nsyslog\n')
  tree.set('etc/mysql/conf.d/', '')
  tree.set('var/lib/dpkg/status', renderDpkgStatus(rng, env))
  tree.set('etc/hostname', `${hostname}\n`)
  tree.set('etc/motd', `\nThe programs included with the Debian GNU/Linux system are free software.\n\n${hostname}: ${pick(rng, ['webshop production', 'staging', 'shop frontend', 'managed by ops'])}, last patched ${1 + Math.floor(rng() * 28)}.${1 + Math.floor(rng() * 12)}.\n`)
  return tree
}

async function writeTree (root: string, tree: Tree): Promise<void> {
  const dirs = new Set<string>()
  for (const path of tree.keys()) dirs.add(path.endsWith('/') ? path.slice(0, -1) : dirname(path))
  for (const dir of [...dirs].sort()) await mkdir(join(root, dir), { recursive: true })
  await Promise.all([...tree].filter(([path]) => !path.endsWith('/')).map(async ([path, content]) => {
    if (typeof content === 'string') await writeFile(join(root, path), content)
    else await symlink(content.link, join(root, path))
  }))
}

/** Machines written at once: overlaps file creation without thousands of open files. */
const WRITE_CONCURRENCY = 8

/**
 * Writes `machines` machine environments under `dir` and describes them.
 * `dir` should be empty (or not exist).
 */
export async function generatePopulation (options: PopulationOptions): Promise<GeneratedMachine[]> {
  const rng = mulberry32(options.seed)
  const imageCount = options.images ?? Math.max(4, Math.round(options.machines / 16))
  const images = Array.from({ length: imageCount }, () => drawImage(rng))
  // Fleets are skewed: a few images account for most machines.
  const popularity = shuffle(rng, images.map((_, i) => i)).map((image, rank) => [image, 1 / (rank + 1) ** 0.7] as const)
  const digits = Math.max(3, String(options.machines).length)
  const machines: GeneratedMachine[] = []
  const trees: Array<[string, Tree]> = []
  for (let i = 1; i <= options.machines; i++) {
    const image = weighted(rng, popularity)
    const env: MachineEnvironment = structuredClone(images[image] as MachineEnvironment)
    const drifts: string[] = []
    for (const [name, p, apply] of DRIFTS) {
      if (chance(rng, p)) {
        apply(env)
        drifts.push(name)
      }
    }
    tuneMachine(rng, env)
    const name = `m${String(i).padStart(digits, '0')}`
    const root = join(options.dir, name)
    const hostname = `${pick(rng, ['web', 'shop', 'www', 'srv'])}-${Math.floor(rng() * 0x10000).toString(16)}`
    trees.push([root, machineTree(rng, env, hostname)])
    machines.push({ name, root, image, drifts, environment: env, expectedCauses: expectedFailures(env), environmentKey: environmentKey(env) })
  }
  for (let i = 0; i < trees.length; i += WRITE_CONCURRENCY) {
    await Promise.all(trees.slice(i, i + WRITE_CONCURRENCY).map(async ([root, tree]) => writeTree(root, tree)))
  }
  return machines
}
