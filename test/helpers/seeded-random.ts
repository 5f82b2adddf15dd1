/**
 * mulberry32: a tiny seeded PRNG, uniform in [0, 1). Tests, generated
 * populations and benchmarks use it so "random" input is reproducible; it
 * is the very one the scenario runners draw churn with.
 */
export { mulberry32 } from '../../src/scenario/population.ts'
