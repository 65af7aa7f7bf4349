/**
 * Which caching strategy the cache-aside advisor names, from the numbers it weighed (src/advisors/cache-aside.ts).
 * The integration test (test/integration/advisor/cache-aside.test.ts) reaches cache-aside and write-through on real
 * workloads; refresh-ahead needs a TTL of minutes on hot keys, which a window of seconds cannot measure, so the
 * three branches are pinned here.
 */
import {describe, expect, it} from 'vitest'
import {DEFAULT_HEURISTIC, strategyOf, type StrategyInput} from '../../../src/advisors/cache-aside.js'

const keyed = {keyColumns: [{table: 'public.items', column: 'category', param: 1}]}
const table = (writesPerSecond: number, appWrites: number) => ({table: 'public.items', writesPerSecond, coverage: 0.02, basis: 'window' as const, appWrites})

describe('cache-aside strategy', () => {
  it('write-through when the application writes the keyed table and the TTL is moderate', () => {
    const a: StrategyInput = {...keyed, tables: [table(4, 1)], lambda: 0.02, ttlSeconds: 10, readsPerKeyPerSecond: 1}
    expect(strategyOf(a)).toMatchObject({strategy: 'write-through', why: expect.stringMatching(/application's own statements \(1 in pg_stat_statements\) write public\.items/)})
    // A TTL of the write-through bound or more: expiry alone keeps it fresh enough.
    expect(strategyOf({...a, ttlSeconds: DEFAULT_HEURISTIC.writeThroughMaxTtlSeconds}).strategy).not.toBe('write-through')
  })

  it('refresh-ahead for hot keys whose short TTL expires under many reads, when no statement of the application writes them', () => {
    const a: StrategyInput = {...keyed, tables: [table(4, 0)], lambda: 1e-4, ttlSeconds: 200, readsPerKeyPerSecond: 0.5}
    expect(strategyOf(a)).toMatchObject({strategy: 'refresh-ahead', why: expect.stringMatching(/read about 100 times per 3\.33 min TTL/)})
    // Fewer reads per TTL than refreshAheadReadsPerTtl, or a long TTL: plain cache-aside.
    expect(strategyOf({...a, readsPerKeyPerSecond: 0.01}).strategy).toBe('cache-aside')
    expect(strategyOf({...a, ttlSeconds: DEFAULT_HEURISTIC.refreshAheadMaxTtlSeconds + 1}).strategy).toBe('cache-aside')
  })

  it('an unkeyed aggregate is never write-through: a write cannot update one entry for it', () => {
    const a: StrategyInput = {keyColumns: [], tables: [table(0.001, 3)], lambda: 0.001, ttlSeconds: 20, readsPerKeyPerSecond: 50}
    expect(strategyOf(a).strategy).toBe('refresh-ahead')
  })

  it('cache-aside otherwise, saying the tables were not written when λ is 0', () => {
    const a: StrategyInput = {...keyed, tables: [table(0, 0)], lambda: 0, ttlSeconds: 86_400, readsPerKeyPerSecond: 2}
    expect(strategyOf(a)).toMatchObject({strategy: 'cache-aside', why: expect.stringMatching(/not written in the period measured/)})
  })
})
