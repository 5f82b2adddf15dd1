import { resolve } from 'node:path'
import { runQuickstart } from '../../scenario/index.ts'
import { EXIT_FAILURE, EXIT_OK, optionalString } from '../command.ts'
import { formatBytes } from '../release-view.ts'
import type { Command } from '../command.ts'
import type { QuickstartStep } from '../../scenario/index.ts'

export const quickstartCommand: Command = {
  kind: 'command',
  name: 'quickstart',
  summary: 'Run the built-in walk-through: create a vendor, publish a sample release, verify it, catch a tampered copy.',
  options: {
    dir: { type: 'string', valueName: 'DIR', description: 'work directory (default: a new temp directory)' },
    json: { type: 'boolean', description: 'print NDJSON events instead of text' }
  },
  async run (args, io) {
    const dir = optionalString(args, 'dir')
    const json = args.values.json === true
    const result = await runQuickstart({
      workDir: dir === undefined ? undefined : resolve(dir),
      signal: io.signal,
      onStep (step) {
        if (json) {
          io.stdout.write(`${JSON.stringify({ type: step.type, ...stepSummary(step) })}\n`)
          return
        }
        switch (step.type) {
          case 'vendor-created':
            io.stdout.write(`1. vendor created in ${step.dir}\n   public key ${step.publicKey}\n`)
            break
          case 'published': {
            const m = step.release.manifest
            io.stdout.write(`2. published ${m.app} ${m.version} (sequence ${m.sequence}): ${formatBytes(m.artifact.size)} in ${m.artifact.chunks.length} chunks, ` +
              `plan ${m.plan.style} over ${m.plan.clusters.length} named clusters\n   release ${step.release.id}\n   in ${step.dir}\n`)
            break
          }
          case 'verified':
            io.stdout.write(step.check.defects.length === 0
              ? '3. verified as a machine would: signature by the vendor key, manifest and plan, every chunk\n'
              : `3. verification FAILED:\n${step.check.defects.map(d => `   ${d.message}\n`).join('')}`)
            break
          case 'tamper-detected':
            io.stdout.write(`4. flipped one byte in a copy (${step.dir}); verification refuses it:\n${step.check.defects.map(d => `   ${d.message}\n`).join('')}`)
            break
        }
      }
    })
    const ok = result.verified.defects.length === 0 && result.tampered.defects.length > 0
    if (!json) io.stdout.write(ok ? `quickstart passed; everything is in ${result.workDir}\n` : 'quickstart FAILED\n')
    return ok ? EXIT_OK : EXIT_FAILURE
  }
}

function stepSummary (step: QuickstartStep): Record<string, unknown> {
  switch (step.type) {
    case 'vendor-created': return { dir: step.dir, publicKey: step.publicKey }
    case 'published': return { dir: step.dir, id: step.release.id, chunks: step.release.manifest.artifact.chunks.length }
    case 'verified': return { ok: step.check.defects.length === 0, defects: step.check.defects }
    case 'tamper-detected': return { dir: step.dir, defects: step.check.defects }
  }
}
