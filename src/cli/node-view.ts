import type { NodeStatus } from '../node/index.ts'

const short = (id: string): string => id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id

/** `mirage node status` for a person: per app and release, where it stands and why. */
export function formatNodeStatus (status: NodeStatus): string {
  const lines = [`${status.seed ? 'seed' : 'node'} ${status.peerId} (${status.connectedPeers} peers connected)`]
  for (const address of status.addresses) lines.push(`  listening on ${address}`)
  if (status.uploaded.bytes > 0) lines.push(`  uploaded ${status.uploaded.bytes} bytes in ${status.uploaded.chunks} chunks`)
  const { waiting, delivered, custody } = status.reports
  if (waiting + delivered + custody > 0) lines.push(`  problem reports: ${waiting} waiting for the vendor, ${delivered} delivered, ${custody} held for other machines`)
  for (const app of status.apps) {
    const installed = app.installed?.version === undefined ? 'nothing installed' : `installed ${app.installed.version} (sequence ${app.installed.sequence ?? '?'})`
    lines.push('', `app ${app.app}: cluster ${app.clusterId}, ${installed}`)
    if (app.releases.length === 0) lines.push('  no release seen yet')
    for (const r of app.releases) {
      lines.push(`  release ${r.version} (sequence ${r.sequence}) ${short(r.id)}: ${r.state}, ${r.role}`)
      lines.push(`    ${r.reason}`)
      lines.push(`    engine: ${r.gate.action}: ${r.gate.reason}`)
      lines.push(`    chunks ${r.chunksHeld}/${r.chunksTotal}`)
      const rows = [['cluster', 'state', 'passes', 'members', 'why'], ...r.clusters.map(c => [c.clusterId, c.state, `${c.passes}/${c.quorum}`, String(c.members), c.reason])]
      const widths = [0, 1, 2, 3].map(i => Math.max(...rows.map(row => row[i]?.length ?? 0)))
      for (const row of rows) lines.push(`    ${row.map((cell, i) => i < 4 ? cell.padEnd(widths[i] ?? 0) : cell).join('  ')}`)
    }
  }
  return `${lines.join('\n')}\n`
}
