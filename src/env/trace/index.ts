/**
 * Discovery by tracing (issue 4, item 2; Mirage §4.1 "identifying
 * environmental resources"): run the application under strace, following
 * forks, and propose an environment spec from what it executed, loaded and
 * read, minus its data (what it wrote, /proc, /sys, /dev, /run, temporary
 * directories, caches). Each proposed file gets the kind whose parser fits
 * it; the owner then edits the proposal.
 *
 * Steps: runTrace (strace, bounded in time and size) → parseStrace (pure) →
 * inspectTracedFiles (ELF? interpreter? symlinks?) → proposeSpec (pure);
 * discoverSpec runs them all.
 */
export {
  DEFAULT_MAX_TRACE_BYTES, DEFAULT_MAX_TRACE_LINES, DEFAULT_MAX_TRACE_PATHS, DEFAULT_TRACE_TIMEOUT_MS, MAX_TRACE_TIMEOUT_MS, STRACE_FLAGS
} from './constants.ts'
export { PtraceDeniedError, SpecFileExistsError, StraceMissingError, TraceStartError } from './errors.ts'
export { createStraceParser, parseStrace } from './parse-strace.ts'
export type { StraceParseOptions, StraceParser } from './parse-strace.ts'
export type { ParsedTrace, TraceAction, TraceEvent, TraceStats, TraceTruncation } from './trace-events.ts'
export { runTrace, tracingUnavailableReason } from './run-trace.ts'
export type { TraceEnd, TraceRun, TraceRunInit } from './run-trace.ts'
export { describeHead } from './file-head.ts'
export type { FileHead } from './file-head.ts'
export { inspectFile, inspectTracedFiles, nodeInspectIo } from './inspect-files.ts'
export type { InspectIo } from './inspect-files.ts'
export { EXCLUSION_EXPLANATIONS, guessFileKind } from './classify-path.ts'
export type { ExclusionReason } from './classify-path.ts'
export { DEFAULT_TEMP_DIRS, proposeSpec, tracedFilePaths } from './propose-spec.ts'
export type {
  ExcludedPath, FileFacts, ProposalEntry, ProposedResource, ProposedRole, ProposedSpec, ProposeOptions, SpecProposal
} from './propose-spec.ts'
export { discoverSpec, namedPaths, tempDirs } from './discover-spec.ts'
export type { Discovery, DiscoverInit } from './discover-spec.ts'
export { specFileText, writeSpecFile } from './write-spec-file.ts'
