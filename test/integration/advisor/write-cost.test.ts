/**
 * Write costs from what is really written per second. At --window 0 the rates come from pg_stat_statements'
 * writing statements over the same period as the read weights, with one-off bulk statements (a load by INSERT ...
 * SELECT or COPY) left out, never from a table's since-reset counters divided by uptime: a database that was
 * bulk-loaded and is only read since gets its indexes, whatever the server's uptime, and a table written to all
 * the time still declines a marginal index, with both sides of the trade-off in the reason.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Report, Snapshot, Reading} from '../../../src/core/types.js'
import {PgSession} from '../../../src/drivers/postgres.js'
import {runIndexAdvisor} from '../../../src/advisors/index-advisor/advisor.js'
import {adminQuery, auditTarget, connect, readingOf, waitForSql, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_idxw_write_cost'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE events (id bigserial PRIMARY KEY, device_id int NOT NULL, payload text);
CREATE TABLE imports (code int NOT NULL);
CREATE TABLE hot (id bigserial PRIMARY KEY, k int NOT NULL, v text);
`
// The loads: one INSERT ... SELECT and one COPY, each a single call writing the whole table.
const LOADS = [
  `INSERT INTO events (device_id, payload) SELECT g % 2000, 'p' FROM generate_series(1, 200000) g`,
  `COPY imports FROM PROGRAM 'seq 1 100000'`,
  `INSERT INTO hot (k, v) SELECT g % 1000, 'v' FROM generate_series(1, 100000) g`,
  'ANALYZE',
]
// 10 rows per statement: many calls, each a tiny share of the table.
const HOT_CALLS = 1500
const HOT_WRITES = HOT_CALLS * 10

let report: Report
let snapshot: Snapshot

const missingDefs = (findings: Array<{rule: string; remedies: Array<{sql?: unknown}>}>) =>
  findings.filter((f) => f.rule === 'database/missing-index').map((f) => String(f.remedies[0].sql)).sort()

/**
 * The same database seen after `k` times as long a period with nothing more run: every count the same, every
 * per-second rate divided by k (the statements' read weights, the writing statements' period, the tables
 * reading's since-start rates).
 */
function atUptimeTimes(readings: Reading[], k: number): Reading[] {
  return readings.map((r) => {
    const data = structuredClone(r.data) as any
    if (r.probe === 'postgres.plans') {
      for (const s of data.statements) s.weight /= k
      if (data.writes?.seconds) data.writes.seconds *= k
      data.catalog.statsSeconds *= k
      for (const t of Object.values(data.catalog.tables) as any[]) t.writeRate /= k
    }
    if (r.probe === 'postgres.tables') {
      data.rateSeconds *= k
      for (const rates of Object.values(data.writeRates ?? {}) as any[]) for (const key of Object.keys(rates)) rates[key] /= k
    }
    return {...r, data}
  })
}

async function adviseLive(readings: Reading[]) {
  const session = await PgSession.open(url)
  try {
    const target = snapshot.targets[0]
    const out = await runIndexAdvisor({snapshot, target, readings, live: new Map([[target.name, session]]), rules: () => [], options: {}, log: () => {}})
    return out!.findings
  } finally {
    await session.close()
  }
}

describe('index write costs from what is really written', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    for (const sql of LOADS) await adminQuery(url, sql)
    const app = await connect(url, 'cp-idxw-app')
    try {
      // Steady writes on hot: small inserts, run all the time.
      for (let i = 0; i < HOT_CALLS; i++) await app.query(`INSERT INTO hot (k, v) SELECT ($1::int + g) % 1000, 'w' FROM generate_series(1, 10) g`, [i])
      // The reads: events and imports are only read since their load; hot is read once in a while.
      for (let i = 0; i < 40; i++) {
        await app.query('SELECT id, payload FROM events WHERE device_id = $1', [i])
        await app.query('SELECT code FROM imports WHERE code = $1', [i * 7])
      }
      for (let i = 0; i < 4; i++) await app.query('SELECT id, v FROM hot WHERE k = $1', [i])
    } finally {
      await app.end()
    }
    // The loads reached the table counters (what a since-reset rate would be made of).
    await waitForSql(url, `SELECT coalesce(sum(n_tup_ins), 0) >= $1 AS ok FROM pg_stat_user_tables`, [400_000 + HOT_WRITES], 10_000)
    ;({report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.plans', 'postgres.tables'], failOn: 'never'}))
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('reads the writing statements of pg_stat_statements: kind, table, calls and rows, no text', () => {
    const writes = (readingOf(snapshot, 'postgres.plans').data as any).writes
    expect(writes.basis).toBe('since pg_stat_statements_info.stats_reset')
    expect(writes.seconds).toBeGreaterThan(0)
    const of = (name: string, kind: string) => writes.statements.filter((w: any) => w.name === name && w.kind === kind)
    expect(of('events', 'insert')).toEqual([expect.objectContaining({calls: 1, rows: 200_000})])
    expect(of('imports', 'copy')).toEqual([expect.objectContaining({calls: 1, rows: 100_000})])
    expect(of('hot', 'insert')).toEqual(expect.arrayContaining([expect.objectContaining({calls: HOT_CALLS, rows: HOT_WRITES})]))
    expect(writes.statements.every((w: any) => w.sql === undefined && w.query === undefined)).toBe(true)
  })

  it('at --window 0 proposes the indexes of a bulk-loaded, read-only table: the loads are left out, not spread over uptime', () => {
    const defs = missingDefs(report.findings)
    expect(defs).toEqual(expect.arrayContaining([
      expect.stringMatching(/ON "public"."events" USING btree \("device_id"/),
      expect.stringMatching(/ON "public"."imports" USING btree \("code"/),
    ]))
    const events = report.findings.find((f) => f.rule === 'database/missing-index' && /"events"/.test(String(f.remedies[0].sql)))!
    const rate = events.evidence.writeRate as any
    expect(rate.basis).toBe('statements')
    expect(rate.rowsPerSecond).toBe(0)
    expect(rate.bulkLeftOut).toEqual([expect.objectContaining({kind: 'insert', calls: 1, rows: 200_000})])
    const imports = report.findings.find((f) => f.rule === 'database/missing-index' && /"imports"/.test(String(f.remedies[0].sql)))!
    expect((imports.evidence.writeRate as any).bulkLeftOut).toEqual([expect.objectContaining({kind: 'copy', rows: 100_000})])
  })

  it('gives the same verdict at two uptimes (the same counts over a 50 times longer period)', async () => {
    const now = missingDefs(await adviseLive(snapshot.readings))
    const later = missingDefs(await adviseLive(atUptimeTimes(snapshot.readings, 50)))
    expect(now.length).toBeGreaterThanOrEqual(2)
    expect(later).toEqual(now)
  })

  it('still declines a marginal index on a table written to all the time, with both sides of the trade-off', () => {
    expect(missingDefs(report.findings).filter((d) => /"hot"/.test(d))).toEqual([])
    const f = report.findings.find((x) => x.rule === 'database/costly-statement' && /FROM hot WHERE k/.test(String(x.evidence.sql)))!
    expect(f.evidence.reason).toBe('write-heavy')
    const m = /read gain ([\d,.]+) vs index maintenance ([\d,.]+) cost units\/s \(about ([\d,.]+) vs ([\d,.]+) ms\/s; ([\d,.]+) row writes\/s x ([\d.]+) per row, from pg_stat_statements\)/.exec(f.message)
    expect(m, f.message).not.toBeNull()
    const n = (s: string) => Number(s.replace(/,/g, ''))
    expect(n(m![2])).toBeGreaterThan(n(m![1]))
    expect(n(m![1])).toBeGreaterThan(0)
    expect(n(m![5])).toBeGreaterThan(0)
  })
})
