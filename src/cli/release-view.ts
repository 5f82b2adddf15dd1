import { publicKeyToText } from '../trust/index.ts'
import type { ReleaseDefect, VerifiedRelease } from '../release/index.ts'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** A release as plain JSON: what `release show --json` prints. */
export function releaseToJson (release: VerifiedRelease): Record<string, unknown> {
  const m = release.manifest
  return {
    id: release.id,
    signer: publicKeyToText(release.signer),
    app: m.app,
    version: m.version,
    sequence: m.sequence,
    createdAt: new Date(m.createdAt).toISOString(),
    expiresAt: new Date(m.expiresAt).toISOString(),
    artifact: { size: m.artifact.size, chunkSize: m.artifact.chunkSize, root: m.artifact.root.toString(), chunks: m.artifact.chunks.map(hex) },
    test: m.test,
    plan: m.plan
  }
}

export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++ }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

/** A release for a person: identity, artifact, test and the plan as a table. */
export function formatRelease (release: VerifiedRelease): string {
  const m = release.manifest
  const rows: Array<[string, string, string, string]> = [['cluster', 'after', 'k', 'q']]
  for (const rule of m.plan.clusters) rows.push([rule.name, rule.after.join(', ') || '-', String(rule.k), String(rule.q)])
  rows.push(['(any other)', m.plan.default.after.join(', ') || '-', String(m.plan.default.k), String(m.plan.default.q)])
  const widths = [0, 1, 2, 3].map(i => Math.max(...rows.map(row => row[i]?.length ?? 0)))
  const table = rows.map(row => `  ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}`)
  return [
    `release   ${release.id}`,
    `app       ${m.app} ${m.version} (sequence ${m.sequence})`,
    `signed by ${publicKeyToText(release.signer)}`,
    `created   ${new Date(m.createdAt).toISOString()}`,
    `expires   ${new Date(m.expiresAt).toISOString()}`,
    `artifact  ${formatBytes(m.artifact.size)} in ${m.artifact.chunks.length} chunk${m.artifact.chunks.length === 1 ? '' : 's'} of ${formatBytes(m.artifact.chunkSize)}, root ${m.artifact.root.toString()}`,
    `test      ${m.test.command.join(' ')} (timeout ${m.test.timeoutMs / 1000} s)`,
    `plan      ${m.plan.style}; a representative must start within ${m.plan.startTimeoutMs / 1000} s and report within the test timeout + ${m.plan.reportGraceMs / 1000} s`,
    ...table
  ].join('\n') + '\n'
}

export function formatDefects (dir: string, defects: ReleaseDefect[]): string {
  return `FAILED ${dir}: ${defects.length} defect${defects.length === 1 ? '' : 's'}\n${defects.map(d => `  ${d.message}\n`).join('')}`
}
