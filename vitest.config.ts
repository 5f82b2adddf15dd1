import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Tests spawn real processes and write real files; two cores are shared
    // between them, so keep generous per-test limits and never rely on timing.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'], exclude: ['test/e2e/rollout-*.test.ts'] }
      },
      {
        // Swarms of real libp2p nodes (in-process, or `mirage` processes): one
        // file at a time, after the unit tests (see `npm test`), so two swarms
        // never fight over the two cores and their timeouts stay meaningful.
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts', 'test/e2e/rollout-*.test.ts'], fileParallelism: false, testTimeout: 300_000 }
      }
    ]
  }
})
