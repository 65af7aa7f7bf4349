/**
 * Index advisor benchmark: quality (relative workload cost vs index storage at several budgets, against a
 * Dexter-style one-index-per-query baseline and an exhaustive search on a small instance) and effort (what-if
 * calls, wall time, EXPLAIN latency, 100-statement run time, peak memory with 1,000 statements in a child).
 * Run: npx tsx bench/index-advisor/run.ts   (needs scripts/test-env.sh up). Writes bench/results/index-advisor.json.
 */
import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import pg from 'pg'
import {PgSession} from '../../src/drivers/postgres.js'
import {plansProbe, type PlansData} from '../../src/probes/postgres/plans.js'
import {runIndexAdvisor, writePenalty} from '../../src/advisors/index-advisor/advisor.js'
import {generateCandidates, type Candidate} from '../../src/advisors/index-advisor/candidates.js'
import {columnsOf} from '../../src/knowledge/postgres/catalog.js'
import {extractShapeSync} from '../../src/knowledge/postgres/parse.js'
import {explainStatement, plannable} from '../../src/knowledge/postgres/plan.js'
import {exhaustiveSelect, greedySelect, workloadObjective, type SelectionInput} from '../../src/advisors/index-advisor/select.js'
import {WhatIf} from '../../src/advisors/index-advisor/whatif.js'
import {ensureParser} from '../../src/knowledge/postgres/workload.js'
import type {AdvisorContext} from '../../src/core/advisor.js'
import type {Reading} from '../../src/core/types.js'
import {PRIMARY_URL, withDatabase} from '../../test/helpers/pg.js'

const SERVER = PRIMARY_URL
const DB = 'cp_bench_advisor'
const URL_DB = withDatabase(PRIMARY_URL, DB)

const SETUP = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE UNLOGGED TABLE customers (id int PRIMARY KEY, email text, country text, segment int, created_at timestamptz);
INSERT INTO customers SELECT g, 'c' || g || '@x.io', (ARRAY['de','fr','us','uk','es','it','jp','br'])[1 + g % 8], g % 20, now() - g * interval '3 minutes' FROM generate_series(1, 200000) g;
CREATE UNLOGGED TABLE products (id int PRIMARY KEY, category int, price numeric, name text);
INSERT INTO products SELECT g, g % 200, (g % 500) + 0.99, 'product ' || g FROM generate_series(1, 50000) g;
CREATE UNLOGGED TABLE orders (id int PRIMARY KEY, customer_id int, status text, total numeric, created_at timestamptz, shipped_at timestamptz);
INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % 200000, (ARRAY['new','paid','shipped','done','cancelled'])[1 + g % 5], g % 900, now() - g * interval '30 seconds', CASE WHEN g % 5 > 2 THEN now() - g * interval '20 seconds' END FROM generate_series(1, 1000000) g;
CREATE UNLOGGED TABLE order_items (id int PRIMARY KEY, order_id int, product_id int, qty int, price numeric);
INSERT INTO order_items SELECT g, 1 + (g::bigint * 104729) % 1000000, 1 + g % 50000, 1 + g % 5, g % 300 FROM generate_series(1, 1000000) g;
CREATE UNLOGGED TABLE reviews (id int PRIMARY KEY, product_id int, customer_id int, rating int, created_at timestamptz);
INSERT INTO reviews SELECT g, 1 + g % 50000, 1 + (g * 31) % 200000, 1 + g % 5, now() - g * interval '5 minutes' FROM generate_series(1, 300000) g;
ANALYZE;`

/** 15 analytical and 10 OLTP statements over the 5 tables. */
export const WORKLOAD = [
  // analytical
  {sql: `SELECT c.country, sum(o.total) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at >= $1 GROUP BY c.country`, weight: 1},
  {sql: `SELECT status, count(*) FROM orders WHERE created_at >= $1 AND created_at < $2 GROUP BY status`, weight: 1},
  {sql: `SELECT p.category, sum(i.qty * i.price) FROM order_items i JOIN products p ON p.id = i.product_id WHERE p.category = $1 GROUP BY p.category`, weight: 1},
  {sql: `SELECT product_id, avg(rating) FROM reviews WHERE created_at >= $1 GROUP BY product_id ORDER BY 2 DESC LIMIT 20`, weight: 1},
  {sql: `SELECT customer_id, sum(total) FROM orders WHERE status = 'cancelled' AND created_at >= $1 GROUP BY customer_id`, weight: 1},
  {sql: `SELECT count(*) FROM orders WHERE shipped_at IS NULL AND status = 'paid'`, weight: 1},
  {sql: `SELECT c.segment, count(DISTINCT o.id) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.segment = $1 GROUP BY c.segment`, weight: 1},
  {sql: `SELECT date_trunc('day', created_at), count(*) FROM orders WHERE created_at >= $1 GROUP BY 1`, weight: 1},
  {sql: `SELECT p.id, count(*) FROM products p JOIN reviews r ON r.product_id = p.id WHERE p.category = $1 AND r.rating = 5 GROUP BY p.id`, weight: 1},
  {sql: `SELECT sum(i.qty) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.created_at >= $1 AND o.status = $2`, weight: 1},
  {sql: `SELECT country, count(*) FROM customers WHERE created_at >= $1 GROUP BY country`, weight: 1},
  {sql: `SELECT avg(total) FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE country = $1 AND segment = $2)`, weight: 1},
  {sql: `SELECT r.rating, count(*) FROM reviews r JOIN customers c ON c.id = r.customer_id WHERE c.country = $1 GROUP BY r.rating`, weight: 1},
  {sql: `SELECT i.product_id, sum(i.qty) FROM order_items i WHERE i.product_id BETWEEN $1 AND $2 GROUP BY i.product_id`, weight: 1},
  {sql: `SELECT o.id, o.total FROM orders o WHERE o.total > $1 ORDER BY o.total DESC LIMIT 50`, weight: 1},
  // OLTP
  {sql: `SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10`, weight: 100},
  {sql: `SELECT * FROM order_items WHERE order_id = $1`, weight: 100},
  {sql: `SELECT id FROM customers WHERE lower(email) = $1`, weight: 50},
  {sql: `SELECT * FROM reviews WHERE product_id = $1 ORDER BY created_at DESC LIMIT 20`, weight: 50},
  {sql: `SELECT * FROM customers WHERE id = $1`, weight: 200},
  {sql: `SELECT * FROM products WHERE id = $1`, weight: 200},
  {sql: `UPDATE orders SET status = $1 WHERE id = $2`, weight: 20},
  {sql: `SELECT * FROM orders WHERE status = 'new' ORDER BY created_at LIMIT 100`, weight: 20},
  {sql: `SELECT count(*) FROM reviews WHERE customer_id = $1`, weight: 20},
  {sql: `INSERT INTO reviews (id, product_id, customer_id, rating, created_at) VALUES ($1, $2, $3, $4, now())`, weight: 20},
]

async function setup(): Promise<void> {
  const admin = new pg.Client({connectionString: SERVER})
  await admin.connect()
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB])).rowCount
  if (!exists || process.env.BENCH_REBUILD) {
    await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await admin.query(`CREATE DATABASE ${DB}`)
    const c = new pg.Client({connectionString: URL_DB})
    await c.connect()
    const t0 = Date.now()
    await c.query(SETUP)
    console.error(`generated ${DB} in ${Date.now() - t0} ms`)
    await c.end()
  }
  await admin.end()
}

async function capture(session: PgSession, queries: Array<{sql: string; weight: number}>): Promise<Reading> {
  const out = await plansProbe.collect(session, {target: {name: 'bench', kind: 'postgres', url: URL_DB}, windowSeconds: 0, options: {indexAdvisor: {queries}}, log: () => {}}, undefined)
  return {target: 'bench', probe: 'postgres.plans', takenAt: new Date().toISOString(), durationMs: 0, status: 'ok', data: out.data, metrics: out.metrics}
}

function context(session: PgSession, reading: Reading, indexAdvisor: Record<string, unknown>): AdvisorContext {
  return {
    snapshot: {} as any, target: {name: 'bench', kind: 'postgres', url: URL_DB, status: 'ok', facts: {database: DB}}, readings: [reading],
    live: new Map([['bench', session]]), rules: () => [], options: {indexAdvisor}, log: () => {},
  }
}

async function childMemory(): Promise<void> {
  // Child mode: 1,000 statements through probe + advisor, then print peak RSS.
  await ensureParser()
  const session = await PgSession.open(URL_DB)
  const queries = Array.from({length: 1000}, (_, i) => {
    const q = WORKLOAD[i % WORKLOAD.length]
    return {sql: `${q.sql} /* v${i} */`, weight: q.weight}
  })
  const t0 = Date.now()
  const reading = await capture(session, queries)
  const result = await runIndexAdvisor(context(session, reading, {queries}))
  await session.close()
  process.stdout.write(JSON.stringify({statements: 1000, wallMs: Date.now() - t0, maxRssMB: process.resourceUsage().maxRSS / 1024, heapUsedMB: process.memoryUsage().heapUsed / 1048576, whatIfCalls: result?.run.whatIf?.calls}))
}

async function main(): Promise<void> {
  if (process.argv.includes('--child-memory')) return childMemory()
  await setup()
  await ensureParser()
  const session = await PgSession.open(URL_DB)
  const results: Record<string, unknown> = {generatedAt: new Date().toISOString(), database: DB, statements: WORKLOAD.length, server: session.serverVersionNum}

  // Effort: plain EXPLAIN latency on a warm connection.
  const stmt = await plannable(WORKLOAD[15].sql)
  for (let i = 0; i < 20; i++) await explainStatement(session, stmt)
  let t0 = process.hrtime.bigint()
  for (let i = 0; i < 200; i++) await explainStatement(session, stmt)
  const genericMs = Number(process.hrtime.bigint() - t0) / 1e6 / 200
  const plain = await plannable('SELECT * FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10')
  t0 = process.hrtime.bigint()
  for (let i = 0; i < 200; i++) await explainStatement(session, plain)
  results.explainMs = {plainPerStatement: Number(process.hrtime.bigint() - t0) / 1e6 / 200, genericPerStatement: genericMs}

  const reading = await capture(session, WORKLOAD)
  const data = reading.data as PlansData
  const base = data.statements.reduce((s, st) => s + (st.cost ?? 0) * st.weight, 0)

  // Quality: relative cost vs storage at several budgets.
  const budgets: Array<[string, number | undefined]> = [['unbounded', undefined], ['200MB', 200 * 2 ** 20], ['50MB', 50 * 2 ** 20], ['20MB', 20 * 2 ** 20], ['5MB', 5 * 2 ** 20]]
  const rows = []
  for (const [label, budget] of budgets) {
    const t = Date.now()
    const r = (await runIndexAdvisor(context(session, reading, {queries: WORKLOAD, indexBudgetBytes: budget})))!
    const wf = r.findings.find((f) => f.rule === 'database/index-workload')!
    rows.push({budget: label, indexes: wf.remedies.length, sizeBytes: wf.evidence.sizeBytes, relativeCost: wf.value, whatIfCalls: r.run.whatIf?.calls, memoHits: r.run.whatIf?.memoHits, wallMs: Date.now() - t,
      definitions: wf.remedies.map((x) => x.sql)})
  }
  results.budgets = rows

  // Baseline: Dexter's method, per query the best single btree index of <= 2 plain columns if it cuts >= 50%.
  const catalog = data.catalog
  const shapes = data.statements.map((s) => (s.plan ? extractShapeSync(s.sql, columnsOf(catalog)) : undefined))
  const {candidates} = generateCandidates(shapes, catalog)
  const stmts = await Promise.all(data.statements.map((s) => (s.plan ? plannable(s.sql) : undefined)))
  const whatIf = new WhatIf(session, stmts, shapes.map((s) => s?.tables ?? []), catalog)
  await whatIf.measure(candidates)
  const dexterPool = candidates.filter((c) => c.method === 'btree' && c.keys.length <= 2 && !c.where && !c.include && c.keys.every((k) => k.sql.startsWith('"')))
  const dexter = new Map<string, Candidate>()
  for (const [si, s] of data.statements.entries()) {
    if (!s.cost) continue
    let best: {c: Candidate; cost: number} | undefined
    for (const c of dexterPool.filter((c) => c.statements.includes(si))) {
      const cost = (await whatIf.cost(si, [c])).cost
      if (!best || cost < best.cost) best = {c, cost}
    }
    if (best && best.cost <= s.cost * 0.5) dexter.set(best.c.id, best.c)
  }
  const dexterSet = [...dexter.values()]
  let dexterCost = 0
  for (const [si, s] of data.statements.entries()) if (s.cost) dexterCost += s.weight * (await whatIf.cost(si, dexterSet)).cost
  results.dexterBaseline = {indexes: dexterSet.length, sizeBytes: dexterSet.reduce((a, c) => a + c.estimatedBytes, 0), relativeCost: dexterCost / base, definitions: dexterSet.map((c) => c.id)}

  // Small instance: greedy vs exhaustive over the 8 candidates with the best isolated benefit.
  const input: SelectionInput = {
    statements: data.statements.map((s) => (s.cost ? {weight: s.weight, baseCost: s.cost} : undefined)), candidates: [],
    costOf: async (si, config) => (await whatIf.cost(si, config)).cost,
    penalty: (c) => writePenalty(c, catalog.tables[c.table]?.writeRate ?? 0, catalog.tables[c.table]?.rows ?? 0), minImprovement: 0,
  }
  const isolated = []
  for (const c of candidates) {
    let gain = 0
    for (const si of c.statements) if (input.statements[si]) gain += input.statements[si]!.weight * (input.statements[si]!.baseCost - (await input.costOf(si, [c])))
    isolated.push({c, gain})
  }
  const small = isolated.sort((a, b) => b.gain - a.gain).slice(0, 8).map((x) => x.c)
  const smallBudget = small.reduce((a, c) => a + c.estimatedBytes, 0) / 2
  const smallInput = {...input, candidates: small, budgetBytes: smallBudget}
  const g = await greedySelect(smallInput)
  const gObj = await workloadObjective(smallInput, g.chosen)
  const ex = await exhaustiveSelect(smallInput)
  const none = await workloadObjective(smallInput, [])
  results.smallInstance = {candidates: small.length, budgetBytes: smallBudget, greedyRelativeCost: gObj / none, exhaustiveRelativeCost: ex.objective / none, gapPoints: 100 * (gObj - ex.objective) / none, configurations: ex.configurations}
  await whatIf.reset()

  // 100 statements (variants of the workload) through probe + advisor.
  const hundred = Array.from({length: 100}, (_, i) => ({sql: `${WORKLOAD[i % WORKLOAD.length].sql} /* v${i} */`, weight: WORKLOAD[i % WORKLOAD.length].weight}))
  t0 = process.hrtime.bigint()
  const r100 = await capture(session, hundred)
  const res100 = await runIndexAdvisor(context(session, r100, {queries: hundred}))
  results.hundredStatements = {wallMs: Number(process.hrtime.bigint() - t0) / 1e6, whatIfCalls: res100?.run.whatIf?.calls, memoHits: res100?.run.whatIf?.memoHits}
  await session.close()

  const child = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--child-memory'], {encoding: 'utf8', maxBuffer: 1 << 20})
  results.thousandStatements = JSON.parse(child)
  writeFileSync(new URL('../results/index-advisor.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`)
  console.log(JSON.stringify(results, null, 2))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
