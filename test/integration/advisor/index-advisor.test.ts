import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {adminQuery, auditTarget, connect, readingOf, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'
import type {Finding, Report, Snapshot} from '../../../src/core/types.js'
import {analyseSnapshot} from '../../../src/index.js'

const DB = 'cp_advisor_it'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE UNLOGGED TABLE users (id int PRIMARY KEY, email text NOT NULL, name text, created_at timestamptz NOT NULL);
INSERT INTO users SELECT g, 'User' || g || '@Example.com', 'name ' || g, now() - g * interval '1 minute' FROM generate_series(1, 200000) g;
CREATE UNLOGGED TABLE orders (id int PRIMARY KEY, user_id int NOT NULL REFERENCES users(id), store_id int NOT NULL, status text NOT NULL,
  total numeric NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % 200000, g % 500, (ARRAY['paid','shipped','cancelled','new'])[1 + g % 4], g % 1000, now() - g * interval '10 seconds'
  FROM generate_series(1, 400000) g;
CREATE UNLOGGED TABLE events (id bigint PRIMARY KEY, device_id int NOT NULL, kind text NOT NULL, at timestamptz NOT NULL);
INSERT INTO events SELECT g, g % 20000, 'k' || g % 10, now() - g * interval '1 second' FROM generate_series(1, 300000) g;
CREATE SCHEMA "Sales Data";
CREATE UNLOGGED TABLE "Sales Data"."Line Items" ("Id" int PRIMARY KEY, "Product Id" int NOT NULL, qty int);
INSERT INTO "Sales Data"."Line Items" SELECT g, g % 5000, 1 FROM generate_series(1, 100000) g;
CREATE TABLE tiny (id int, code text);
INSERT INTO tiny SELECT g, 'c' || g FROM generate_series(1, 120) g;
ANALYZE;
`

const WORKLOAD = [
  {sql: 'SELECT * FROM events WHERE device_id = $1', weight: 10},
  {sql: 'SELECT id, total FROM orders WHERE store_id = $1 ORDER BY created_at DESC LIMIT 10', weight: 10},
  {sql: 'SELECT o.id, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = $1', weight: 10},
  {sql: 'SELECT id FROM users WHERE lower(email) = $1', weight: 10},
  {sql: 'SELECT * FROM "Sales Data"."Line Items" WHERE "Product Id" = $1', weight: 5},
  {sql: 'SELECT * FROM users WHERE id = $1', weight: 50},
  {sql: 'SELECT * FROM tiny WHERE code = $1', weight: 5},
  {sql: 'INSERT INTO events (id, device_id, kind, at) VALUES ($1, $2, $3, now())', weight: 1},
  {sql: 'SELECT * FROM missing_table WHERE id = $1', weight: 1},
]

let report: Report
let snapshot: Snapshot

function remedySql(f: Finding): string {
  return String(f.remedies[0]?.sql)
}

describe('index advisor on a real PostgreSQL 15 with hypopg', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    ;({report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {queries: WORKLOAD}}}))
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('plans every statement with generic plans on PostgreSQL 15 and reports the unplannable one', () => {
    const data = readingOf(snapshot, 'postgres.plans').data as any
    expect(data.serverVersionNum).toBeLessThan(160000)
    expect(data.statements).toHaveLength(WORKLOAD.length)
    for (const s of data.statements.slice(0, 8)) expect(s.cost, s.sql).toBeGreaterThan(0)
    expect(data.statements[8].error).toMatch(/relation "missing_table" does not exist/)
    expect(report.findings.some((f) => f.rule === 'database/unplannable-statement')).toBe(true)
    expect(report.skipped.filter((s) => s.probe.startsWith('advisor'))).toEqual([])
  })

  it('proposes the single-column, composite, foreign-key and expression indexes, verified by what-if', () => {
    const missing = report.findings.filter((f) => f.rule === 'database/missing-index')
    const defs = missing.map(remedySql)
    expect(defs).toContain('CREATE INDEX CONCURRENTLY "events_device_id_idx" ON "public"."events" USING btree ("device_id")')
    expect(defs.some((d) => /ON "public"."orders" USING btree \("store_id", "created_at"\)/.test(d))).toBe(true)
    expect(defs.some((d) => /ON "public"."orders" USING btree \("user_id"/.test(d))).toBe(true)
    expect(defs.some((d) => /ON "public"."users" USING btree \(\(lower\("email"\)\)\)/.test(d))).toBe(true)
    expect(defs.some((d) => d.includes('ON "Sales Data"."Line Items" USING btree ("Product Id")'))).toBe(true)
    for (const f of missing) {
      const r = f.remedies[0] as any
      expect(r.verified).toBe('what-if')
      expect(r.estimate.costAfter).toBeLessThan(r.estimate.costBefore)
      expect(r.estimate.sizeBytes).toBeGreaterThan(0)
      expect(r.estimate.queriesImproved).toBeGreaterThan(0)
    }
    expect(missing.length).toBe(5)
  })

  it('explains the statements without a proposal', () => {
    const byId = new Map(report.findings.filter((f) => f.rule === 'database/costly-statement').map((f) => [f.evidence.queryid, f]))
    expect(byId.get('q6')?.evidence.reason).toBe('already-optimal')
    expect(byId.get('q6')?.remedies).toEqual([])
    expect(byId.get('q7')?.evidence.reason).toBe('small-table')
    expect(byId.get('q7')?.message).toMatch(/public.tiny has 120 rows: a seq scan is cheapest/)
    expect(byId.get('q1')?.evidence.reason).toBe('improved')
    const workload = report.findings.find((f) => f.rule === 'database/index-workload')!
    expect(workload.value).toBeLessThan(0.5)
    expect(workload.evidence.whatIfCalls).toBeGreaterThan(0)
  })

  it('raises the bar: --min-improvement above every gain leaves each statement with its reason', async () => {
    const {report: strict} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {queries: WORKLOAD.slice(0, 1), minImprovement: 0.995}}})
    const f = strict.findings.find((x) => x.rule === 'database/costly-statement')!
    expect(f.evidence.reason).toBe('below-min-improvement')
    expect(f.message).toMatch(/gain .*% below --min-improvement 99.5%/)
  })

  it('counts the advisor\'s EXPLAIN and what-if calls in the overhead report, under the advisor', () => {
    const workload = report.findings.find((f) => f.rule === 'database/index-workload')!
    const whatIfCalls = Number(workload.evidence.whatIfCalls)
    expect(whatIfCalls).toBeGreaterThan(10)
    const [overhead] = report.overhead!
    const advisorCommands = overhead.commands.filter((c) => c.probe === 'advisor.index').reduce((n, c) => n + c.count, 0)
    expect(advisorCommands).toBeGreaterThanOrEqual(whatIfCalls)
    const probeCommands = overhead.commands.filter((c) => c.probe !== 'advisor.index').reduce((n, c) => n + c.count, 0)
    expect(overhead.roundTrips).toBeGreaterThanOrEqual(probeCommands + advisorCommands)
  })

  it('marks remedies unverified when audited from the snapshot alone', async () => {
    const offline = await analyseSnapshot(snapshot, {failOn: 'never', source: 'snapshot', specs: [{name: 'pg', kind: 'postgres', url, options: {indexAdvisor: {queries: WORKLOAD}}}]})
    const missing = offline.findings.filter((f) => f.rule === 'database/missing-index')
    expect(missing.length).toBeGreaterThan(0)
    for (const f of missing) {
      expect((f.remedies[0] as any).verified).toBe(false)
      expect(String((f.remedies[0] as any).notVerified)).toMatch(/audited from a snapshot/)
    }
  })

  it('remedy SQL runs as proposed and the planner then uses the indexes', async () => {
    const missing = report.findings.filter((f) => f.rule === 'database/missing-index')
    const client = await connect(url)
    try {
      for (const f of missing) await client.query(remedySql(f))
      await client.query('ANALYZE')
      await client.query('BEGIN')
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan')
      for (const [i, q] of WORKLOAD.slice(0, 5).entries()) {
        const args = Array.from({length: (q.sql.match(/\$\d/g) ?? []).length}, () => 'NULL').join(', ')
        await client.query(`PREPARE p${i} AS ${q.sql}`)
        const rows = (await client.query(`EXPLAIN (FORMAT TEXT) EXECUTE p${i}${args ? `(${args})` : ''}`)).rows.map((r) => r['QUERY PLAN']).join('\n')
        const names = missing.map((f) => String(f.remedies[0].sql).match(/CONCURRENTLY "([^"]+)"/)![1])
        expect(names.some((n) => rows.includes(n)), `${q.sql}\n${rows}`).toBe(true)
      }
      await client.query('ROLLBACK')
    } finally {
      await client.end()
    }
  })
})
