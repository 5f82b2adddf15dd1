/**
 * Scenarios: runnable walks through the system for people to watch and for
 * researchers to measure. For now the quickstart (vendor, publish, verify);
 * multi-node scenarios and the simulator come with the overlay.
 */
export { runQuickstart } from './quickstart.ts'
export type { QuickstartInit, QuickstartResult, QuickstartStep } from './quickstart.ts'
