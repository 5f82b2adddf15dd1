/**
 * The role preferences a machine owner may configure (DESIGN.md, "What users
 * do"). 'representative' volunteers to test first, 'follower' never tests
 * before its cluster passed, 'auto' lets the ranking decide (rollout rule 3).
 */
export const ROLE_PREFERENCES = ['auto', 'representative', 'follower'] as const

/**
 * When one peer announced two roles at the same instant, the less exposed one
 * wins ('follower' over 'auto' over 'representative'): the tie must break the
 * same way on every node, and erring toward not testing is the safe side.
 */
export const ROLE_TIE_ORDER = { follower: 0, auto: 1, representative: 2 } as const

/**
 * Peer ids in human reasons are cut to this many characters plus "…":
 * enough to tell peers of one cluster apart, short enough for a status line.
 */
export const REASON_PEER_ID_CHARS = 12
