/**
 * The write penalty: a marginal index on a table with many row writes is declined ("write-heavy"), from the
 * postgres.tables reading's writeRates (window 0: since this database's stats reset; window > 0: over the window).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Report} from '../../../src/core/types.js'
import {adminQuery, auditTarget, readingOf, waitForSql, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_advfu_writes'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE TABLE events (id bigserial PRIMARY KEY, device_id int NOT NULL, payload text);
INSERT INTO events (device_id, payload) SELECT g % 2000, 'p' FROM generate_series(1, 100000) g;
ANALYZE;
`
const READ = 'SELECT * FROM events WHERE device_id = $1'

async function waitForInserts(min: number): Promise<void> {
  await waitForSql(url, `SELECT coalesce(sum(n_tup_ins + n_tup_del), 0) >= $1 AS ok FROM pg_stat_user_tables WHERE relname = 'events'`, [min], 10_000)
}

const audit = (weight: number, windowSeconds = 0) => auditTarget(url, {
  onlyProbes: ['postgres.plans', 'postgres.tables'], failOn: 'never', windowSeconds, options: {indexAdvisor: {queries: [{sql: READ, weight}]}},
})

function statementFinding(report: Report) {
  return report.findings.find((f) => f.rule === 'database/costly-statement')!
}

describe('write penalty of the index advisor', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    await waitForInserts(100_000)
    await adminQuery(url, 'SELECT pg_stat_reset()')
    // 100k row writes since the reset, a few seconds ago: thousands of writes per second.
    await adminQuery(url, `INSERT INTO events (device_id, payload) SELECT 5000 + g % 10, 'x' FROM generate_series(1, 50000) g; DELETE FROM events WHERE device_id >= 5000`)
    await waitForInserts(100_000)
  }, 120_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('declines a marginal index on a write-heavy table, from the tables reading\'s writeRates', async () => {
    const {report, snapshot} = await audit(1)
    const rates = (readingOf(snapshot, 'postgres.tables').data as any).writeRates
    expect(Object.keys(rates['public.events']).sort()).toEqual(['deletesPerSecond', 'insertsPerSecond', 'updatesPerSecond'])
    const perSecond = rates['public.events'].insertsPerSecond + rates['public.events'].deletesPerSecond
    expect(perSecond).toBeGreaterThan(500)
    expect(report.findings.filter((f) => f.rule === 'database/missing-index')).toEqual([])
    const f = statementFinding(report)
    expect(f.evidence.reason).toBe('write-heavy')
    expect(f.message).toMatch(/write-heavy table public.events: index cost outweighs the read gain/)
    const workload = report.findings.find((x) => x.rule === 'database/index-workload')!
    const rejected = workload.evidence.rejected as Array<{reason: string; benefit: number; writePenalty: number}>
    expect(rejected.some((r) => r.reason === 'write-heavy' && r.writePenalty > r.benefit && r.benefit > 0)).toBe(true)
  })

  it('still proposes the index when reads outweigh the same writes', async () => {
    const {report} = await audit(100_000)
    const missing = report.findings.filter((f) => f.rule === 'database/missing-index')
    expect(missing.map((f) => String(f.remedies[0].sql))).toContain('CREATE INDEX CONCURRENTLY "events_device_id_idx" ON "public"."events" USING btree ("device_id")')
    expect(statementFinding(report).evidence.reason).toBe('improved')
    expect(missing[0].evidence.writePenalty).toBeGreaterThan(0)
  })

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
