/**
 * The diagnosis on a real database with one missing index: a table bigger than a quarter of shared_buffers, read
 * only by a lookup on an unindexed column. Its seq scans, the costly statement, the cache misses they cause (on the
 * table, and the database-level ones through the working-set finding) and the workload summary are listed under the
 * missing-index cause; an unrelated table's dead tuples stay on their own. A second, well-indexed database whose
 * cache misses are not an index's doing gets one working-set cause for all its hit-rate findings.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {renderReport} from '../../../src/index.js'
import {DocumentSchemas} from '../../../src/core/document-schema.js'
import type {Finding, Report} from '../../../src/core/types.js'
import {adminQuery, auditTarget, connect, forgetLoadWrites, waitForSql, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_diag_missing_index'
const COLD = 'cp_diag_cold_cache'
const url = withDatabase(PRIMARY_URL, DB)
const coldUrl = withDatabase(PRIMARY_URL, COLD)
const PROBES = ['postgres.tables', 'postgres.cache-hit', 'postgres.statements', 'postgres.plans']

async function recreate(db: string): Promise<void> {
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
  await adminQuery(PRIMARY_URL, `CREATE DATABASE ${db}`)
}

describe('diagnosis: one missing index', () => {
  let report: Report
  const only = (rule: string, subject?: string): Finding => {
    const found = report.findings.filter((f) => f.rule === rule && (subject === undefined || f.subject === subject))
    expect(found, `${rule} ${subject ?? ''}: ${report.findings.map((f) => `${f.rule} ${f.subject}`).join('; ')}`).toHaveLength(1)
    return found[0]
  }

  beforeAll(async () => {
    await recreate(DB)
    // orders: ~45 MB, over a quarter of shared_buffers (128 MB in the test env), so every seq scan reads it through a
    // small ring of buffers and keeps missing. events: a small table with dead tuples, never seq-scanned by the app.
    await adminQuery(url, `
      CREATE EXTENSION IF NOT EXISTS hypopg;
      CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE TABLE orders AS SELECT g AS id, g % 5000 AS customer_id, repeat('x', 1000) AS pad FROM generate_series(1, 40000) g;
      CREATE TABLE customers AS SELECT g AS id, 'user' || g || '@example.com' AS email FROM generate_series(1, 20000) g;
      CREATE TABLE events (id int PRIMARY KEY, kind int) WITH (autovacuum_enabled = off);
      INSERT INTO events SELECT g, g % 7 FROM generate_series(1, 30000) g;
      ANALYZE orders; ANALYZE customers; ANALYZE events;`)
    // The load's row writes would make orders read as write-heavy (an index declined for it): forget them.
    await forgetLoadWrites(url)
    await adminQuery(url, 'DELETE FROM events WHERE id % 10 < 6')
    const app = await connect(url, 'cp-diag-app')
    try {
      for (let i = 0; i < 25; i++) await app.query('SELECT id, pad FROM orders WHERE customer_id = $1', [i * 7])
      // A second, cheaper lookup that lacks an index of its own: a second cause, ranked below the first.
      for (let i = 0; i < 25; i++) await app.query('SELECT id FROM customers WHERE email = $1', [`user${i * 13}@example.com`])
    } finally {
      await app.end()
    }
    await waitForSql(url, `SELECT seq_scan >= 25 AND (SELECT n_dead_tup >= 10000 FROM pg_stat_user_tables WHERE relname = 'events') AS ok
      FROM pg_stat_user_tables WHERE relname = 'orders'`)
    ;({report} = await auditTarget(url, {onlyProbes: PROBES, failOn: 'critical'}))
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('lists the seq scans, the costly statement, the cache misses and the workload under the missing index', () => {
    const cause = report.findings.find((f) => f.rule === 'database/missing-index' && /orders customer_id/.test(f.subject))!
    expect(cause, report.findings.map((f) => `${f.rule} ${f.subject}`).join('; ')).toBeDefined()
    expect(cause.causeId).toBeUndefined()
    expect(only('database/seq-scan-heavy-table', 'table public.orders')).toMatchObject({severity: 'critical', causeId: cause.id})
    const costly = report.findings.filter((f) => f.rule === 'database/costly-statement' && /FROM orders WHERE customer_id/.test(String(f.evidence.sql)))
    expect(costly).toHaveLength(1)
    expect(costly[0].causeId).toBe(cause.id)
    expect(only('database/index-workload').causeId).toBe(cause.id)
    expect(only('database/buffer-cache-hit-rate', 'table public.orders')).toMatchObject({severity: 'critical', causeId: cause.id})
    // The database-level misses are the same seq scans: through the working-set finding, under the same cause.
    const workingSet = only('database/working-set-exceeds-cache')
    expect(workingSet.causeId).toBe(cause.id)
    expect(workingSet.evidence.readsByTable).toHaveProperty(['public.orders'])
    const databaseLevel = only('database/buffer-cache-hit-rate', `database ${DB}`)
    expect(databaseLevel.causeId).toBe(workingSet.id)
  })

  it('leaves the unrelated table\'s dead tuples on their own', () => {
    const dead = only('database/dead-tuples', 'table public.events')
    expect(dead.causeId).toBeUndefined()
    expect(report.diagnosis.flatMap((d) => d.explains)).not.toContain(dead.id)
  })

  it('heads the report with the missing index, weighed by its statements\' database time, its index remedy the fix', () => {
    const entry = report.diagnosis[0]
    const cause = report.findings.find((f) => f.id === entry.cause)!
    expect(cause.rule).toBe('database/missing-index')
    expect(entry.remedy).toBe(cause.remedies[0].id)
    expect(cause.remedies[0]).toMatchObject({kind: 'index', table: 'public.orders', columns: ['customer_id']})
    expect(entry.weight.basis).toBe('database-time')
    // Weighed by the statement the index helps, not by every statement the workload summary under it names.
    expect(entry.weight.measuredBy).toMatch(/^pg_stat_statements: 1 statement\(s\) took/)
    // The second missing index ranks below: its statement took less of the database's time.
    const second = report.diagnosis.find((d) => report.findings.find((f) => f.id === d.cause)!.subject === 'public.customers email')!
    expect(second, JSON.stringify(report.diagnosis.map((d) => d.summary))).toBeDefined()
    expect(second.rank).toBeGreaterThan(entry.rank)
    expect(second.share!).toBeLessThan(entry.share!)
    expect(second.weight.measuredBy).toMatch(/^pg_stat_statements: 1 statement\(s\) took/)
    expect(only('database/seq-scan-heavy-table', 'table public.customers').causeId).toBe(second.cause)
    expect(entry.share).toBeGreaterThan(0)
    expect(entry.share).toBeLessThanOrEqual(1)
    // Everything it explains, the working set's own symptoms included, is in its entry.
    const explained = report.findings.filter((f) => f.causeId && entry.explains.includes(f.id))
    expect(explained.map((f) => f.rule).sort()).toEqual(expect.arrayContaining([
      'database/buffer-cache-hit-rate', 'database/costly-statement', 'database/index-workload', 'database/seq-scan-heavy-table', 'database/working-set-exceeds-cache']))
    expect(report.diagnosis.length).toBeLessThanOrEqual(5)
    expect(report.gate.passed).toBe(false)
  })

  it('validates against the report schema; table and markdown put the cause first and its symptoms under it', async () => {
    expect(() => new DocumentSchemas().check('report', JSON.parse(JSON.stringify(report)), 'report.json')).not.toThrow()
    const md = await renderReport(report, 'markdown')
    const rows = md.split('\n').filter((l) => /^\| \d+ \|/.test(l))
    expect(rows[0]).toContain('`database/missing-index`')
    const seq = rows.findIndex((l) => l.includes('`database/seq-scan-heavy-table`'))
    expect(rows[seq]).toContain('↳ `database/seq-scan-heavy-table`')
    // The working set's own symptoms one level deeper.
    expect(rows.find((l) => l.includes(`database ${DB} `) && l.includes('buffer-cache-hit-rate'))).toContain('&nbsp;&nbsp;↳ `database/buffer-cache-hit-rate`')
    expect(rows.find((l) => l.includes('`database/dead-tuples`'))).not.toContain('↳')
    expect(md).toMatch(/### Diagnosis: the chokepoints\n\n1\. 🟠 \*\*`database\/missing-index`\*\* on public\.orders customer_id \(pg\), #1: \*\*\d+\.\d% of database time\*\*/)
    expect(md).toMatch(/Fix: \*\*index\*\*: .* `CREATE INDEX CONCURRENTLY [^`]+ON "public"."orders"/)

    const table = await renderReport(report, 'table', {options: {color: false, verbose: false}})
    expect(table.indexOf('Diagnosis: the chokepoints')).toBeLessThan(table.indexOf('│ 1 '))
    expect(table).toMatch(/│ 1 +│ warning +│ database\/missing-index/)
    expect(table).toMatch(/│ \d+ +│ critical +│ └ database\/seq-scan-heavy-/)
  })
})

describe('diagnosis: a working set larger than shared_buffers on a well-indexed database', () => {
  let report: Report

  beforeAll(async () => {
    await recreate(COLD)
    // Reads by primary key only (no index is missing), over a table larger than a quarter of shared_buffers read
    // whole once (CREATE TABLE AS and a scan through the ring), so the misses are the working set's, not an index's.
    // track_io_timing off for this database: the cost of the misses is not measured, and the report says so.
    await adminQuery(PRIMARY_URL, `ALTER DATABASE ${COLD} SET track_io_timing = off`)
    await adminQuery(coldUrl, `
      CREATE TABLE items (id int PRIMARY KEY, pad text);
      INSERT INTO items SELECT g, repeat('y', 1000) FROM generate_series(1, 40000) g;
      ANALYZE items;`)
    const app = await connect(coldUrl, 'cp-diag-app')
    try {
      await app.query('SELECT count(*) FROM items')
      for (let i = 0; i < 50; i++) await app.query('SELECT pad FROM items WHERE id = $1', [i * 797 + 1])
    } finally {
      await app.end()
    }
    await waitForSql(coldUrl, `SELECT seq_scan >= 1 AS ok FROM pg_stat_user_tables WHERE relname = 'items'`)
    ;({report} = await auditTarget(coldUrl, {onlyProbes: ['postgres.tables', 'postgres.cache-hit'], failOn: 'never'}))
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${COLD} WITH (FORCE)`)
  })

  it('is one diagnosis entry for every low hit rate, at most a warning because track_io_timing is off, saying so', () => {
    const hitRates = report.findings.filter((f) => f.rule === 'database/buffer-cache-hit-rate')
    expect(hitRates.length, report.findings.map((f) => `${f.rule} ${f.subject} ${f.value}`).join('; ')).toBeGreaterThanOrEqual(2)
    const cause = report.findings.find((f) => f.rule === 'database/working-set-exceeds-cache')!
    expect(cause.severity).toBe('warning')
    expect(hitRates.some((f) => f.severity === 'critical')).toBe(true)
    for (const f of hitRates) expect(f.causeId).toBe(cause.id)
    expect(cause.message).toMatch(/track_io_timing is off, so what the misses cost is not measured/)
    expect(cause.remedies.map((r) => (r as {setting?: string}).setting)).toEqual(['shared_buffers', 'track_io_timing'])
    expect(report.diagnosis).toHaveLength(1)
    expect(report.diagnosis[0]).toMatchObject({cause: cause.id, share: null, weight: {basis: 'unmeasured'}})
    expect(report.diagnosis[0].weight.measuredBy).toMatch(/^not measured: track_io_timing is off/)
    expect(report.diagnosis[0].explains.sort()).toEqual(hitRates.map((f) => f.id).sort())
  })
})
