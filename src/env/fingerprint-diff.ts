import type { Fingerprint } from './fingerprint.ts'

/** How one resource differs between two fingerprints. */
export interface ResourceDifference {
  resource: string
  /** `only-a` / `only-b`: the resource is in one spec only; `items`: some items differ. */
  kind: 'only-a' | 'only-b' | 'items' | 'attributes'
  /** Items with different values (or kinds). */
  changed: string[]
  onlyA: string[]
  onlyB: string[]
  /** Kind, relevance or weight differences (the specs differ, not the machines). */
  attributes: string[]
  relevant: boolean
}

export interface FingerprintDiff {
  app: string
  same: boolean
  /** Whether the relevant facts are equal, i.e. both machines are in one cluster by default. */
  sameCluster: boolean
  resources: ResourceDifference[]
}

/**
 * Why two fingerprints differ, resource by resource and item by item. The
 * values are salted hashes, so the diff says which items differ, not how;
 * the owner of each machine can look at its own values.
 */
export function diffFingerprints (a: Fingerprint, b: Fingerprint): FingerprintDiff {
  const names = [...new Set([...Object.keys(a.resources), ...Object.keys(b.resources)])].sort()
  const itemsOf = (fingerprint: Fingerprint): Map<string, Map<string, string>> => {
    const byResource = new Map<string, Map<string, string>>()
    for (const fact of fingerprint.facts) {
      let items = byResource.get(fact.resource)
      if (items === undefined) byResource.set(fact.resource, items = new Map())
      items.set(fact.item, fact.value)
    }
    return byResource
  }
  const itemsA = itemsOf(a)
  const itemsB = itemsOf(b)
  const resources: ResourceDifference[] = []
  let sameCluster = a.app === b.app
  for (const name of names) {
    const infoA = a.resources[name]
    const infoB = b.resources[name]
    const relevant = infoA?.relevant === true || infoB?.relevant === true
    const base = { resource: name, changed: [], onlyA: [], onlyB: [], attributes: [], relevant }
    if (infoB === undefined) { resources.push({ ...base, kind: 'only-a' }); if (relevant) sameCluster = false; continue }
    if (infoA === undefined) { resources.push({ ...base, kind: 'only-b' }); if (relevant) sameCluster = false; continue }
    const attributes: string[] = []
    if (infoA.kind !== infoB.kind) attributes.push(`kind ${infoA.kind} vs ${infoB.kind}`)
    if (infoA.relevant !== infoB.relevant) attributes.push(`relevant ${String(infoA.relevant)} vs ${String(infoB.relevant)}`)
    if (infoA.weight !== infoB.weight) attributes.push(`weight ${infoA.weight} vs ${infoB.weight}`)
    const ia = itemsA.get(name) ?? new Map<string, string>()
    const ib = itemsB.get(name) ?? new Map<string, string>()
    const changed = [...ia].filter(([item, value]) => ib.has(item) && ib.get(item) !== value).map(([item]) => item)
    const onlyA = [...ia.keys()].filter(item => !ib.has(item))
    const onlyB = [...ib.keys()].filter(item => !ia.has(item))
    if (changed.length + onlyA.length + onlyB.length + attributes.length === 0) continue
    if (relevant) sameCluster = false
    resources.push({ ...base, kind: changed.length + onlyA.length + onlyB.length === 0 ? 'attributes' : 'items', changed, onlyA, onlyB, attributes })
  }
  return { app: a.app === b.app ? a.app : `${a.app} / ${b.app}`, same: resources.length === 0 && a.app === b.app, sameCluster, resources }
}

/** The diff as lines a person reads. */
export function formatFingerprintDiff (diff: FingerprintDiff, labels: { a: string, b: string }): string {
  if (diff.same) return `${labels.a} and ${labels.b}: identical environments for ${diff.app}\n`
  const lines = [`${labels.a} vs ${labels.b} (${diff.app}): ${diff.resources.length} resource(s) differ; ${diff.sameCluster ? 'same cluster (only irrelevant resources differ)' : 'different clusters'}`]
  for (const r of diff.resources) {
    const tag = r.relevant ? '' : ' (not relevant)'
    if (r.kind === 'only-a') { lines.push(`  ${r.resource}${tag}: only in ${labels.a}'s spec`); continue }
    if (r.kind === 'only-b') { lines.push(`  ${r.resource}${tag}: only in ${labels.b}'s spec`); continue }
    lines.push(`  ${r.resource}${tag}:`)
    for (const attribute of r.attributes) lines.push(`    spec differs: ${attribute}`)
    for (const item of r.changed) lines.push(`    ${item === '' ? '(content)' : item}: different value`)
    for (const item of r.onlyA) lines.push(`    ${item === '' ? '(content)' : item}: only in ${labels.a}`)
    for (const item of r.onlyB) lines.push(`    ${item === '' ? '(content)' : item}: only in ${labels.b}`)
  }
  return `${lines.join('\n')}\n`
}
