/**
 * `mirage scenario run --processes` stopped with SIGINT (Ctrl-C) in the
 * middle of a run: every machine process it started is gone afterwards, and
 * so is every listening socket they and the runner had.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MirageProcess } from '../../helpers/mirage-process.ts'
import { waitFor } from '../../helpers/wait-for.ts'

let runner: MirageProcess | undefined
let out: string | undefined
afterEach(async () => {
  await runner?.stop('SIGKILL')
  if (out !== undefined) await rm(out, { recursive: true, force: true })
})

/** Pids of processes whose command line mentions `text`. */
async function processesMentioning (text: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(text)) pids.push(Number(entry))
  }
  return pids
}

/** TCP ports listening now, by owning pid (from `ss`). */
function listeningPortsOf (pids: number[]): number[] {
  const text = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' })
  const ports: number[] = []
  for (const line of text.split('\n')) {
    const owner = line.match(/pid=(\d+)/)
    if (owner === null || !pids.includes(Number(owner[1]))) continue
    const port = line.split(/\s+/)[3]?.split(':').pop()
    if (port !== undefined) ports.push(Number(port))
  }
  return ports
}

function listening (ports: number[]): number[] {
  const text = execFileSync('ss', ['-ltnH'], { encoding: 'utf8' })
  return ports.filter(port => text.split('\n').some(line => line.split(/\s+/)[3]?.endsWith(`:${port}`) === true))
}

describe('scenario run and Ctrl-C', () => {
  it('leaves no process and no listening socket behind when interrupted mid-run', async () => {
    out = await mkdtemp(join(tmpdir(), 'mirage-sigint-'))
    runner = new MirageProcess(['scenario', 'run', 'quickstart', '--processes', '--json', '--out', out])
    const started = await runner.jsonLine<{ workDir: string }>('workDir', 120_000)
    // Mid-run: the machines are up and the release is out.
    await waitFor('the vendor published', () => runner?.stdout.includes('"type":"published"') === true, { timeoutMs: 180_000, intervalMs: 200, describe: () => runner?.stderr ?? '' })
    const machines = await processesMentioning(started.workDir)
    expect(machines.length, 'one process per machine of quickstart').toBe(10)
    const runnerPid = runner.child.pid ?? -1
    const ports = listeningPortsOf([...machines, runnerPid])
    expect(ports.length, 'the machines and the seed listen').toBeGreaterThanOrEqual(11)

    runner.child.kill('SIGINT')
    const exit = await runner.exited
    expect(exit.signal ?? exit.code, 'the runner exited on its own after SIGINT').not.toBeNull()
    // The runner stopped its machines before it exited: nothing is left to wait for.
    expect(await processesMentioning(started.workDir)).toEqual([])
    expect(listening(ports), 'no socket left listening').toEqual([])
  })
})
