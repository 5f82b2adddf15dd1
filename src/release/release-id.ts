import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

/**
 * A release is named by the CID of its manifest payload, so the id commits to
 * every field, the plan included. Outcomes and overrides name releases by it.
 */
export async function releaseIdOf (manifestPayload: Uint8Array): Promise<string> {
  return CID.createV1(dagCbor.code, await sha256.digest(manifestPayload)).toString()
}
