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
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'] }
      },
      {
        // Swarms of real libp2p nodes: one file at a time, so two swarms never
        // fight over the two cores and their timeouts stay meaningful.
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], fileParallelism: false, testTimeout: 300_000 }
      }
    ]
  }
})
