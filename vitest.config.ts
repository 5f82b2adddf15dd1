import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests spawn real processes and write real files; two cores are shared
    // between them, so keep generous per-test limits and never rely on timing.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
