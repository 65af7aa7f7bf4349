import {describe, expect, it} from 'vitest'
import {rootCost, summarise} from '../../../bench/index-analytical/score.js'
import {fill} from '../../../bench/index-analytical/single-column.js'

describe('index-analytical scorer', () => {
  const base = [{id: 'a', calls: 10, cost: 100}, {id: 'b', calls: 1, cost: 1000}]

  it('weights each query by its calls for the headline, and also sums and averages them unweighted', () => {
    const s = summarise([{id: 'a', calls: 10, cost: 50}, {id: 'b', calls: 1, cost: 1000}], base)
    // weighted: (10*50 + 1000) / (10*100 + 1000) = 1500 / 2000
    expect(s.weightedRatio).toBeCloseTo(0.75, 10)
    // unweighted: (50 + 1000) / 1100
    expect(s.unweightedRatio).toBeCloseTo(1050 / 1100, 10)
    // mean of per-query ratios: (0.5 + 1) / 2
    expect(s.meanQueryRatio).toBeCloseTo(0.75, 10)
    expect(s.weightedCost).toBe(1500)
  })

  it('is 1 for the baseline itself and refuses a set that misses a query', () => {
    expect(summarise(base, base).weightedRatio).toBe(1)
    expect(() => summarise([base[0]], base)).toThrow(/1 costs for 2/)
    expect(() => summarise([{id: 'c', calls: 1, cost: 1}, base[1]], base)).toThrow(/no baseline/)
  })

  it('reads the root Total Cost of EXPLAIN (FORMAT JSON)', () => {
    expect(rootCost([{Plan: {'Node Type': 'Limit', 'Total Cost': 12.5, Plans: [{'Total Cost': 99}]}}])).toBe(12.5)
    expect(() => rootCost([{}])).toThrow(/Total Cost/)
  })

  it('fills a budget in rank order, skipping what no longer fits', () => {
    const ranked = [{ddl: 'x', bytes: 60}, {ddl: 'y', bytes: 50}, {ddl: 'z', bytes: 40}]
    expect(fill(ranked, 100)).toEqual(['x', 'z'])
    expect(fill(ranked, undefined)).toEqual(['x', 'y', 'z'])
    expect(fill(ranked, 10)).toEqual([])
  })
})
