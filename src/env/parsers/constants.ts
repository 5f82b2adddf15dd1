/**
 * Limits of the configuration parsers. Every parser reads files an attacker
 * or a careless package may have written, so each loop and each recursion has
 * a named bound, and going past it is a ConfigParseError (never a hang or a
 * stack overflow).
 */

/**
 * Largest text a parser accepts, per file (main or included). Real
 * configuration files are kilobytes (php.ini-production is ~75 KB); 16 MiB
 * leaves room for generated ones while keeping one parse well under a second.
 */
export const MAX_CONFIG_TEXT_BYTES = 16 * 1024 * 1024

/**
 * Most items one parsed resource may yield. A fingerprint carries one fact
 * per item to peers and to the vendor's census, so this bounds what one file
 * adds to it. php.ini-development sets ~250 directives and Debian's Apache
 * with every include ~400: 10,000 is 25x headroom; a file with more is data,
 * not configuration, and should be fingerprinted as `binary`.
 */
export const MAX_CONFIG_ITEMS = 10_000

/**
 * Deepest nesting of JSON/YAML containers or Apache sections. Configs nest a
 * handful of levels; the bound keeps recursion far from the stack limit.
 */
export const MAX_NESTING_DEPTH = 64

/**
 * Deepest chain of includes (a includes b includes c ...). MySQL stops at 10
 * levels (mysys `search_default_file_with_ext`), Apache at 128
 * (`AP_MAX_INCLUDE_DEPTH`); real configs use two or three.
 */
export const MAX_INCLUDE_DEPTH = 16

/**
 * Most files one parse may pull in through includes, in total. Debian's
 * Apache layout includes one file per enabled module and site: a few
 * hundred on a busy web server.
 */
export const MAX_INCLUDED_FILES = 1024

/**
 * Most text one parse may pull in through includes, in total (UTF-8 bytes),
 * so that including one large file many times cannot make a parse read
 * gigabytes. Debian's Apache configuration with every include is ~100 KB.
 */
export const MAX_INCLUDED_TEXT_BYTES = 64 * 1024 * 1024

/**
 * How many times a YAML alias may be expanded, relative to the document (the
 * `maxAliasCount` of eemeli/yaml's `toJS`): stops "billion laughs" documents
 * before they are expanded.
 */
export const MAX_YAML_ALIAS_COUNT = 100
