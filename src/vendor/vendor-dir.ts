import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { writeFileAtomically } from '../content/index.ts'
import { APP_NAME_PATTERN, KeyFileError, generateSigningKey, loadPrivateKey, publicKeyToText, savePrivateKey } from '../trust/index.ts'
import { VendorDirError } from './errors.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'

/**
 * A vendor's directory:
 *
 *   D/vendor.key       Ed25519 signing key, mode 0600
 *   D/vendor.pub       its public key as text, to hand to machine owners
 *   D/published.json   per app: the last sequence, version and release id
 */
export const VENDOR_KEY_FILE = 'vendor.key'
export const VENDOR_PUBLIC_KEY_FILE = 'vendor.pub'
export const PUBLISHED_FILE = 'published.json'

export interface PublishedEntry {
  sequence: number
  version: string
  releaseId: string
  publishedAt: string
}

export interface VendorDir {
  readonly dir: string
  readonly key: Ed25519PrivateKey
  readonly publicKeyText: string
  /** The last release published per app, as recorded here. */
  published(): Promise<Record<string, PublishedEntry>>
  /** Records a publish; sequences only grow, so an older entry never replaces a newer one. */
  recordPublished(app: string, entry: PublishedEntry): Promise<void>
}

const publishedSchema = z.record(
  z.string().regex(APP_NAME_PATTERN),
  z.strictObject({ sequence: z.int().min(1), version: z.string(), releaseId: z.string(), publishedAt: z.string() })
)

/** Creates a vendor: a new key pair in `dir` (created with mode 0700 if absent). Refuses to replace a key. */
export async function initVendorDir (dir: string): Promise<VendorDir> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const keyPath = join(dir, VENDOR_KEY_FILE)
  if (await exists(keyPath)) {
    throw new VendorDirError('exists', dir, `${dir} already holds a vendor key; refusing to replace it (machines trust that key)`)
  }
  const key = await generateSigningKey()
  await savePrivateKey(keyPath, key)
  await writeFile(join(dir, VENDOR_PUBLIC_KEY_FILE), `${publicKeyToText(key.publicKey)}\n`, { mode: 0o644 })
  return vendorDir(dir, key)
}

export async function openVendorDir (dir: string): Promise<VendorDir> {
  try {
    return vendorDir(dir, await loadPrivateKey(join(dir, VENDOR_KEY_FILE)))
  } catch (err) {
    if (err instanceof KeyFileError && err.reason === 'missing') {
      throw new VendorDirError('missing', dir, `${dir} is not a vendor directory (no ${VENDOR_KEY_FILE}); create one with \`mirage vendor init --dir ${dir}\``, { cause: err })
    }
    throw err
  }
}

function vendorDir (dir: string, key: Ed25519PrivateKey): VendorDir {
  const statePath = join(dir, PUBLISHED_FILE)
  const published = async (): Promise<Record<string, PublishedEntry>> => {
    let text: string
    try {
      text = await readFile(statePath, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
      throw err
    }
    try {
      return publishedSchema.parse(JSON.parse(text))
    } catch (err) {
      // Never reset it: the sequence it holds is what keeps releases monotonic.
      throw new VendorDirError('state-corrupt', dir, `${statePath} is damaged; fix it by hand (it records the last sequence per app)`, { cause: err })
    }
  }
  return {
    dir,
    key,
    publicKeyText: publicKeyToText(key.publicKey),
    published,
    async recordPublished (app, entry) {
      const all = await published()
      const previous = all[app]
      if (previous !== undefined && previous.sequence >= entry.sequence) return
      all[app] = entry
      await writeFileAtomically(statePath, `${JSON.stringify(all, null, 2)}\n`)
    }
  }
}

async function exists (path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}
