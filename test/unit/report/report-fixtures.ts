/**
 * Reports, machines and release ids for the report tests.
 */
import { createHash } from 'node:crypto'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { generateSigningKey } from '../../../src/trust/index.ts'
import { buildProblemReport, createRedactor } from '../../../src/report/index.ts'
import type { ProblemReport, ProblemReportInput } from '../../../src/report/index.ts'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'

/** A CIDv1 (raw, sha2-256) naming `label`: stands in for a release id. */
export function releaseIdFor (label: string): string {
  const digest = Digest.create(0x12, createHash('sha256').update(label).digest())
  return CID.createV1(0x55, digest).toString()
}

export interface Machine {
  key: Ed25519PrivateKey
  peerId: PeerId
}

export async function makeMachine (): Promise<Machine> {
  const key = await generateSigningKey()
  return { key, peerId: peerIdFromPrivateKey(key) }
}

export const T0 = 1_790_000_000_000

/** What a node would pass in after a failed test. */
export function reportInput (machine: string, overrides: Partial<ProblemReportInput> = {}): ProblemReportInput {
  return {
    app: 'webshop',
    releaseId: releaseIdFor('webshop 2.1.0'),
    releaseVersion: '2.1.0',
    clusterId: 'php82-mysql8',
    machine,
    role: 'representative',
    phase: 'test',
    test: { name: 'test/run.sh', exitCode: 1, signal: null, timedOut: false, durationMs: 4_200 },
    output: { tail: 'running 12 tests\nok 1 - boot\nnot ok 2 - checkout\nError: expected 200, got 500 at /srv/app/checkout.php:41\n', bytes: 90 },
    timings: { testStartedAt: T0, testEndedAt: T0 + 4_200 },
    at: T0 + 5_000,
    ...overrides
  }
}

/** A built report (no owner secrets). */
export function sampleReport (machine: string, overrides: Partial<ProblemReportInput> = {}): ProblemReport {
  return buildProblemReport(reportInput(machine, overrides), createRedactor())
}
