import { TopicValidatorResult } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import { logger } from '@libp2p/logger'
import { TOPIC_KINDS, parseTopicName, topicName } from '../overlay/index.ts'
import { MAX_ENVELOPE_BYTES, decodeCanonical } from '../trust/index.ts'
import type { MessageIntake, IntakeVerdict } from './message-intake.ts'
import type { OverlayLibp2p, SyncItemKind, TopicKind } from '../overlay/index.ts'

const log = logger('mirage:node:gossip')

/**
 * Per-topic peer scoring: only invalid (rejected) messages count, heavily;
 * delivery-rate terms are off, since rollout traffic is sparse and a quiet
 * honest peer must not look like a bad one.
 */
const TOPIC_SCORE = createTopicScoreParams({
  topicWeight: 1,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -100,
  invalidMessageDeliveriesDecay: 0.9
})

const VERDICTS: Record<IntakeVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
}

/**
 * The app's gossip topics. Every message is validated (and, if new,
 * persisted and acted on) by the intake before gossipsub forwards it;
 * forged or malformed messages are rejected so the sender is scored down.
 */
export class AppGossip {
  readonly #libp2p: OverlayLibp2p
  readonly #intake: MessageIntake
  readonly #apps = new Set<string>()

  constructor (libp2p: OverlayLibp2p, intake: MessageIntake) {
    this.#libp2p = libp2p
    this.#intake = intake
  }

  join (app: string): void {
    if (this.#apps.has(app)) return
    this.#apps.add(app)
    const pubsub = this.#libp2p.services.pubsub
    for (const kind of TOPIC_KINDS) {
      const topic = topicName(app, kind)
      pubsub.topicValidators.set(topic, async (_peer, message) => VERDICTS[await this.#validate(topic, message.data)])
      scoreParamsOf(pubsub)[topic] = TOPIC_SCORE
      pubsub.subscribe(topic)
    }
  }

  leaveAll (): void {
    const pubsub = this.#libp2p.services.pubsub
    for (const app of this.#apps) {
      for (const kind of TOPIC_KINDS) {
        pubsub.unsubscribe(topicName(app, kind))
        pubsub.topicValidators.delete(topicName(app, kind))
        Reflect.deleteProperty(scoreParamsOf(pubsub), topicName(app, kind))
      }
    }
    this.#apps.clear()
  }

  /** Publishes a signed envelope; a swarm with no subscriber yet is fine (sync catches up). */
  /** Publishes on the app's topic; resolves to how many peers it went to directly (0 if publishing failed). */
  async publish (app: string, kind: TopicKind, envelope: Uint8Array): Promise<number> {
    try {
      const { recipients } = await this.#libp2p.services.pubsub.publish(topicName(app, kind), envelope)
      return recipients.length
    } catch (err) {
      log('publishing on %s failed: %e', topicName(app, kind), err)
      return 0
    }
  }

  async #validate (topic: string, data: Uint8Array): Promise<IntakeVerdict> {
    const parsed = parseTopicName(topic)
    if (parsed === undefined) return 'reject'
    const kind = itemKind(parsed.kind, data)
    if (kind === undefined) return 'reject'
    return this.#intake.take(kind, data, parsed.app)
  }
}

/**
 * Gossipsub's per-topic score parameters, for topics joined at run time (a
 * seed learns its apps as it seeds). The exported interface hides the score
 * object the implementation has; a missing one means scoring is off.
 */
function scoreParamsOf (pubsub: object): Record<string, TopicScoreParams> {
  return (pubsub as { score?: { params?: { topics?: Record<string, TopicScoreParams> } } }).score?.params?.topics ?? {}
}

/** The outcomes topic carries three kinds of envelope (test starts, outcomes, member announcements); the signature domain says which. */
function itemKind (topic: TopicKind, data: Uint8Array): SyncItemKind | undefined {
  if (topic === 'overrides') return 'override'
  let domain: unknown
  try {
    domain = (decodeCanonical(data, MAX_ENVELOPE_BYTES, 'gossip message') as { d?: unknown }).d
  } catch {}
  // The vendor's releases and cluster maps share the releases topic.
  if (topic === 'releases') return domain === 'cluster-map' ? 'cluster-map' : 'release'
  if (domain === 'test-start') return 'test-start'
  if (domain === 'outcome') return 'outcome'
  if (domain === 'member') return 'member'
  return undefined
}
