import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

/** Role preferences a member announces; part of its membership key so every node ranks members alike. */
export const MEMBER_ROLES = ['auto', 'representative', 'follower'] as const
export type MemberRole = typeof MEMBER_ROLES[number]

const encoder = new TextEncoder()

/**
 * The DHT key under which members of a cluster announce themselves (as
 * provider records): CIDv1 raw of sha256("mirage/membership/v1\n" app "\n"
 * cluster "\n" role). One key per role, so a lookup tells who prefers what.
 */
export async function membershipKeyCid (app: string, clusterId: string, role: MemberRole): Promise<CID> {
  const digest = await sha256.digest(encoder.encode(`mirage/membership/v1\n${app}\n${clusterId}\n${role}`))
  return CID.createV1(raw.code, digest)
}
