// Benchmark (not a test), issue 4: fingerprinting 1 GB of files (the
// executables and libraries kind, `binary`: content hashes) against
// `sha256sum` over the same files, in the same run.
// Goal: fingerprinting runs at no less than 0.7 × sha256sum's speed.
//
//   npm run bench:fingerprint            # 1 GB in a realistic mix of file sizes, 3 rounds
//   MIRAGE_BENCH_MB=128 npm run bench:fingerprint
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { checkResources, fingerprintEnvironment } from '../src/env/index.ts'

const TOTAL_MB = Number(process.env.MIRAGE_BENCH_MB ?? 1024)
const ROUNDS = Number(process.env.MIRAGE_BENCH_ROUNDS ?? 3)
const TARGET_RATIO = 0.7
/**
 * A system's executables and libraries are many small files and a few large
 * ones: per 64 MB, one 32 MB file, four 4 MB, sixty-four 256 KB.
 */
const MIX = [{ count: 1, bytes: 32 * 2 ** 20 }, { count: 4, bytes: 4 * 2 ** 20 }, { count: 64, bytes: 256 * 2 ** 10 }]

const run = promisify(execFile)
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN

async function main (): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'mirage-fp-bench-'))
  try {
    const root = join(work, 'usr/lib/bench')
    await mkdir(root, { recursive: true })
    const files: string[] = []
    let total = 0
    for (let group = 0; total < TOTAL_MB * 2 ** 20; group++) {
      for (const { count, bytes } of MIX) {
        for (let i = 0; i < count; i++) {
          const file = join(root, `g${group}-${bytes}-${i}.so`)
          await writeFile(file, randomBytes(bytes))
          files.push(file)
          total += bytes
        }
      }
    }
    const resources = checkResources([{ name: 'libraries', kind: 'binary', path: '/usr/lib/bench/*.so' }], 'bench')
    // Warm the page cache so both contenders read from memory.
    for (const file of files) await readFile(file)
    console.log(`fingerprint bench: ${files.length} files, ${(total / 1e6).toFixed(0)} MB, ${ROUNDS} rounds`)

    const sha: number[] = []
    const fp: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      let start = performance.now()
      // xargs keeps the argument list within limits; one sha256sum process per batch, as a person would run it.
      await run('sh', ['-c', `cd '${root}' && ls | xargs sha256sum > /dev/null`], { maxBuffer: 64 * 2 ** 20 })
      sha.push(performance.now() - start)
      start = performance.now()
      const fingerprint = await fingerprintEnvironment({ app: 'bench', resources }, { root: work, environment: {} })
      fp.push(performance.now() - start)
      if (fingerprint.facts.length !== files.length) throw new Error(`expected ${files.length} facts, got ${fingerprint.facts.length}`)
    }
    const shaMs = median(sha)
    const fpMs = median(fp)
    const rate = (ms: number): string => `${(total / 1e6 / (ms / 1000)).toFixed(0)} MB/s`
    const ratio = shaMs / fpMs
    console.log(`  sha256sum:   ${(shaMs / 1000).toFixed(2)} s (${rate(shaMs)}), rounds ${sha.map(ms => (ms / 1000).toFixed(2)).join(' ')}`)
    console.log(`  fingerprint: ${(fpMs / 1000).toFixed(2)} s (${rate(fpMs)}), rounds ${fp.map(ms => (ms / 1000).toFixed(2)).join(' ')}`)
    console.log(`  speed ratio fingerprint/sha256sum: ${ratio.toFixed(2)} (goal ≥ ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? 'PASS' : 'FAIL'}`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
