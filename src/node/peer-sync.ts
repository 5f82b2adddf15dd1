import { logger } from '@libp2p/logger'
import { syncFromPeer } from '../overlay/index.ts'
import type { OverlayLibp2p, SyncItem } from '../overlay/index.ts'
import type { PeerId } from '@libp2p/interface'

const log = logger('mirage:node:peer-sync')

/** Sync attempts in flight at once: catch-up must not crowd out chunk transfer. */
const MAX_CONCURRENT_SYNCS = 2

export interface PeerSyncInit {
  libp2p: OverlayLibp2p
  apps(): string[]
  intervalMs: number
  take(app: string, item: SyncItem): Promise<void>
}

/**
 * Catch-up (gossip is not storage): on every new connection, and then
 * periodically with a random connected peer, ask for everything of each app
 * and run each item through intake, exactly as gossip would. Member
 * announcements are asked for until a sync of the app brought some: the
 * node hears later ones on gossip.
 */
export class PeerSync {
  readonly #init: PeerSyncInit
  #timer?: NodeJS.Timeout
  #running = 0
  readonly #stopping = new AbortController()
  /** Apps whose member announcements came in a sync already (at least one); later syncs leave them out (see syncFromPeer). */
  readonly #membersSynced = new Set<string>()
  readonly #onConnect = (event: CustomEvent<PeerId>): void => { this.#syncWith(event.detail) }

  constructor (init: PeerSyncInit) {
    this.#init = init
  }

  /** Whether a sync of `app` brought member announcements (see AppRolloutInit.membersFromPeers). */
  membersSynced (app: string): boolean {
    return this.#membersSynced.has(app)
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#init.libp2p.addEventListener('peer:connect', this.#onConnect)
    this.#timer = setInterval(() => {
      const peers = this.#init.libp2p.getPeers()
      const peer = peers[Math.floor(Math.random() * peers.length)]
      if (peer !== undefined) this.#syncWith(peer)
    }, this.#init.intervalMs)
  }

  async stop (): Promise<void> {
    this.#init.libp2p.removeEventListener('peer:connect', this.#onConnect)
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#stopping.abort()
  }

  /** Syncs every app with one peer now (used on connect, periodically, and by tests). */
  #syncWith (peer: PeerId): void {
    if (this.#running >= MAX_CONCURRENT_SYNCS || this.#stopping.signal.aborted) return
    this.#running++
    void (async () => {
      for (const app of this.#init.apps()) {
        try {
          const members = !this.#membersSynced.has(app)
          let memberItems = 0
          const count = await syncFromPeer(this.#init.libp2p, peer, app, async item => {
            if (item.kind === 'member') memberItems++
            await this.#init.take(app, item)
          }, this.#stopping.signal, { members })
          // A peer that knew no member (a seed of another app, say) does not count.
          if (memberItems > 0) this.#membersSynced.add(app)
          log('synced %d items of %s from %p', count, app, peer)
        } catch (err) {
          // Peers that do not speak sync (or went away) are normal: the next round tries another.
          log('sync of %s with %p failed: %e', app, peer, err)
        }
      }
    })().finally(() => { this.#running-- })
  }
}
