// Benchmark (not a test): publishing a 256 MB artifact (pack, chunk, hash,
// sign, write chunks) against `sha256sum` over the same bytes, in the same
// run. Target from issue 2: publish throughput >= 0.5 x sha256sum.
//
//   npm run bench                 # 256 MB, 3 rounds
//   MIRAGE_BENCH_MB=64 npm run bench
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parsePlanJson, publishRelease } from '../src/release/index.ts'
import { generateSigningKey } from '../src/trust/index.ts'

const TOTAL_MB = Number(process.env.MIRAGE_BENCH_MB ?? 256)
const ROUNDS = Number(process.env.MIRAGE_BENCH_ROUNDS ?? 3)
const FILES = 8
const TARGET_RATIO = 0.5

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN

async function main (): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'mirage-bench-'))
  try {
    const artifact = join(work, 'artifact')
    await mkdir(artifact)
    const fileBytes = Math.floor(TOTAL_MB * 1024 * 1024 / FILES)
    const files: string[] = []
    for (let i = 0; i < FILES; i++) {
      const file = join(artifact, `part-${i}.bin`)
      await writeFile(file, randomBytes(fileBytes))
      files.push(file)
    }
    await writeFile(join(artifact, 'mirage-test'), '#!/bin/sh\nexit 0\n')
    await chmod(join(artifact, 'mirage-test'), 0o755)
    const totalBytes = fileBytes * FILES
    const plan = parsePlanJson(JSON.stringify({ default: { k: 1, q: 1 } }))
    const key = await generateSigningKey()

    // Warm the page cache so both contenders read from memory.
    execFileSync('sha256sum', files, { stdio: 'ignore' })

    const shaSeconds: number[] = []
    const publishSeconds: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      let start = process.hrtime.bigint()
      execFileSync('sha256sum', files, { stdio: 'ignore' })
      shaSeconds.push(Number(process.hrtime.bigint() - start) / 1e9)

      const out = join(work, `release-${round}`)
      start = process.hrtime.bigint()
      await publishRelease({ app: 'bench', version: '1.0.0', sequence: round + 1, artifactDir: artifact, test: { command: ['mirage-test'], timeoutMs: 60_000 }, plan, key, outDir: out })
      publishSeconds.push(Number(process.hrtime.bigint() - start) / 1e9)
      await rm(out, { recursive: true, force: true })
    }

    const mb = totalBytes / 1e6
    const sha = mb / median(shaSeconds)
    const publish = mb / median(publishSeconds)
    const ratio = publish / sha
    process.stdout.write([
      `artifact: ${mb.toFixed(0)} MB in ${FILES} files, ${ROUNDS} rounds, medians`,
      `sha256sum:       ${sha.toFixed(0)} MB/s (${shaSeconds.map(s => s.toFixed(2)).join(', ')} s)`,
      `mirage publish:  ${publish.toFixed(0)} MB/s (${publishSeconds.map(s => s.toFixed(2)).join(', ')} s)`,
      `ratio publish/sha256sum: ${ratio.toFixed(2)} (target >= ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? 'PASS' : 'FAIL'}`
    ].join('\n') + '\n')
    if (ratio < TARGET_RATIO) process.exitCode = 1
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
