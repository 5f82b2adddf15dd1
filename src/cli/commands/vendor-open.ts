import { join } from 'node:path'
import { VENDOR_REPORT_KEY_FILE, openVendorDir } from '../../vendor/index.ts'
import type { VendorDir } from '../../vendor/index.ts'
import type { CliIo } from '../command.ts'

/**
 * Opens the vendor directory of a command and tells the person (on
 * stderr, so `--json` output stays one document) when this created the
 * report key of a directory made before report keys existed.
 */
export async function openVendorForCommand (dir: string, io: CliIo): Promise<VendorDir> {
  const vendor = await openVendorDir(dir)
  if (vendor.reportKeyCreated) {
    io.stderr.write(`note: created the report key ${join(dir, VENDOR_REPORT_KEY_FILE)} (this vendor directory predates report keys).\n` +
      '  Releases published from now on name it, and machines seal their problem reports to it. Back it up:\n' +
      '  reports sealed to a lost key cannot be read.\n')
  }
  return vendor
}
