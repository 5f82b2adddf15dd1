import { APP_NAME_PATTERN } from '../trust/index.ts'

/** The gossip topics of an app (docs/PROTOCOL.md, "Gossip"). */
export const TOPIC_KINDS = ['releases', 'outcomes', 'overrides'] as const
export type TopicKind = typeof TOPIC_KINDS[number]

const TOPIC_PREFIX = '/mirage/1/'

/** `/mirage/1/<app>/<kind>`: the one place topic names are built. */
export function topicName (app: string, kind: TopicKind): string {
  if (!APP_NAME_PATTERN.test(app)) throw new TypeError(`"${app}" is not a valid app name`)
  return `${TOPIC_PREFIX}${app}/${kind}`
}

/** The inverse of `topicName`; undefined for a topic that is not ours. */
export function parseTopicName (topic: string): { app: string, kind: TopicKind } | undefined {
  if (!topic.startsWith(TOPIC_PREFIX)) return undefined
  const [app, kind, ...rest] = topic.slice(TOPIC_PREFIX.length).split('/')
  if (rest.length > 0 || app === undefined || !APP_NAME_PATTERN.test(app)) return undefined
  return (TOPIC_KINDS as readonly string[]).includes(kind ?? '') ? { app, kind: kind as TopicKind } : undefined
}
