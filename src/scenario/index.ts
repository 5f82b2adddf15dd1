/**
 * Scenarios: runnable walks through the system for people to watch and for
 * researchers to measure (Mirage §5's experiment: overhead and latency of
 * staged deployment against deploying to everyone at once).
 *
 * - Scenario files (`scenarios/*.yaml`): population, environments from
 *   templates, the release test that decides where an upgrade really breaks,
 *   releases and fixes, plan styles to compare, churn, late joiners, the
 *   vendor offline, network conditions (`loadScenario`, errors with line and
 *   field).
 * - Ground truth: `breaksOn` runs the scenario's real test script once per
 *   distinct environment.
 * - The simulator (`simulatePlan`, `simulateScenario`, `writeSimulation`):
 *   the same rollout engine in a discrete-event simulation, for populations
 *   of a million machines.
 * - Metrics (`computeRun`) shared by the simulator and the real runner, in
 *   the `results.json` format of results.ts.
 * - The quickstart (vendor, publish, verify).
 */
export { runQuickstart } from './quickstart.ts'
export type { QuickstartInit, QuickstartResult, QuickstartStep } from './quickstart.ts'
export { loadScenario, parseScenario, planFor, parseDuration, parseBytes, parseRate } from './scenario-schema.ts'
export type {
  Scenario, ScenarioCluster, ScenarioRules, ScenarioRelease, ChurnSpec, LateJoinerSpec, VendorOfflineSpec, NetworkSpec, TimingModel
} from './scenario-schema.ts'
export { ScenarioInvalidError, SimulationError } from './errors.ts'
export type { ScenarioInvalidReason } from './errors.ts'
export {
  environmentFiles, writeEnvironment, appTree, writeAppTree, populationOf, lateJoinersOf, outagesOf, scaleScenario, machineCount, machineId
} from './population.ts'
export type { ScenarioMachine } from './population.ts'
export { breaksOn, groundTruth, scenarioVersions } from './ground-truth.ts'
export { builtInScenario, builtInScenarioNames, resolveScenario, BUILT_IN_DIR } from './built-in.ts'
export { computeRun, percentile } from './metrics.ts'
export type { ComputeRunInput, MachineTimeline } from './metrics.ts'
export { simulatePlan } from './simulate.ts'
export type { SimulatePlanInput, SimulationCache } from './simulate.ts'
export { simulateScenario, writeSimulation, MAX_SIMULATED_MACHINES } from './simulate-scenario.ts'
export type { SimulateOptions, SimulationProgress, RunSummary } from './simulate-scenario.ts'
export {
  RESULTS_FORMAT_VERSION, MACHINE_STATES, scenarioResultsSchema, planRunSchema, machineResultSchema, clusterResultSchema, runMetricsSchema, timelineEventSchema
} from './results.ts'
export type { ScenarioResults, PlanRun, MachineResult, ClusterResult, RunMetrics, TimelineEvent, MachineState } from './results.ts'
export { MAX_SHARED_HOST_CORES, TEST_SCRIPT_PATH, VERSION_FILE_PATH, PAYLOAD_PATH } from './constants.ts'
