import { describe, it, expect } from 'vitest'
import type { RolePreference, RolloutEvent, SelfDecision } from '../../../src/rollout/index.ts'
import { START_TIMEOUT_MS as T, outcome, plan, rankedPeers, seen, started, viewOf } from './rollout-fixtures.ts'

type Style = 'staged' | 'front-loading' | 'all-at-once'
/** Cluster `base` comes first; `app` after it, with two seats and a quorum of two. */
const twoStage = (style: Style) => plan({
  style,
  clusters: [{ name: 'app', after: ['base'], k: 2, q: 2 }, { name: 'base', k: 1, q: 1 }]
})
const [b0] = rankedPeers('b', 1) as [string]
const [a0, a1, a2] = rankedPeers('a', 3) as [string, string, string]
const world: RolloutEvent[] = [seen('base', b0), seen('app', a0), seen('app', a1), seen('app', a2)]
const basePassed = outcome('base', b0, true, 100)
const appPassed = [outcome('app', a0, true, 200), outcome('app', a1, true, 210)]

function decide (style: Style, peerId: string, role: RolePreference, events: RolloutEvent[], now: number, clusterId = 'app'): SelfDecision {
  return viewOf({ plan: twoStage(style), self: { peerId, clusterId, role }, events: [...world, ...events] }, now).self
}

describe('self decision, staged (rule 10)', () => {
  it('keeps an elected representative waiting until its prerequisites passed, then tells it to test', () => {
    expect(decide('staged', a0, 'auto', [], 50)).toEqual({
      action: 'wait',
      reason: 'elected representative; waiting for app (0/2 passes), base (0/1 passes)',
      waitingFor: ['app', 'base']
    })
    expect(decide('staged', a0, 'auto', [basePassed], 150)).toMatchObject({ action: 'test', reason: 'elected representative 1 of 2 in cluster app: test the upgrade now' })
    expect(decide('staged', a1, 'auto', [basePassed], 150).action).toBe('test')
  })

  it('keeps a follower waiting until its cluster and every prerequisite passed, then installs', () => {
    expect(decide('staged', 'me', 'follower', [basePassed], 150)).toMatchObject({ action: 'wait', waitingFor: ['app'], reason: 'waiting for app (0/2 passes)' })
    expect(decide('staged', 'me', 'follower', [basePassed, appPassed[0] as RolloutEvent], 205)).toMatchObject({ action: 'wait', reason: 'waiting for app (1/2 passes)' })
    expect(decide('staged', 'me', 'follower', [basePassed, ...appPassed], 220)).toEqual({ action: 'install', reason: 'cluster app and its prerequisites passed' })
    expect(decide('staged', 'me', 'follower', [], 220, 'base')).toMatchObject({ action: 'wait', waitingFor: ['base'] })
    expect(decide('staged', 'me', 'follower', [basePassed], 220, 'base')).toEqual({ action: 'install', reason: 'cluster base passed' })
  })

  it('installs a representative right after its own test passed, before the quorum', () => {
    expect(decide('staged', a0, 'auto', [basePassed, started('app', a0, 150), outcome('app', a0, true, 200)], 201))
      .toEqual({ action: 'install', reason: 'our own test passed' })
  })

  it('blocks on our own failure, even next to a pass of ours', () => {
    const events = [basePassed, outcome('app', a0, true, 200), outcome('app', a0, false, 201)]
    expect(decide('staged', a0, 'auto', events, 202)).toMatchObject({ action: 'blocked', blockedBy: ['app'] })
  })

  it('blocks on a failed prerequisite or a failure in our cluster, naming each', () => {
    expect(decide('staged', 'me', 'follower', [outcome('base', b0, false, 100)], 150)).toEqual({ action: 'blocked', reason: 'blocked: base failed', blockedBy: ['base'] })
    expect(decide('staged', 'me', 'follower', [basePassed, outcome('app', a2, false, 140)], 150)).toEqual({ action: 'blocked', reason: 'blocked: app failed', blockedBy: ['app'] })
  })

  it('lets a representative elected at the opening test past a fellow\'s failure until its start timeout, and no longer', () => {
    // base passed at 100, so app opened at 100 with a0 and a1 elected; a1 failed at 140, before a0 started.
    const a1Failed = [basePassed, started('app', a1, 110), outcome('app', a1, false, 140)]
    expect(decide('staged', a0, 'auto', a1Failed, 150)).toEqual({
      action: 'test',
      reason: 'elected representative 1 of 2 in cluster app: test the upgrade now, although the cluster failed meanwhile (every representative elected at the opening tests)'
    })
    expect(decide('staged', a0, 'auto', a1Failed, 100 + T - 1).action).toBe('test')
    expect(decide('staged', a0, 'auto', a1Failed, 100 + T)).toMatchObject({ action: 'blocked', blockedBy: ['app'] })
    // Nobody else: a member that was not elected, and a follower.
    expect(decide('staged', a2, 'auto', a1Failed, 150)).toMatchObject({ action: 'blocked', blockedBy: ['app'] })
    expect(decide('staged', 'me', 'follower', a1Failed, 150)).toMatchObject({ action: 'blocked', blockedBy: ['app'] })
    // Once it tested, its own outcome decides.
    expect(decide('staged', a0, 'auto', [...a1Failed, started('app', a0, 150), outcome('app', a0, false, 160)], 170)).toMatchObject({ action: 'blocked', blockedBy: ['app'] })
    expect(decide('staged', a0, 'auto', [...a1Failed, started('app', a0, 150), outcome('app', a0, true, 160)], 170).action).toBe('install')
  })

  it('still blocks a representative at once when a prerequisite failed too', () => {
    // Front-loading opens app at once; base failing blocks app's representatives whatever app did.
    const both = [outcome('base', b0, false, 20), started('app', a1, 5), outcome('app', a1, false, 30)]
    expect(decide('front-loading', a0, 'auto', both, 40)).toMatchObject({ action: 'blocked', blockedBy: ['app', 'base'] })
    expect(decide('front-loading', a0, 'auto', [outcome('base', b0, false, 20)], 40)).toMatchObject({ action: 'blocked', blockedBy: ['base'] })
    // Its own cluster alone: it tests, as under staging.
    expect(decide('front-loading', a0, 'auto', [started('app', a1, 5), outcome('app', a1, false, 30)], 40).action).toBe('test')
  })

  it('stops telling a replaced representative to test, and tells its replacement', () => {
    const a1Started = [basePassed, started('app', a1, 100 + T)]
    expect(decide('staged', a0, 'auto', a1Started, 100 + T)).toMatchObject({ action: 'wait', waitingFor: ['app'] })
    expect(decide('staged', a2, 'auto', a1Started, 100 + T).action).toBe('test')
    // with nobody left to take the seats, the missed ones get them back
    expect(decide('staged', a0, 'auto', [basePassed], 100 + T).action).toBe('test')
  })

  it('keeps telling a representative that started to test until its outcome', () => {
    expect(decide('staged', a0, 'auto', [basePassed, started('app', a0, 100)], 100 + 2 * T).action).toBe('test')
  })

  it('never tells a follower to test, however few members its cluster has', () => {
    expect(decide('staged', 'me', 'follower', [basePassed], 100 + 5 * T, 'base').action).toBe('install')
    const alone = viewOf({ plan: twoStage('staged'), self: { peerId: 'me', clusterId: 'lonely', role: 'follower' } }, 10)
    expect(alone.self).toMatchObject({ action: 'wait', waitingFor: ['lonely'] })
  })
})

describe('self decision, front-loading', () => {
  it('lets representatives test at once but still gates followers on prerequisites', () => {
    expect(decide('front-loading', a0, 'auto', [], 0).action).toBe('test')
    expect(decide('front-loading', 'me', 'follower', appPassed, 220)).toMatchObject({ action: 'wait', waitingFor: ['base'], reason: 'waiting for base (0/1 passes)' })
    expect(decide('front-loading', 'me', 'follower', [...appPassed, basePassed], 220).action).toBe('install')
  })
})

describe('self decision, all-at-once', () => {
  it('tells every machine to test at once and never waits on anyone', () => {
    expect(decide('all-at-once', 'me', 'follower', [], 0)).toMatchObject({ action: 'test' })
    expect(decide('all-at-once', 'me', 'follower', [outcome('base', b0, false, 1)], 2).action).toBe('test')
  })

  it('installs on its own pass and blocks on its own failure', () => {
    expect(decide('all-at-once', 'me', 'follower', [outcome('app', 'me', true, 5)], 6).action).toBe('install')
    expect(decide('all-at-once', 'me', 'follower', [outcome('app', 'me', false, 5)], 6)).toMatchObject({ action: 'blocked', blockedBy: ['app'] })
  })
})
