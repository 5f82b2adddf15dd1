import { join } from 'node:path'

/**
 * A release directory, as `vendor publish` writes it and `release verify`
 * reads it:
 *
 *   R/manifest.cbor    the signed manifest envelope
 *   R/chunks/ab/ab…    the artifact's chunks, content-addressed
 */
export const MANIFEST_FILE = 'manifest.cbor'
export const CHUNKS_DIR = 'chunks'

export function manifestPath (releaseDir: string): string {
  return join(releaseDir, MANIFEST_FILE)
}

export function chunksPath (releaseDir: string): string {
  return join(releaseDir, CHUNKS_DIR)
}
