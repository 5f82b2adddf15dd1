/**
 * Problem reports (Mirage §3, "integrated testing and problem reporting";
 * issue 5 item 3): when a release's test or health check fails on a
 * machine, what the vendor needs to fix it, sent so that only the vendor
 * can read it and nobody can forge or alter it.
 *
 * - `problem-report.ts`: the report (release, cluster, machine, role,
 *   phase, the failed test and how it ended, the output tail, timings, the
 *   environment diff against the cluster's representatives), its schema
 *   and canonical DAG-CBOR encoding, and building it on the machine.
 * - `redact.ts`: owner-marked secrets and common secret shapes scrubbed
 *   from every free-text field before anything leaves the machine, in
 *   linear time.
 * - `report-keys.ts`, `seal.ts`: the vendor's X25519 report key, and
 *   sealing: signed by the machine (src/trust envelope, domain `report`),
 *   encrypted with ephemeral X25519 + HKDF-SHA256 + ChaCha20-Poly1305 with
 *   the app, release and key id as AAD (format: FORMAT-DRAFT.md).
 * - `group-reports.ts`: the vendor's view, reports grouped by release,
 *   cluster and failure signature.
 *
 * Delivery over the overlay is not here (src/overlay, src/node).
 */
export {
  MAX_REPORT_OUTPUT_TAIL_BYTES, MAX_REPORT_PAYLOAD_BYTES, MAX_SEALED_REPORT_BYTES, MIN_OWNER_SECRET_CHARS, MAX_OWNER_SECRET_CHARS,
  MAX_OWNER_SECRETS, REPORT_KEY_TEXT_PREFIX, REPORT_SEAL_CONTEXT
} from './constants.ts'
export { ReportError, RedactionConfigError, ReportKeyFormatError } from './errors.ts'
export type { ReportErrorReason } from './errors.ts'
export { REDACTION_KINDS, createRedactor, mergeRedactionCounts, redactionMarker, secretForms } from './redact.ts'
export type { Redacted, RedactionCounts, RedactionKind, Redactor } from './redact.ts'
export {
  REPORT_PHASES, REPORT_ROLES, HASHED_ITEM_PREFIX, boundTail, buildProblemReport, checkProblemReport, decodeProblemReport, encodeProblemReport,
  hideContentItems
} from './problem-report.ts'
export type {
  FailedTest, ProblemReport, ProblemReportInput, ReportEnvironment, ReportOutput, ReportPhase, ReportRole, ReportTimings, ResourceUse
} from './problem-report.ts'
export {
  generateReportKeyPair, loadReportPrivateKey, reportKeyId, reportPrivateKeyFromPem, reportPrivateKeyToPem, reportPublicKeyFromBytes,
  reportPublicKeyFromText, reportPublicKeyOf, reportPublicKeyToText, saveReportPrivateKey
} from './report-keys.ts'
export type { ReportKeyPair } from './report-keys.ts'
export { decodeSealedReport, openReport, reportAad, sealReport } from './seal.ts'
export type { OpenedReport, SealedReport, TrustedMachineCheck } from './seal.ts'
export { failureEnding, failureSignature, firstErrorLine, groupReports, normaliseErrorLine } from './group-reports.ts'
export type { FailureSignature, GroupableReport, ReportGroup } from './group-reports.ts'
