/**
 * The node-side ChunkDialer: opens chunks-protocol streams with libp2p,
 * reusing an existing connection to the peer when there is one.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { CHUNKS_PROTOCOL } from '../overlay/chunk-protocol.ts'
import type { ChunkDialer } from './chunk-channel.ts'
import type { Libp2p } from '@libp2p/interface'

/** A ChunkDialer over `libp2p.dialProtocol` (peer ids as strings, as the downloader uses them). */
export function libp2pChunkDialer (libp2p: Pick<Libp2p, 'dialProtocol'>): ChunkDialer {
  return {
    dial: async (peer, options) => libp2p.dialProtocol(peerIdFromString(peer), CHUNKS_PROTOCOL, options)
  }
}
