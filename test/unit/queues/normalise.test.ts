import {describe, expect, it} from 'vitest'
import {estimateWorkers} from '../../../src/advisors/workers.js'
import {round} from '../../../src/core/numbers.js'
import {epochToMs, normaliseQueues, summariseQueue, type QueueState} from '../../../src/probes/queues/normalise.js'

const state = (over: Partial<QueueState>): QueueState => ({
  system: 'bullmq', name: 'q', depth: 0, oldestAgeSeconds: 0, consumers: 1, inFlight: 0, failed: 0, counters: {}, ...over,
})

describe('queue normaliser', () => {
  it('tells epoch seconds (float) from milliseconds by magnitude', () => {
    expect(epochToMs(1_700_000_000.25)).toBe(1_700_000_000_250)
    expect(epochToMs(1_700_000_000_250)).toBe(1_700_000_000_250)
  })

  it('derives departures from arrivals minus backlog growth when only arrivals are counted (BullMQ id)', () => {
    const before = state({depth: 100, inFlight: 2, counters: {arrivals: 1000}})
    const now = state({depth: 150, inFlight: 2, counters: {arrivals: 1100}})
    const s = summariseQueue(now, before, 10)
    expect(s).toMatchObject({arrivalRate: 10, serviceRate: 5, netGrowth: 50, netGrowthRate: 5, draining: false, drainEtaSeconds: null, rateSource: 'window'})
  })

  it('derives arrivals from departures plus backlog growth when only completions are counted (Sidekiq processed)', () => {
    const s = summariseQueue(state({depth: 50, counters: {departures: 700}}), state({depth: 100, counters: {departures: 500}}), 10)
    expect(s).toMatchObject({serviceRate: 20, arrivalRate: 15, draining: true, drainEtaSeconds: 10})
  })

  it('uses the rates the system reports when there is no window, and nothing it cannot know', () => {
    const s = summariseQueue(state({depth: 300, reportedRates: {arrival: 5, service: 8}}), undefined, 0)
    expect(s).toMatchObject({arrivalRate: 5, serviceRate: 8, drainEtaSeconds: 100, draining: true, netGrowth: null, rateSource: 'reported'})
    const bare = summariseQueue(state({depth: 300}), undefined, 0)
    expect(bare).toMatchObject({arrivalRate: null, serviceRate: null, drainEtaSeconds: null, draining: null, deadLetterGrowth: null})
  })

  it('falls back to the observed shrinkage for the drain ETA when no counters exist', () => {
    const s = summariseQueue(state({depth: 60}), state({depth: 100}), 10)
    expect(s).toMatchObject({rateSource: 'net-growth', draining: true, drainEtaSeconds: 15})
  })

  it('ignores a counter that went backwards (queue recreated)', () => {
    const s = summariseQueue(state({depth: 5, counters: {arrivals: 3}}), state({depth: 5, counters: {arrivals: 900}}), 10)
    expect(s.arrivalRate).toBeNull()
  })

  it('counts dead-letter growth over the window, or recent failures by timestamp without one', () => {
    expect(summariseQueue(state({failed: 12}), state({failed: 4}), 5)).toMatchObject({deadLetterGrowth: 8, deadLetterBasis: 'window', failureRate: 1.6})
    expect(summariseQueue(state({failed: 12, recentFailures: 3, recentFailureSeconds: 900}), undefined, 0))
      .toMatchObject({deadLetterGrowth: 3, deadLetterBasis: 'timestamps', failureRate: round(3 / 900, 6)})
  })

  it('judges failures by the queue\'s own timestamps over the lookback even with a window that saw none', () => {
    // 40 failed a minute before a 5 s window: the window's growth is 0, the lookback holds all 40.
    const fresh = summariseQueue(state({failed: 40, recentFailures: 40, recentFailureSeconds: 900}), state({failed: 40, recentFailures: 40, recentFailureSeconds: 900}), 5)
    expect(fresh).toMatchObject({deadLetterGrowth: 40, deadLetterBasis: 'timestamps'})
    // Old failures outside the lookback: nothing to judge.
    expect(summariseQueue(state({failed: 40, recentFailures: 0, recentFailureSeconds: 900}), state({failed: 40, recentFailures: 0}), 5))
      .toMatchObject({deadLetterGrowth: 0, deadLetterBasis: 'timestamps'})
    // A window that saw more than the lookback holds (a failed set trimmed as it grows) keeps the window's count.
    expect(summariseQueue(state({failed: 100, recentFailures: 5, recentFailureSeconds: 900}), state({failed: 50}), 5))
      .toMatchObject({deadLetterGrowth: 50, deadLetterBasis: 'window', failureRate: 10})
  })

  it('gives aggregate records failure and in-flight metrics but never depth', () => {
    const {metrics} = normaliseQueues('sidekiq', [state({system: 'sidekiq', name: '*', aggregate: true, depth: 5000})], undefined, 0)
    expect(metrics.map((m) => m.name).sort()).toEqual(['queue.dead_letter.growth', 'queue.failed', 'queue.in_flight'])
  })
})

describe('workers estimate', () => {
  const summary = (over: Partial<QueueState>, before?: Partial<QueueState>) =>
    summariseQueue(state(over), before ? state(before) : undefined, before ? 10 : 0)

  it('sizes consumers from the per-consumer rate at 70 % utilisation and the backlog drain target', () => {
    // 2 consumers served 10/s (5/s each) while 30/s arrived: 30 / (5 x 0.7) = 8.6 -> 9.
    const q = summary({depth: 400, consumers: 2, counters: {arrivals: 1300}}, {depth: 200, consumers: 2, counters: {arrivals: 1000}})
    const e = estimateWorkers(q)
    expect(e).toMatchObject({arrivalRate: 30, serviceRate: 10, perWorkerRate: 5, currentConsumers: 2, recommendedConsumers: 9, drainEtaSeconds: null})
    expect(e).toHaveProperty('drainEtaAfterSeconds', 26.7)
  })

  it('does not size what it cannot measure', () => {
    expect(estimateWorkers(summary({depth: 10}))).toHaveProperty('unsized')
    expect(estimateWorkers(summary({depth: 0, counters: {arrivals: 10}}, {depth: 0, counters: {arrivals: 0}}))).toHaveProperty('unsized')
    expect(estimateWorkers(summary({depth: 10, consumers: null, counters: {arrivals: 10}}, {depth: 5, counters: {arrivals: 0}}))).toHaveProperty('unsized')
  })
})
