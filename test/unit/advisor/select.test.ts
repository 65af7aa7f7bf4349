import {describe, expect, it} from 'vitest'
import type {Candidate} from '../../../src/advisors/index-advisor/candidates.js'
import {exhaustiveSelect, greedySelect, MERGE_TOLERANCE, mergedIndex, type SelectionInput} from '../../../src/advisors/index-advisor/select.js'

const cand = (id: string, table: string, keys: string[], bytes: number, statements: number[]): Candidate =>
  ({id, table, method: 'btree', keys: keys.map((k) => ({sql: `"${k}"`, column: k})), kind: 'single', statements, estimatedBytes: bytes})

// Pure cost model: a statement costs 100 unless an index serving it is present.
function input(cands: Candidate[], serves: Record<number, Record<string, number>>, extra: Partial<SelectionInput> = {}): SelectionInput {
  return {
    statements: [{weight: 1, baseCost: 100}, {weight: 2, baseCost: 100}, {weight: 1, baseCost: 100}],
    candidates: cands,
    costOf: async (si, config) => Math.min(100, ...config.map((c) => serves[si]?.[c.id] ?? 100)),
    penalty: () => 0,
    minImprovement: 0.1,
    ...extra,
  }
}

describe('greedySelect', () => {
  const a = cand('a', 't', ['a'], 100, [0])
  const ab = cand('ab', 't', ['a', 'b'], 150, [0, 1])
  const c = cand('c', 'u', ['c'], 100, [2])
  const serves = {0: {a: 10, ab: 10}, 1: {ab: 20}, 2: {c: 95}}

  it('picks the index serving several statements and skips gains below --min-improvement', async () => {
    const r = await greedySelect(input([a, ab, c], serves))
    expect(r.chosen.map((x) => x.id)).toEqual(['ab'])
    expect(r.rejected.get('c')?.reason).toBe('no-gain')
  })

  it('respects the budget and charges the write penalty', async () => {
    const r = await greedySelect(input([a, ab], serves, {budgetBytes: 120}))
    expect(r.chosen.map((x) => x.id)).toEqual(['a'])
    const heavy = await greedySelect(input([a, ab], serves, {penalty: () => 1000}))
    expect(heavy.chosen).toEqual([])
    expect(heavy.rejected.get('ab')?.reason).toBe('write-heavy')
  })

  it('matches the exhaustive search on a small instance', async () => {
    const i = input([a, ab, c], {...serves, 2: {c: 50}})
    const g = await greedySelect(i)
    const e = await exhaustiveSelect(i)
    expect(g.chosen.map((x) => x.id).sort()).toEqual(e.chosen.map((x) => x.id).sort())
  })
})

describe('improvement pass and drop-one gains', () => {
  const one = (weight = 1) => ({weight, baseCost: 100})
  const additive = (cuts: Record<string, number>) => async (_si: number, config: Candidate[]) => 100 - config.reduce((s, c) => s + (cuts[c.id] ?? 0), 0)

  it('swaps the small index greedy takes first for the one worth more that then does not fit the budget', async () => {
    const small = cand('small', 't', ['s'], 10, [0])
    const big = cand('big', 'u', ['b'], 50, [1])
    const r = await greedySelect(input([small, big], {0: {small: 10}, 1: {big: 10}}, {budgetBytes: 55}))
    expect(r.chosen.map((x) => x.id)).toEqual(['big'])
    expect(r.improvements.swaps).toBe(1)
    expect(r.gains.get('big')).toEqual({statements: [{statement: 1, without: 200, with: 20}], benefit: 180})
  })

  it('adds what still fits after the greedy pass, within the budget and --max-indexes', async () => {
    const a = cand('a', 't', ['a'], 30, [0])
    const b = cand('b', 'u', ['b'], 30, [1])
    const r = await greedySelect(input([a, b], {0: {a: 10}, 1: {b: 10}}, {budgetBytes: 60}))
    expect(r.chosen.map((x) => x.id).sort()).toEqual(['a', 'b'])
    const capped = await greedySelect(input([a, b], {0: {a: 10}, 1: {b: 10}}, {budgetBytes: 60, maxIndexes: 1}))
    expect(capped.chosen.map((x) => x.id)).toEqual(['b'])
  })

  it('drops an index that adds less than --min-improvement to a statement another index already serves', async () => {
    const a = cand('a', 't', ['a'], 10, [0])
    const b = cand('b', 't', ['b'], 10, [0])
    // b cuts 15% alone, but only 4 more once a is there (8% of the 50 the statement costs without b): greedy takes
    // it, the final check drops it.
    const costOf = async (_si: number, config: Candidate[]) => 100 - (config.includes(a) ? 50 : 0) - (config.includes(b) ? (config.includes(a) ? 4 : 15) : 0)
    const r = await greedySelect({statements: [one()], candidates: [a, b], costOf, penalty: () => 0, minImprovement: 0.1})
    expect(r.chosen.map((x) => x.id)).toEqual(['a'])
    expect(r.rejected.get('b')?.reason).toBe('superseded')
    expect(r.gains.get('a')).toEqual({statements: [{statement: 0, without: 100, with: 50}], benefit: 50})
  })

  it('keeps an index that cuts what the set leaves of a statement, though it cuts under --min-improvement of its base cost', async () => {
    // The analytical benchmark's q11: a correlated subquery over the fact table (25,238) with an outer IN list on
    // customer. sales(customer_key) takes it to 1,521; customer(c_custkey) alone cuts 5% (below --min-improvement,
    // so greedy never queues it) but takes 1,521 to 300 once the fact index is there.
    const fact = cand('fact', 'sales', ['customer_key'], 1000, [0])
    const dim = cand('dim', 'customer', ['c_custkey'], 10, [0])
    const costOf = async (_si: number, config: Candidate[]) => {
      const f = config.includes(fact)
      const d = config.includes(dim)
      return f ? (d ? 300 : 1521) : d ? 23_990 : 25_238
    }
    const r = await greedySelect({statements: [{weight: 1, baseCost: 25_238}], candidates: [fact, dim], costOf, penalty: () => 0, minImprovement: 0.1, budgetBytes: 2000})
    expect(r.chosen.map((x) => x.id).sort()).toEqual(['dim', 'fact'])
    expect(r.costs).toEqual([300])
    expect(r.gains.get('dim')).toEqual({statements: [{statement: 0, without: 1521, with: 300}], benefit: 1221})
    // Alone it is still below --min-improvement: no index for 5%.
    const alone = await greedySelect({statements: [{weight: 1, baseCost: 25_238}], candidates: [dim], costOf, penalty: () => 0, minImprovement: 0.1})
    expect(alone.chosen).toEqual([])
  })

  it('reports each index\'s drop-one gain in the final set, not its gain alone', async () => {
    const a = cand('a', 't', ['a'], 10, [0])
    const b = cand('b', 't', ['b'], 10, [0])
    const r = await greedySelect({statements: [one(2)], candidates: [a, b], costOf: additive({a: 30, b: 30}), penalty: () => 0, minImprovement: 0.1})
    expect(r.chosen.map((x) => x.id).sort()).toEqual(['a', 'b'])
    expect(r.gains.get('a')).toEqual({statements: [{statement: 0, without: 140, with: 80}], benefit: 60})
    expect(r.costs).toEqual([40])
  })

  it('tries a join\'s two sides as a pair when neither helps alone', async () => {
    const p = cand('p', 't', ['k'], 10, [0])
    const q = cand('q', 'u', ['k'], 10, [0])
    const costOf = async (_si: number, config: Candidate[]) => (config.includes(p) && config.includes(q) ? 20 : 100)
    const base = {statements: [one()], candidates: [p, q], costOf, penalty: () => 0, minImprovement: 0.1}
    expect((await greedySelect(base)).chosen).toEqual([])
    const paired = await greedySelect({...base, pairs: [[p, q]]})
    expect(paired.chosen.map((x) => x.id).sort()).toEqual(['p', 'q'])
    expect(paired.gains.get('p')?.benefit).toBe(80)
  })
})

describe('merge step: near-copies led by the same key become one index', () => {
  const covering = (id: string, keys: string[], include: string[], bytes: number, statements: number[]): Candidate =>
    ({...cand(id, 't', keys, bytes, statements), kind: 'covering', include})
  const holds = (c: Candidate, col: string) => c.keys.some((k) => k.column === col) || (c.include ?? []).includes(col)
  // Statement 0 reads k and x, statement 1 k and y, statement 2 another table: an index led by k takes 0 and 1 from
  // 100 to 20, and to 10 when it also holds the column read (an index-only scan).
  const reads: Record<number, string> = {0: 'x', 1: 'y'}
  const costOf = (lossOfWide = 0) => async (si: number, config: Candidate[]) => {
    if (si === 2) return 100
    const led = config.filter((c) => c.table === 't' && c.keys[0]?.column === 'k')
    if (led.length === 0) return 100
    return Math.min(...led.map((c) => (holds(c, reads[si]) ? 10 : 20) + (c.keys.length > 1 ? lossOfWide : 0)))
  }
  const statements = [{weight: 1, baseCost: 100}, {weight: 1, baseCost: 100}, {weight: 1, baseCost: 100}]
  const kx = covering('kx', ['k'], ['x'], 100, [0, 1])
  const ky = covering('ky', ['k'], ['y'], 100, [0, 1])
  const sized: Candidate[] = []
  const sizeOf = (bytes: number) => async (c: Candidate) => {
    sized.push(c)
    return bytes
  }

  it('merges two covering variants of one key into one index that INCLUDEs both, and reports its drop-one gain', async () => {
    const r = await greedySelect({statements, candidates: [kx, ky], costOf: costOf(), penalty: () => 0, minImprovement: 0.1, sizeOf: sizeOf(120)})
    expect(r.chosen.map((x) => x.id)).toEqual(['t btree ("k") INCLUDE (x, y)'])
    expect(r.chosen[0]).toMatchObject({kind: 'covering', estimatedBytes: 120, statements: [0, 1], include: ['x', 'y']})
    expect(r.improvements.merges).toBe(1)
    expect(r.rejected.get('kx')?.reason).toBe('merged')
    expect(r.rejected.get('ky')?.reason).toBe('merged')
    expect(r.costs).toEqual([10, 10, 100])
    expect(r.gains.get('t btree ("k") INCLUDE (x, y)')).toEqual({statements: [{statement: 0, without: 100, with: 10}, {statement: 1, without: 100, with: 10}], benefit: 180})
    expect(sized.at(-1)?.id).toBe('t btree ("k") INCLUDE (x, y)')
  })

  it('merges a key into the longer key it is a prefix of when the workload cost stays within the tolerance', async () => {
    const kz = covering('kz', ['k', 'z'], ['y'], 150, [0, 1])
    // Separate: statement 0 at 10 (kx), statement 1 at 10 + 1 (kz, one more key level). Merged into (k, z) INCLUDE
    // (x, y): both at 11, a rise of 1 within 2% of the 179 the set saves (300 without it, 121 with it).
    const r = await greedySelect({statements, candidates: [kx, kz], costOf: costOf(1), penalty: () => 0, minImprovement: 0.1, sizeOf: sizeOf(200)})
    expect(r.chosen.map((x) => x.id)).toEqual(['t btree ("k", "z") INCLUDE (x, y)'])
    expect(r.improvements.merges).toBe(1)
    expect(r.rejected.get('kx')?.reason).toBe('merged')
    expect(r.costs).toEqual([11, 11, 100])
    // The same near-copies when the longer key costs 5 more (above 2% of the 175 the set saves): both kept.
    const worse = await greedySelect({statements, candidates: [kx, kz], costOf: costOf(5), penalty: () => 0, minImprovement: 0.1, sizeOf: sizeOf(200)})
    expect(worse.chosen.map((x) => x.id).sort()).toEqual(['kx', 'kz'])
    expect(worse.improvements.merges).toBe(0)
    expect(MERGE_TOLERANCE).toBe(0.02)
  })

  it('keeps the two when the merged index is not smaller than both together, or hypopg cannot build it', async () => {
    for (const size of [200, undefined]) {
      const r = await greedySelect({statements, candidates: [kx, ky], costOf: costOf(), penalty: () => 0, minImprovement: 0.1, sizeOf: async () => size})
      expect(r.chosen.map((x) => x.id).sort()).toEqual(['kx', 'ky'])
      expect(r.improvements.merges).toBe(0)
    }
  })

  it('stays within the budget and --max-indexes, and uses the room a merge frees', async () => {
    const u = cand('u', 'u', ['u'], 60, [2])
    const stmtCost = costOf()
    const withU = async (si: number, config: Candidate[]) => (si === 2 ? (config.includes(u) ? 50 : 100) : stmtCost(si, config))
    // 200 bytes hold kx and ky (worth more than u); merged into 120 bytes they leave room for u.
    const heavy = [{weight: 10, baseCost: 100}, {weight: 10, baseCost: 100}, {weight: 1, baseCost: 100}]
    const r = await greedySelect({statements: heavy, candidates: [kx, ky, u], costOf: withU, penalty: () => 0, minImprovement: 0.1, budgetBytes: 200, sizeOf: sizeOf(120)})
    expect(r.chosen.map((x) => x.id).sort()).toEqual(['t btree ("k") INCLUDE (x, y)', 'u'])
    const capped = await greedySelect({statements: heavy, candidates: [kx, ky, u], costOf: withU, penalty: () => 0, minImprovement: 0.1, maxIndexes: 2, sizeOf: sizeOf(120)})
    expect(capped.chosen.map((x) => x.id).sort()).toEqual(['t btree ("k") INCLUDE (x, y)', 'u'])
  })

  it('merges only b-trees of one table with the same predicate, keys equal or a prefix', () => {
    const base = cand('a', 't', ['k'], 10, [0])
    expect(mergedIndex(base, {...cand('b', 't', ['k', 'z'], 10, [1]), where: '"z" = 1'})).toBeUndefined()
    expect(mergedIndex(base, cand('b', 'u', ['k'], 10, [1]))).toBeUndefined()
    expect(mergedIndex(base, cand('b', 't', ['z', 'k'], 10, [1]))).toBeUndefined()
    expect(mergedIndex(base, {...cand('b', 't', ['k'], 10, [1]), method: 'gin'})).toBeUndefined()
    expect(mergedIndex(base, {...cand('b', 't', ['k'], 10, [1]), keys: [{sql: '"k"', column: 'k', desc: true}]})).toBeUndefined()
    // Columns that are keys of the merged index are not included; an expression key's column stays included.
    const expr = {...cand('e', 't', [], 10, [0]), keys: [{sql: 'lower("k")', column: 'k'}], include: ['k', 'x']}
    expect(mergedIndex(expr, {...cand('f', 't', [], 10, [1]), keys: [{sql: 'lower("k")', column: 'k'}, {sql: '"x"', column: 'x'}], include: ['y']}))
      .toMatchObject({keys: [{sql: 'lower("k")'}, {sql: '"x"'}], include: ['k', 'y'], statements: [0, 1], kind: 'covering'})
  })
})
