/**
 * Normalised statements are planned with measured values where the parse tree says what a parameter is: the
 * top-level LIMIT $n as the rows returned per call (representative.ts). A generic plan costs an unknown LIMIT as a
 * tenth of the rows, which made a top-N over a large table look several times its cost as run and took the budget
 * from an index worth more (the analytical benchmark's q13 at 300 MB).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Report, Snapshot} from '../../../src/core/types.js'
import {adminQuery, auditTarget, connect, forgetLoadWrites, readingOf, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_advfu_limitparam'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE sales (id int NOT NULL, store int NOT NULL, revenue int NOT NULL, pad text NOT NULL);
INSERT INTO sales SELECT g, (hashint4(g) & 1023), (hashint4(g * 7) & 1048575), repeat('x', 40) FROM generate_series(1, 300000) g;
ANALYZE sales;
`
const TOP_N = 'SELECT id, revenue FROM sales ORDER BY revenue DESC LIMIT 10'

let report: Report
let snapshot: Snapshot
let literalTopN: number

describe('index advisor: LIMIT $n planned as the rows returned per call', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    await adminQuery(url, 'VACUUM ANALYZE sales')
    await forgetLoadWrites(url)
    const app = await connect(url, 'cp-advfu-app')
    try {
      for (let i = 0; i < 2; i++) await app.query(TOP_N)
      for (let i = 0; i < 4; i++) await app.query(`SELECT sum(revenue) FROM sales WHERE store = ${i + 3}`)
      const [plan] = (await app.query(`EXPLAIN (FORMAT JSON) ${TOP_N}`)).rows
      literalTopN = plan['QUERY PLAN'][0].Plan['Total Cost']
    } finally {
      await app.end()
    }
    // Room for one index on sales (about 6.4 MB each by hypopg's estimate).
    ;({report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {indexBudgetBytes: 10 * 2 ** 20}}}))
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('plans the normalised top-N with its measured limit, at the cost it has as run', () => {
    const data = readingOf(snapshot, 'postgres.plans').data as any
    const topN = data.statements.find((s: any) => /ORDER BY revenue DESC LIMIT \$1$/.test(s.sql))
    expect(topN, JSON.stringify(data.statements.map((s: any) => s.sql))).toBeDefined()
    expect(topN.plannedSql).toBe('SELECT id, revenue FROM sales ORDER BY revenue DESC LIMIT 10')
    expect(topN.substitutions).toEqual([expect.objectContaining({clause: 'limit', value: '10'})])
    // The generic plan (10% of the rows) cost about twice this; as planned now it is the literal statement's cost.
    expect(topN.cost / literalTopN).toBeGreaterThan(0.95)
    expect(topN.cost / literalTopN).toBeLessThan(1.05)
  })

  it('spends a budget of one index on the statement it saves most on as run, not on the top-N', () => {
    const workload = report.findings.find((f) => f.rule === 'database/index-workload')!
    const chosen = workload.remedies.map((r: any) => `${r.table} ${r.columns.join(',')}`)
    expect(chosen).toEqual(['public.sales store'])
  })
})
