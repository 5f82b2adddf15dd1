/**
 * Configuration-file parsers for environment fingerprinting (Mirage §4.1:
 * a configuration file is an environmental resource, fingerprinted item by
 * item so that two machines whose files differ only in comments, blank
 * lines or line order land in the same cluster, and a vendor can see which
 * directive differs). Each parser turns one file (and what it includes)
 * into ConfigItems: item name → normalised value, independent of line
 * order; a change to one directive changes one item. Values are raw here;
 * the fingerprinter salts and hashes them. Bad content is always a
 * ConfigParseError (src/env/errors.ts), never another error, a hang or a
 * stack overflow: every parser is bounded (constants.ts).
 */
export { parseApache } from './apache.ts'
export { parseIni } from './ini.ts'
export { parseJsonConfig } from './json.ts'
export { parseMyCnf } from './my-cnf.ts'
export { fileIncludes } from './read-includes.ts'
export { DEFAULT_COMMENT_PREFIXES, textItems } from './text.ts'
export { parseYamlConfig } from './yaml.ts'
export { MAX_CONFIG_ITEMS, MAX_CONFIG_TEXT_BYTES, MAX_INCLUDE_DEPTH, MAX_INCLUDED_FILES, MAX_INCLUDED_TEXT_BYTES, MAX_NESTING_DEPTH, MAX_YAML_ALIAS_COUNT } from './constants.ts'
