import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { z } from 'zod'
import { ATOMIC_TEMP_MARKER, writeFileAtomically } from '../content/index.ts'
import { generateReportKeyPair, loadReportPrivateKey, reportPublicKeyOf, reportPublicKeyToText, saveReportPrivateKey } from '../report/index.ts'
import { APP_NAME_PATTERN, KeyFileError, generateSigningKey, loadPrivateKey, publicKeyToText, savePrivateKey } from '../trust/index.ts'
import { VendorDirError } from './errors.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import type { KeyObject } from 'node:crypto'

const log = logger('mirage:vendor:dir')

/**
 * A vendor's directory:
 *
 *   D/vendor.key       Ed25519 signing key, mode 0600
 *   D/vendor.pub       its public key as text, to hand to machine owners
 *   D/report.key       X25519 report key (PKCS #8 PEM), mode 0600: opens the problem reports machines seal to the vendor
 *   D/report.pub       its public key as text (`mirage-report-key:…`), signed into every release `vendor publish` makes
 *   D/reports/         the inbox: each sealed report the seed received, `<64 hex SHA-256 of the sealed bytes>.report`
 *   D/published.json   per app: the last sequence, version and release id
 */
export const VENDOR_KEY_FILE = 'vendor.key'
export const VENDOR_PUBLIC_KEY_FILE = 'vendor.pub'
export const VENDOR_REPORT_KEY_FILE = 'report.key'
export const VENDOR_REPORT_PUBLIC_KEY_FILE = 'report.pub'
export const VENDOR_REPORTS_DIR = 'reports'
export const PUBLISHED_FILE = 'published.json'

/** The report inbox of a vendor directory: where the seed writes each sealed report it receives. */
export function vendorReportsDir (dir: string): string {
  return join(dir, VENDOR_REPORTS_DIR)
}

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
  /** The X25519 report private key: opens sealed problem reports (src/report `openReport`). */
  readonly reportKey: KeyObject
  /** Its raw public key, 32 bytes: what machines seal reports to. */
  readonly reportPublicKey: Uint8Array
  /** Its text form, `mirage-report-key:…`, as `vendor publish` signs it into a manifest. */
  readonly reportPublicKeyText: string
  /** True when this open created the report key (a directory made before report keys existed). */
  readonly reportKeyCreated: boolean
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
  const report = await openOrCreateReportKey(dir)
  return vendorDir(dir, key, report)
}

/**
 * Opens a vendor directory. One made before report keys existed gets its
 * report key pair now (logged, and `reportKeyCreated` is true): every
 * release it publishes from now on names it.
 */
export async function openVendorDir (dir: string): Promise<VendorDir> {
  let key: Ed25519PrivateKey
  try {
    key = await loadPrivateKey(join(dir, VENDOR_KEY_FILE))
  } catch (err) {
    if (err instanceof KeyFileError && err.reason === 'missing') {
      throw new VendorDirError('missing', dir, `${dir} is not a vendor directory (no ${VENDOR_KEY_FILE}); create one with \`mirage vendor init --dir ${dir}\``, { cause: err })
    }
    throw err
  }
  const report = await openOrCreateReportKey(dir)
  if (report.created) log('created the report key %s in %s (the directory predates report keys)', join(dir, VENDOR_REPORT_KEY_FILE), dir)
  return vendorDir(dir, key, report)
}

interface ReportKeyState {
  privateKey: KeyObject
  created: boolean
}

/**
 * Loads `report.key`, creating it when absent, and (re)writes `report.pub`
 * when it is missing or does not match. The key is written to a temp file
 * and linked into place: `link` fails if the name exists, so two commands
 * opening an old directory at once end up with one key, and a crash never
 * leaves a half-written key under the real name.
 */
async function openOrCreateReportKey (dir: string): Promise<ReportKeyState> {
  const keyPath = join(dir, VENDOR_REPORT_KEY_FILE)
  let created = false
  let privateKey: KeyObject
  try {
    privateKey = await loadReportPrivateKey(keyPath)
  } catch (err) {
    if (!(err instanceof KeyFileError && err.reason === 'missing')) throw err
    const temp = `${keyPath}${ATOMIC_TEMP_MARKER}${randomBytes(8).toString('hex')}`
    const fresh = generateReportKeyPair().privateKey
    try {
      await saveReportPrivateKey(temp, fresh)
      await link(temp, keyPath).then(() => { created = true }, (linkErr: NodeJS.ErrnoException) => {
        // Another command created it first: use that one.
        if (linkErr.code !== 'EEXIST') throw linkErr
      })
    } finally {
      await unlink(temp).catch(() => {})
    }
    if (created) await syncDir(dir)
    privateKey = await loadReportPrivateKey(keyPath)
  }
  const text = `${reportPublicKeyToText(reportPublicKeyOf(privateKey))}\n`
  const pubPath = join(dir, VENDOR_REPORT_PUBLIC_KEY_FILE)
  const written = await readFile(pubPath, 'utf8').catch(() => undefined)
  if (written !== text) await writeFileAtomically(pubPath, text)
  return { privateKey, created }
}

async function syncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function vendorDir (dir: string, key: Ed25519PrivateKey, report: ReportKeyState): VendorDir {
  const reportPublicKey = reportPublicKeyOf(report.privateKey)
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
    reportKey: report.privateKey,
    reportPublicKey,
    reportPublicKeyText: reportPublicKeyToText(reportPublicKey),
    reportKeyCreated: report.created,
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
