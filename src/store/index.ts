/**
 * The node's persistent state in LevelDB ("everything a node has seen is
 * persisted", DESIGN.md): releases, test outcomes, cluster memberships, the
 * per-app install state machine and problem reports, one sublevel each.
 *
 * Records are deterministic CBOR checked against a zod schema on write and
 * on read; writes are fsynced before they are acknowledged; the data carries
 * a schema version that `openStore` migrates forward step by step, each step
 * atomic. A locked, corrupt or too-new database is refused with a named
 * error and left untouched: the store never repairs or resets on its own.
 */
export { openStore } from './store.ts'
export type { Store, StoreInit } from './store.ts'
export type { BatchOp, EntriesOptions, PutOptions, RecordCollection } from './record-collection.ts'
export { BUILT_IN_MIGRATIONS } from './migrations.ts'
export type { Migration, MigrationContext } from './migrations.ts'
export {
  INSTALL_STATES,
  installRecordSchema,
  membershipKey,
  membershipRecordSchema,
  outcomeKey,
  outcomeRecordSchema,
  releaseRecordSchema,
  reportRecordSchema,
  ROLLOUT_STATES,
  rolloutKey,
  rolloutRecordSchema,
  testStartRecordSchema,
  clusterMapRecordSchema,
  censusRecordSchema,
  censusKey,
  overrideRecordSchema,
  overrideKey,
  OVERRIDE_RELEASE_SCOPE
} from './record-schemas.ts'
export type { CensusRecord, ClusterMapRecord, InstallRecord, InstallState, MembershipRecord, OutcomeRecord, OverrideRecord, ReleaseRecord, ReportRecord, RolloutRecord, RolloutStateName, TestStartRecord } from './record-schemas.ts'
export { RecordInvalidError, StoreCorruptError, StoreLockedError, StoreOpenError, StoreSchemaError } from './errors.ts'
export { CURRENT_SCHEMA_VERSION } from './constants.ts'
