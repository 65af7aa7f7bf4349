/**
 * The write penalty: a marginal index on a table with many row writes is declined ("write-heavy"), with both
 * sides of the trade-off in the reason. In a window the rates are the postgres.tables reading's window deltas; at
 * window 0 they come from pg_stat_statements' writing statements, where a one-off bulk statement (a load, a purge)
 * is left out rather than spread over the statistics' lifetime (write-cost.test.ts has the bulk-loaded database).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Report} from '../../../src/core/types.js'
import {adminQuery, auditTarget, connect, readingOf, waitForSql, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_advfu_writes'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE events (id bigserial PRIMARY KEY, device_id int NOT NULL, payload text);
INSERT INTO events (device_id, payload) SELECT g % 2000, 'p' FROM generate_series(1, 100000) g;
ANALYZE;
`
const READ = 'SELECT * FROM events WHERE device_id = $1'

async function inserted(): Promise<number> {
  const [row] = await adminQuery(url, `SELECT coalesce(sum(n_tup_ins), 0)::float8 AS n FROM pg_stat_user_tables WHERE relname = 'events'`)
  return Number(row.n)
}

const audit = (weight: number, windowSeconds = 0) => auditTarget(url, {
  onlyProbes: ['postgres.plans', 'postgres.tables'], failOn: 'never', windowSeconds, options: {indexAdvisor: {queries: [{sql: READ, weight}]}},
})

/** An audit with a window during which a writer inserts and deletes rows of events without pause. */
async function auditWhileWriting(weight: number) {
  const writer = await connect(url, 'cp-advfu-writer')
  let stop = false
  const before = await inserted()
  const loop = (async () => {
    while (!stop) {
      await writer.query(`INSERT INTO events (device_id, payload) SELECT 5000 + g % 10, 'x' FROM generate_series(1, 200) g`)
      await writer.query('DELETE FROM events WHERE device_id >= 5000')
    }
  })()
  try {
    // The writer's counters reach the shared statistics (about once a second) before the window opens.
    await waitForSql(url, `SELECT coalesce(sum(n_tup_ins), 0) > $1 AS ok FROM pg_stat_user_tables WHERE relname = 'events'`, [before], 10_000)
    return await audit(weight, 3)
  } finally {
    stop = true
    await loop
    await writer.end()
  }
}

function statementFinding(report: Report) {
  return report.findings.find((f) => f.rule === 'database/costly-statement')!
}

describe('write penalty of the index advisor', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    // A one-off purge cycle: 50k rows inserted and deleted again, by one statement each.
    await adminQuery(url, `INSERT INTO events (device_id, payload) SELECT 5000 + g % 10, 'x' FROM generate_series(1, 50000) g; DELETE FROM events WHERE device_id >= 5000`)
  }, 120_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  // First: the writer of the window tests below is steady writing, which pg_stat_statements then counts.
  it('at window 0, leaves the one-off load and purge out of the write rate instead of dividing them by uptime', async () => {
    const {report} = await audit(1)
    const missing = report.findings.filter((f) => f.rule === 'database/missing-index')
    expect(missing).toHaveLength(1)
    const rate = missing[0].evidence.writeRate as any
    expect(rate.basis).toBe('statements')
    expect(rate.rowsPerSecond).toBe(0)
    expect(rate.bulkLeftOut.map((b: any) => b.kind).sort()).toEqual(['delete', 'insert', 'insert'])
  })

  it('declines a marginal index on a table written to during the window, with the trade-off in the reason', async () => {
    const {report, snapshot} = await auditWhileWriting(0.1)
    const data = readingOf(snapshot, 'postgres.tables').data as any
    expect(data.rateBasis).toBe('window')
    const rates = data.writeRates['public.events']
    expect(Object.keys(rates).sort()).toEqual(['deletesPerSecond', 'insertsPerSecond', 'updatesPerSecond'])
    expect(rates.insertsPerSecond + rates.deletesPerSecond).toBeGreaterThan(200)
    expect(report.findings.filter((f) => f.rule === 'database/missing-index')).toEqual([])
    const f = statementFinding(report)
    expect(f.evidence.reason).toBe('write-heavy')
    expect(f.message).toMatch(/write-heavy table public.events: index cost outweighs the read gain: read gain [\d,.]+ vs index maintenance [\d,.]+ cost units\/s .* over the window\)/)
    const workload = report.findings.find((x) => x.rule === 'database/index-workload')!
    const rejected = workload.evidence.rejected as Array<{reason: string; benefit: number; writePenalty: number}>
    expect(rejected.some((r) => r.reason === 'write-heavy' && r.writePenalty > r.benefit && r.benefit > 0)).toBe(true)
  }, 60_000)

  it('still proposes the index when reads outweigh the same writes', async () => {
    const {report} = await auditWhileWriting(100_000)
    const missing = report.findings.filter((f) => f.rule === 'database/missing-index')
    expect(missing.map((f) => String(f.remedies[0].sql))).toContain('CREATE INDEX CONCURRENTLY "events_device_id_idx" ON "public"."events" USING btree ("device_id")')
    expect(statementFinding(report).evidence.reason).toBe('improved')
    expect(missing[0].evidence.writePenalty).toBeGreaterThan(0)
    expect((missing[0].evidence.writeRate as any).basis).toBe('window')
  }, 60_000)

  it('with a window, only the window\'s writes count: none in the window, no penalty despite the writes since the reset', async () => {
    const {report, snapshot} = await audit(1, 1)
    const data = readingOf(snapshot, 'postgres.tables').data as any
    expect(data.rateBasis).toBe('window')
    expect(data.writeRates['public.events']).toBeUndefined()
    const missing = report.findings.filter((f) => f.rule === 'database/missing-index')
    expect(missing).toHaveLength(1)
    expect(missing[0].evidence.writeRatePerSecond).toBe(0)
    expect(statementFinding(report).evidence.reason).toBe('improved')
  })

})
