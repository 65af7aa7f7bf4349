import {beforeAll, describe, expect, it} from 'vitest'
import {plannable} from '../../../src/knowledge/postgres/plan.js'
import {representativePlannable} from '../../../src/knowledge/postgres/representative.js'
import {ensureParser} from '../../../src/knowledge/postgres/workload.js'

const rep = async (sql: string, rowsPerCall?: number) => representativePlannable(await plannable(sql), {rowsPerCall})

describe('representative statements: parameters given measured values before planning', () => {
  beforeAll(ensureParser)

  it('plans the top-level LIMIT $n as the rows returned per call and renumbers the other parameters', async () => {
    const r = await rep('SELECT f.sale_id, f.revenue FROM sales f WHERE f.store_key = $1 ORDER BY f.revenue DESC LIMIT $2', 4.2)
    expect(r.sql).toBe('SELECT f.sale_id, f.revenue FROM sales f WHERE f.store_key = $1 ORDER BY f.revenue DESC LIMIT 5')
    expect(r.paramCount).toBe(1)
    expect(r.substitutions).toEqual([expect.objectContaining({param: 2, clause: 'limit', value: '5'})])
    // A parameter before the LIMIT's is renumbered down.
    const first = await rep('SELECT a FROM t ORDER BY a LIMIT $1 OFFSET $3', 20)
    expect(first.sql).toBe('SELECT a FROM t ORDER BY a LIMIT 20 OFFSET 0')
    const mid = await rep('SELECT a FROM t WHERE b = $2 AND c > $3 ORDER BY a LIMIT $1', 0)
    expect(mid.sql).toBe('SELECT a FROM t WHERE b = $1 AND c > $2 ORDER BY a LIMIT 1')
    expect(mid.paramCount).toBe(2)
  })

  it('takes FETCH FIRST and a UNION\'s LIMIT, and keeps non-ASCII text intact', async () => {
    expect((await rep('SELECT a FROM t ORDER BY a FETCH FIRST $1 ROWS ONLY', 3)).sql).toBe('SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS ONLY')
    expect((await rep('SELECT a FROM t UNION SELECT a FROM u ORDER BY 1 LIMIT $1', 7)).sql).toBe('SELECT a FROM t UNION SELECT a FROM u ORDER BY 1 LIMIT 7')
    expect((await rep("SELECT a AS \"größe\" FROM t WHERE b = $1 ORDER BY a LIMIT $2", 2)).sql).toBe("SELECT a AS \"größe\" FROM t WHERE b = $1 ORDER BY a LIMIT 2")
  })

  it('leaves what rows per call cannot tell: a nested LIMIT, a reused parameter, no measurement', async () => {
    for (const [sql, rows] of [
      ['SELECT * FROM t WHERE a IN (SELECT a FROM u ORDER BY b LIMIT $1)', 10],
      ['SELECT * FROM t WHERE a < $1 ORDER BY a LIMIT $1', 10],
      ['SELECT * FROM t ORDER BY a LIMIT $1', undefined],
      ['SELECT * FROM t WHERE a = $1', 10],
    ] as const) {
      const r = await rep(sql, rows)
      expect(r.substitutions).toEqual([])
      expect(r.sql).toBe(sql)
    }
  })
})
