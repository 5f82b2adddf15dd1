/**
 * The input side every parser shares: the size bound, and splitting text
 * into lines the same way for every format (so line numbers in errors agree
 * with what an editor shows).
 */
import { ConfigParseError } from '../errors.ts'
import { MAX_CONFIG_TEXT_BYTES } from './constants.ts'

/** Refuses text over MAX_CONFIG_TEXT_BYTES (UTF-8 bytes) before any parsing work. */
export function checkTextSize (text: string, path: string): void {
  // Cheap pre-check: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= MAX_CONFIG_TEXT_BYTES) return
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > MAX_CONFIG_TEXT_BYTES) {
    throw new ConfigParseError('too-large', path, undefined, `${bytes} bytes is over the ${MAX_CONFIG_TEXT_BYTES}-byte limit for a configuration file`)
  }
}

/**
 * The lines of a text, without their terminators; `\r\n`, `\n` and a lone `\r`
 * all end a line, and a leading byte-order mark is dropped, so a file saved
 * on another system fingerprints the same.
 */
export function splitLines (text: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  return body.split(/\r\n|\n|\r/)
}
