/**
 * The machine's environment for an app and the cluster it puts the machine
 * in (Mirage §4.1: machines with the same relevant environment form a
 * cluster). For now: explicit names, files and environment variables.
 */
export { computeClusterId } from './cluster-id.ts'
export type { ClusterSpec } from './cluster-id.ts'
