import {describe, expect, it} from 'vitest'
import type {Candidate} from '../../../src/advisors/index-advisor/candidates.js'
import {exhaustiveSelect, greedySelect, type SelectionInput} from '../../../src/advisors/index-advisor/select.js'

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
