import { FINGERPRINT_DIGEST_PATTERN } from './constants.ts'
import { CensusError } from './errors.ts'
import type { Fact } from '../env/index.ts'

/** One machine's entry in the vendor's census: its fingerprint digest and the facts behind it. */
export interface MachineFingerprint {
  /** Identifies the fingerprint: equal digests mean equal facts. */
  digest: string
  /** At most one fact per (resource, item). May be shared by reference among identical machines. */
  facts: readonly Fact[]
}

/** A fingerprint as clustering sees it: once, with the number of machines that have it. */
export interface DistinctFingerprint {
  digest: string
  /** The facts of the first machine seen with this digest (not copied). */
  facts: readonly Fact[]
  /** Machines in the census with this fingerprint, at least 1. */
  machines: number
}

/** The census after collapsing identical fingerprints. */
export interface Census {
  /** Sorted by digest (code-unit order), so every later step is deterministic and index order is digest order. */
  fingerprints: DistinctFingerprint[]
  /** Total machines, the sum of every fingerprint's `machines`. */
  machines: number
}

interface Entry extends DistinctFingerprint {
  /** resource → item → value, built only when a machine brings a different array for this digest. */
  byKey: Map<string, Map<string, string>> | undefined
}

/**
 * Collapses a census into distinct fingerprints with a machine count each
 * (Mirage §4.1: identical environments need no clustering, and 100,000
 * machines typically share a few thousand fingerprints, so everything after
 * this step scales with the distinct ones).
 *
 * Cost is one map lookup per machine when identical machines share their
 * facts array; otherwise each repeated fingerprint is compared fact by fact
 * (in order first, by key if the order differs), and a digest claimed for
 * different facts is refused (CensusError 'digest-conflict').
 */
export function collapseCensus (machines: Iterable<MachineFingerprint>): Census {
  const byDigest = new Map<string, Entry>()
  let total = 0
  for (const machine of machines) {
    total++
    const entry = byDigest.get(machine.digest)
    if (entry === undefined) {
      checkDigest(machine.digest)
      checkFacts(machine.digest, machine.facts)
      byDigest.set(machine.digest, { digest: machine.digest, facts: machine.facts, machines: 1, byKey: undefined })
      continue
    }
    entry.machines++
    if (machine.facts !== entry.facts && !sameFactsInOrder(entry.facts, machine.facts) && !sameFactsByKey(entry, machine.facts)) {
      throw new CensusError('digest-conflict', machine.digest,
        `census: two machines report the fingerprint ${machine.digest} with different facts; a digest must identify its facts`)
    }
  }
  const fingerprints: DistinctFingerprint[] = []
  for (const { digest, facts, machines: count } of byDigest.values()) fingerprints.push({ digest, facts, machines: count })
  fingerprints.sort((a, b) => a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0)
  return { fingerprints, machines: total }
}

function checkDigest (digest: unknown): void {
  if (typeof digest !== 'string' || !FINGERPRINT_DIGEST_PATTERN.test(digest)) {
    const shown = typeof digest === 'string' ? `"${digest.slice(0, 40)}"` : typeof digest
    throw new CensusError('malformed-digest', String(digest), `census: ${shown} is not a fingerprint digest (1-128 letters, digits or . _ : + = / -, starting with a letter or digit)`)
  }
}

/** Facts are checked once per distinct fingerprint: strings, and at most one per (resource, item). */
function checkFacts (digest: string, facts: readonly Fact[]): void {
  if (!Array.isArray(facts)) {
    throw new CensusError('malformed-fact', digest, `census: fingerprint ${digest}: facts must be an array`)
  }
  const seen = new Map<string, Set<string>>()
  for (const fact of facts) {
    if (typeof fact !== 'object' || fact === null || typeof fact.resource !== 'string' || typeof fact.item !== 'string' || typeof fact.value !== 'string') {
      throw new CensusError('malformed-fact', digest, `census: fingerprint ${digest}: a fact must have string resource, item and value`)
    }
    let items = seen.get(fact.resource)
    if (items === undefined) {
      items = new Set()
      seen.set(fact.resource, items)
    }
    if (items.has(fact.item)) {
      throw new CensusError('duplicate-fact', digest, `census: fingerprint ${digest}: two facts for resource "${fact.resource}" item "${fact.item}"`)
    }
    items.add(fact.item)
  }
}

/** The common case when arrays are not shared: the same facts in the same order. */
function sameFactsInOrder (a: readonly Fact[], b: readonly Fact[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Fact
    const y = b[i] as Fact
    if (x !== y && (x.resource !== y.resource || x.item !== y.item || x.value !== y.value)) return false
  }
  return true
}

/** Set equality by (resource, item): `b` has as many facts as the entry, and each one matches. */
function sameFactsByKey (entry: Entry, b: readonly Fact[]): boolean {
  if (!Array.isArray(b) || entry.facts.length !== b.length) return false
  if (entry.byKey === undefined) {
    entry.byKey = new Map()
    for (const { resource, item, value } of entry.facts) {
      let items = entry.byKey.get(resource)
      if (items === undefined) {
        items = new Map()
        entry.byKey.set(resource, items)
      }
      items.set(item, value)
    }
  }
  // Equal sizes and every fact of `b` found with its value: since `a` has one
  // fact per key, `b` can only match if it has one per key too.
  const matched = new Map<string, Set<string>>()
  for (const fact of b) {
    if (typeof fact !== 'object' || fact === null) return false
    if (entry.byKey.get(fact.resource)?.get(fact.item) !== fact.value) return false
    let items = matched.get(fact.resource)
    if (items === undefined) {
      items = new Set()
      matched.set(fact.resource, items)
    }
    if (items.has(fact.item)) return false
    items.add(fact.item)
  }
  return true
}
