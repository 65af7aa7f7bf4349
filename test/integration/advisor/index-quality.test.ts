/**
 * Index advisor quality on a small star schema (real PostgreSQL 15 with hypopg): views, CTEs and subqueries are
 * looked through to their base tables, a join key common to every branch of an OR is a candidate, aggregates get
 * covering (INCLUDE) candidates that turn a scan into an index-only scan, parallel plans' per-worker row counts are
 * scaled, a budget is used by the final set (swap moves after the greedy pass), and every reported gain is the
 * final set's drop-one gain, measured here again independently with hypopg.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Finding, Report} from '../../../src/core/types.js'
import {adminQuery, auditTarget, connect, forgetLoadWrites, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_advidxc_quality'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, region text NOT NULL);
INSERT INTO customers SELECT g, 'c' || g || '@example.com', 'r' || g % 20 FROM generate_series(1, 20000) g;
CREATE TABLE products (id int PRIMARY KEY, brand text NOT NULL, category text NOT NULL);
INSERT INTO products SELECT g, 'b' || g % 10000, 'cat' || g % 40 FROM generate_series(1, 50000) g;
CREATE TABLE sales (id int PRIMARY KEY, customer_id int NOT NULL, product_id int NOT NULL, store_id int NOT NULL,
  qty int NOT NULL, amount numeric NOT NULL, sold_at date NOT NULL, note text);
INSERT INTO sales SELECT g, 1 + (g::bigint * 7919) % 20000, 1 + (g::bigint * 104729) % 50000, g % 500, 1 + g % 50, (g % 1000) / 10.0,
  date '2020-01-01' + ((g::bigint * 7919) % 1500)::int, 'note ' || g FROM generate_series(1, 300000) g;
CREATE VIEW sales_v AS SELECT s.id, s.store_id, s.amount, s.sold_at, p.brand FROM sales s JOIN products p ON p.id = s.product_id;
`

type Workload = Array<{sql: string; weight: number}>

const audit = (queries: Workload, extra: Record<string, unknown> = {}) =>
  auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {queries, ...extra}}}).then((r) => r.report)

const missing = (report: Report) => report.findings.filter((f) => f.rule === 'database/missing-index')
const statement = (report: Report, id: string) => report.findings.find((f) => f.rule === 'database/costly-statement' && f.evidence.queryid === id)!
const remedy = (f: Finding) => f.remedies[0] as any
const onTable = (report: Report, table: string) => missing(report).filter((f) => remedy(f).table === table)

describe('index advisor quality (views, OR branches, covering, parallel plans, selection)', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    // Cheap parallelism, so the planner's parallel plans show up on a table of 300k rows.
    await adminQuery(PRIMARY_URL, `ALTER DATABASE ${DB} SET parallel_setup_cost = 10`)
    await adminQuery(url, SCHEMA)
    // All-visible pages, so index-only scans are costed as such. VACUUM can mark them only once no snapshot anywhere
    // on the server (another test's transaction, a standby's feedback) still predates the load: it is repeated until
    // it did, and the test fails here, not later, if that never comes.
    await adminQuery(url, 'VACUUM ANALYZE')
    for (let i = 0; ; i++) {
      const [row] = await adminQuery(url, `SELECT bool_and(relallvisible >= 0.95 * relpages) AS ok FROM pg_class WHERE relname IN ('sales', 'customers', 'products')`)
      if (row.ok) break
      if (i >= 100) throw new Error('VACUUM never marked the tables all-visible: a long transaction holds the xmin horizon back')
      await new Promise((r) => setTimeout(r, 200))
      await adminQuery(url, 'VACUUM sales, customers, products')
    }
    await forgetLoadWrites(url)
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('looks through a view to its base table', async () => {
    const report = await audit([{sql: 'SELECT sum(amount) FROM sales_v WHERE store_id = $1', weight: 10}])
    const f = statement(report, 'q1')
    expect(f.evidence.reason, f.message).toBe('improved')
    expect(f.evidence.tables).toContain('public.sales')
    const sales = onTable(report, 'public.sales')
    expect(sales.length).toBeGreaterThan(0)
    expect(remedy(sales[0]).columns[0]).toBe('store_id')
  }, 120_000)

  it('keeps a pg_stat_statements statement that reads only a view in the workload, and looks through it', async () => {
    await adminQuery(url, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
    const app = await connect(url, 'cp-advidxc-app')
    try {
      for (let i = 0; i < 30; i++) await app.query('SELECT sum(amount) FROM sales_v WHERE store_id = $1', [i])
    } finally {
      await app.end()
    }
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never'})
    const f = report.findings.find((x) => x.rule === 'database/costly-statement' && String(x.evidence.sql).includes('sales_v'))
    expect(f, report.findings.map((x) => x.message).join('\n')).toBeDefined()
    expect(f!.evidence.reason).toBe('improved')
    expect(onTable(report, 'public.sales').map((x) => remedy(x).columns[0])).toContain('store_id')
  }, 120_000)

  it('stores view definitions normalised: a constant in a view definition does not reach the catalog', async () => {
    await adminQuery(url, `CREATE VIEW vip AS SELECT id, region FROM customers WHERE email = 'tok-5ecret-8b1f@example.com'`)
    const {snapshot} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {queries: [{sql: 'SELECT region FROM vip', weight: 1}]}}})
    const views = (snapshot.readings.find((r) => r.probe === 'postgres.plans')!.data as any).catalog.views
    expect(JSON.stringify(views)).not.toContain('5ecret')
    expect(views['public.vip'].definition).toMatch(/email = \$1/)
    expect(views['public.vip'].columns).toEqual(['id', 'region'])
  }, 120_000)

  it('looks through CTEs and derived tables to the columns they expose', async () => {
    const report = await audit([
      {sql: 'WITH s AS (SELECT customer_id AS cust, amount FROM sales) SELECT sum(amount) FROM s WHERE cust = $1', weight: 10},
      {sql: 'SELECT count(*) FROM (SELECT product_id AS pid FROM sales) d WHERE d.pid = $1', weight: 10},
    ])
    expect(statement(report, 'q1').evidence.reason).toBe('improved')
    expect(statement(report, 'q2').evidence.reason).toBe('improved')
    const leading = onTable(report, 'public.sales').map((f) => remedy(f).columns[0])
    expect(leading).toEqual(expect.arrayContaining(['customer_id', 'product_id']))
  }, 120_000)

  it('takes the join key and the filter column common to every branch of an OR', async () => {
    const report = await audit([{
      sql: `SELECT count(*) FROM sales s, products p
             WHERE (p.id = s.product_id AND p.brand = 'b1' AND s.qty < 5) OR (p.id = s.product_id AND p.brand = 'b2' AND s.qty > 45)`,
      weight: 10,
    }])
    const f = statement(report, 'q1')
    expect(f.evidence.reason, f.message).toBe('improved')
    expect(onTable(report, 'public.sales').map((x) => remedy(x).columns[0])).toContain('product_id')
    expect(onTable(report, 'public.products').map((x) => remedy(x).columns[0])).toContain('brand')
  }, 120_000)

  it('proposes a covering index (INCLUDE) for an aggregate, so the scan becomes index-only', async () => {
    const sql = 'SELECT store_id, sum(amount), count(*) FROM sales WHERE sold_at >= $1 AND sold_at < $2 GROUP BY store_id'
    const report = await audit([{sql, weight: 10}])
    const sales = onTable(report, 'public.sales')
    expect(sales).toHaveLength(1)
    const r = remedy(sales[0])
    expect(r.columns[0]).toBe('sold_at')
    expect([...r.columns, ...r.include]).toEqual(expect.arrayContaining(['store_id', 'amount']))
    expect(r.include.length).toBeGreaterThan(0)
    // The planner uses it as an index-only scan.
    const client = await connect(url)
    try {
      await client.query('SELECT hypopg_reset()')
      await client.query('SELECT * FROM hypopg_create_index($1)', [String(r.sql).replace(' CONCURRENTLY', '')])
      await client.query('BEGIN')
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan')
      await client.query(`PREPARE cov AS ${sql}`)
      const plan = (await client.query('EXPLAIN EXECUTE cov(NULL, NULL)')).rows.map((x) => x['QUERY PLAN']).join('\n')
      expect(plan).toMatch(/Index Only Scan/)
      await client.query('ROLLBACK')
      await client.query('DEALLOCATE ALL')
      await client.query('SELECT hypopg_reset()')
    } finally {
      await client.end()
    }
  }, 120_000)

  it('merges covering variants led by the same key into one index that serves both aggregates index-only', async () => {
    const workload = [
      {sql: 'SELECT store_id, count(*) FROM sales WHERE sold_at >= $1 AND sold_at < $2 GROUP BY store_id', weight: 10},
      {sql: 'SELECT sum(amount) FROM sales WHERE sold_at >= $1 AND sold_at < $2', weight: 10},
    ]
    const report = await audit(workload)
    // Without the merge step: sales (sold_at) INCLUDE (store_id) and sales (sold_at) INCLUDE (amount), each earning
    // its place by making one statement index-only.
    const sales = onTable(report, 'public.sales')
    expect(sales.map((f) => remedy(f).sql)).toHaveLength(1)
    const r = remedy(sales[0])
    expect(r.columns[0]).toBe('sold_at')
    expect([...r.columns, ...r.include]).toEqual(expect.arrayContaining(['store_id', 'amount']))
    const set = report.findings.find((f) => f.rule === 'database/index-workload')!
    expect((set.evidence.selectionMoves as {merges: number}).merges).toBeGreaterThan(0)
    // Both statements are credited to it, each with a cut of at least --min-improvement.
    for (const q of ['q1', 'q2']) expect(statement(report, q).evidence.reason).toBe('improved')
    const client = await connect(url)
    try {
      await client.query('SELECT hypopg_reset()')
      await client.query('SELECT * FROM hypopg_create_index($1)', [String(r.sql).replace(' CONCURRENTLY', '')])
      await client.query('BEGIN')
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan')
      for (const [i, q] of workload.entries()) {
        await client.query(`PREPARE m${i} AS ${q.sql}`)
        const plan = (await client.query(`EXPLAIN EXECUTE m${i}(NULL, NULL)`)).rows.map((x) => x['QUERY PLAN']).join('\n')
        expect(plan, q.sql).toMatch(/Index Only Scan/)
      }
      await client.query('ROLLBACK')
      await client.query('DEALLOCATE ALL')
      await client.query('SELECT hypopg_reset()')
    } finally {
      await client.end()
    }
  }, 120_000)

  it('scales a parallel plan\'s per-worker row estimates by the workers before judging selectivity', async () => {
    const report = await audit([{sql: 'SELECT * FROM sales WHERE qty = 7', weight: 1}])
    const f = statement(report, 'q1')
    const plan = f.evidence.plan as {seqScans: Array<{table: string; estimatedRows: number; filteredShare: number}>}
    const scan = plan.seqScans.find((s) => s.table === 'public.sales')!
    expect(scan).toBeDefined()
    // qty is uniform over 1..50: one value is 6,000 of 300,000 rows, whatever the number of workers.
    expect(scan.estimatedRows).toBeGreaterThan(5000)
    expect(scan.estimatedRows).toBeLessThan(7000)
    expect(scan.filteredShare).toBeCloseTo(0.98, 2)
  }, 120_000)

  it('uses a budget: swaps the small index greedy takes first for the one worth more that then no longer fits', async () => {
    const workload = [
      {sql: 'SELECT * FROM customers WHERE email = $1', weight: 100},
      {sql: 'SELECT * FROM sales WHERE customer_id = $1', weight: 30},
    ]
    const client = await connect(url)
    let small: number
    let big: number
    try {
      const size = async (def: string) => Number((await client.query('SELECT hypopg_relation_size(indexrelid)::float8 AS s FROM hypopg_create_index($1)', [def])).rows[0].s)
      small = await size('CREATE INDEX ON customers (email)')
      big = await size('CREATE INDEX ON sales (customer_id)')
      await client.query('SELECT hypopg_reset()')
    } finally {
      await client.end()
    }
    const budget = Math.floor(big + small / 2)
    const report = await audit(workload, {indexBudgetBytes: budget})
    const chosen = missing(report).map((f) => remedy(f))
    expect(chosen.map((r) => `${r.table} ${r.columns.join(',')}`)).toEqual(['public.sales customer_id'])
    const used = chosen.reduce((s, r) => s + r.estimate.sizeBytes, 0)
    expect(used).toBeLessThanOrEqual(budget)
    expect(used / budget).toBeGreaterThan(0.6)
    const set = report.findings.find((f) => f.rule === 'database/index-workload')!
    expect((set.evidence.selectionMoves as {swaps: number}).swaps).toBeGreaterThan(0)
    // The statement left without its index says why, naming its table.
    expect(statement(report, 'q1').evidence.reason).toBe('budget')
    expect(statement(report, 'q1').message).toMatch(/an index on public\.customers \(about [\d.]+kB\) would help but does not fit --index-budget/)
  }, 120_000)

  it('reports each index\'s drop-one gain of the final set, and keeps none that changes no plan', async () => {
    const workload = [
      {sql: 'SELECT * FROM sales WHERE store_id = $1 AND qty = $2', weight: 50},
      {sql: 'SELECT * FROM sales WHERE store_id = $1', weight: 5},
      {sql: 'SELECT s.amount FROM sales s JOIN customers c ON c.id = s.customer_id WHERE c.email = $1 AND s.store_id = $2', weight: 20},
    ]
    const report = await audit(workload)
    const chosen = missing(report).map((f) => remedy(f))
    expect(chosen.length).toBeGreaterThan(0)
    const client = await connect(url)
    try {
      const costs = async (defs: string[]): Promise<number[]> => {
        await client.query('SELECT hypopg_reset()')
        for (const d of defs) await client.query('SELECT * FROM hypopg_create_index($1)', [d.replace(' CONCURRENTLY', '')])
        await client.query('BEGIN')
        await client.query('SET LOCAL plan_cache_mode = force_generic_plan')
        const out: number[] = []
        for (const [i, q] of workload.entries()) {
          await client.query(`PREPARE w${i} AS ${q.sql}`)
          const args = Array.from({length: (q.sql.match(/\$\d/g) ?? []).length}, () => 'NULL').join(', ')
          const [row] = (await client.query(`EXPLAIN (FORMAT JSON) EXECUTE w${i}(${args})`)).rows
          out.push(Number(row['QUERY PLAN'][0].Plan['Total Cost']) * q.weight)
        }
        await client.query('ROLLBACK')
        await client.query('DEALLOCATE ALL')
        return out
      }
      const all = await costs(chosen.map((r) => r.sql))
      for (const r of chosen) {
        const without = await costs(chosen.filter((x) => x !== r).map((x) => x.sql))
        const helped = workload.map((_, i) => i).filter((i) => without[i] > all[i] + 1e-6)
        expect(helped.length, `${r.sql} changes no plan of the final set`).toBeGreaterThan(0)
        // At least one statement loses --min-improvement (10%) of its cost without it.
        expect(helped.some((i) => (without[i] - all[i]) / without[i] >= 0.1), r.sql).toBe(true)
        const before = helped.reduce((s, i) => s + without[i], 0)
        const after = helped.reduce((s, i) => s + all[i], 0)
        expect(r.estimate.costBefore, r.sql).toBeCloseTo(before, 0)
        expect(r.estimate.costAfter, r.sql).toBeCloseTo(after, 0)
      }
      await client.query('SELECT hypopg_reset()')
    } finally {
      await client.end()
    }
  }, 120_000)
})
