import { spawn } from 'node:child_process'

const ENTRY = new URL('../../bin/mirage.ts', import.meta.url).pathname

export interface MirageRun { code: number | null, stdout: string, stderr: string }

/**
 * Runs the real `mirage` entry in a child process with plain `node` (the
 * pinned Node 24 running this test), as a user would, and collects its output.
 */
export async function runMirage (args: string[], options: { cwd?: string, timeoutMs?: number } = {}): Promise<MirageRun> {
  const child = spawn(process.execPath, [ENTRY, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', resolve)
    })
    return { code, stdout, stderr }
  } finally {
    clearTimeout(timer)
  }
}
