import {describe, expect, it} from 'vitest'
import type {ProbeContext} from '../../../src/core/probe.js'
import {PgSession} from '../../../src/drivers/postgres.js'
import {tablesProbe} from '../../../src/probes/postgres/tables.js'
import {auditTarget, connect, readingOf, waitForSql, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_tables'

/**
 * Runs `work` on its own connection and closes it: a backend flushes its table statistics when it exits, and
 * we then wait until pg_stat_user_tables shows them (the flush is asynchronous to the client's end()).
 */
async function runAndFlush(url: string, work: (q: (sql: string, params?: unknown[]) => Promise<unknown>) => Promise<void>,
  visible: string): Promise<void> {
  const client = await connect(url, 'cp-test-tables-load')
  await work((sql, params) => client.query(sql, params as unknown[]))
  await client.end()
  await waitForSql(url, `SELECT (${visible}) AS ok`)
}

function ctx(windowSeconds: number): ProbeContext {
  return {target: {name: 'pg', kind: 'postgres', url: ''}, windowSeconds, options: {}, log: () => {}}
}

describe('postgres.tables', () => {
  it('fires seq-scan-heavy-table on a big table filtered on an unindexed column, stays quiet on one read by primary key, and fires dead-tuples', async () => {
    await withTempDatabase(DB, async (url) => {
      await runAndFlush(url, async (q) => {
        await q(`CREATE TABLE scanned (id int PRIMARY KEY, customer int, note text)`)
        await q(`INSERT INTO scanned SELECT g, g % 500, 'row ' || g FROM generate_series(1, 20000) g`)
        await q(`CREATE TABLE by_key (id int PRIMARY KEY, customer int, note text)`)
        await q(`INSERT INTO by_key SELECT g, g % 500, 'row ' || g FROM generate_series(1, 20000) g`)
        // Autovacuum off so the dead tuples stay until the probe has seen them.
        await q(`CREATE TABLE churn (id int PRIMARY KEY, counter int) WITH (autovacuum_enabled = false)`)
        await q(`INSERT INTO churn SELECT g, 0 FROM generate_series(1, 20000) g`)
        await q('ANALYZE scanned, by_key, churn')
        for (let i = 0; i < 30; i++) {
          await q('SELECT count(*) FROM scanned WHERE customer = $1', [i])
          await q('SELECT note FROM by_key WHERE id = $1', [i + 1])
        }
        await q('UPDATE churn SET counter = counter + 1')
      }, `SELECT (SELECT seq_scan >= 30 FROM pg_stat_user_tables WHERE relname = 'scanned')
             AND (SELECT idx_scan >= 30 FROM pg_stat_user_tables WHERE relname = 'by_key')
             AND (SELECT n_dead_tup >= 20000 FROM pg_stat_user_tables WHERE relname = 'churn')`)

      const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.tables']})
      const reading = readingOf(snapshot, 'postgres.tables')
      expect(reading.status).toBe('ok')

      const seqShare = reading.metrics.find((m) => m.name === 'db.table.seq_scan_share' && m.subject === 'table public.scanned')!
      expect(seqShare.value).toBeGreaterThan(0.9)
      expect(seqShare.evidence).toMatchObject({rows: 20000, analyzed: true, idxScan: 0})
      expect((seqShare.evidence as Record<string, number>).seqTupRead).toBeGreaterThanOrEqual(30 * 20000)
      const seqFinding = report.findings.find((f) => f.rule === 'database/seq-scan-heavy-table' && f.subject === 'table public.scanned')
      expect(seqFinding?.severity).toBe('critical')
      expect(seqFinding!.message).toMatch(/20000 rows/)
      expect(report.findings.some((f) => f.rule === 'database/seq-scan-heavy-table' && f.subject === 'table public.by_key')).toBe(false)

      const dead = reading.metrics.find((m) => m.name === 'postgres.table.dead_tuple_ratio' && m.subject === 'table public.churn')!
      expect(dead.value).toBeGreaterThan(0.2)
      expect(dead.evidence).toMatchObject({deadTuples: 20000, autovacuumEnabled: false, lastAutovacuum: 'never'})
      const deadFinding = report.findings.find((f) => f.rule === 'database/dead-tuples' && f.subject === 'table public.churn')
      expect(deadFinding?.severity).toBe('critical')
      expect(deadFinding!.remedies.some((r) => r.sql === 'ALTER TABLE "public"."churn" RESET (autovacuum_enabled)')).toBe(true)
      expect(report.findings.some((f) => f.rule === 'database/dead-tuples' && f.subject !== 'table public.churn')).toBe(false)

      const data = reading.data as Record<string, any>
      expect(data.topBySeqTupRead[0].table).toBe('public.scanned')
      expect(data.totals.tables).toBe(3)
      // Write rates since the stats reset (or server start): churn had 20000 inserts and 20000 updates.
      const churn = data.topByWrites.find((w: {table: string}) => w.table === 'public.churn')
      expect(churn).toMatchObject({inserts: 20000, updates: 20000, deletes: 0})
      expect(churn.writesPerSecond).toBeGreaterThan(0)
      expect(data.writeRates['public.churn']).toEqual({insertsPerSecond: churn.insertsPerSecond, updatesPerSecond: churn.updatesPerSecond, deletesPerSecond: 0})
      expect(['since stats reset', 'since server start']).toContain(data.rateBasis)
    })
  })

  it('computes write rates over the window from a baseline, in one round trip per read', async () => {
    await withTempDatabase(DB, async (url) => {
      await runAndFlush(url, async (q) => {
        await q('CREATE TABLE quiet_table (id int PRIMARY KEY)')
        await q('INSERT INTO quiet_table SELECT generate_series(1, 500)')
        await q('CREATE TABLE busy_table (id int PRIMARY KEY, v int)')
        await q('INSERT INTO busy_table SELECT g, 0 FROM generate_series(1, 1000) g')
      }, `SELECT (SELECT n_tup_ins = 1000 FROM pg_stat_user_tables WHERE relname = 'busy_table')
             AND (SELECT n_tup_ins = 500 FROM pg_stat_user_tables WHERE relname = 'quiet_table')`)
      const session = await PgSession.open(url)
      try {
        const base = await tablesProbe.baseline!(session, ctx(10))
        await runAndFlush(url, async (q) => {
          await q('INSERT INTO busy_table SELECT g, 0 FROM generate_series(1001, 1400) g')
          await q('UPDATE busy_table SET v = 1 WHERE id <= 100')
          await q('DELETE FROM busy_table WHERE id > 1300')
          await q('CREATE TABLE "Mixed Case" (id int)')
          await q('INSERT INTO "Mixed Case" VALUES (1), (2)')
        }, `SELECT n_tup_del = 100 FROM pg_stat_user_tables WHERE relname = 'busy_table'`)
        const tripsBefore = session.log.roundTrips
        // The capture passes the measured window; 10 s here makes the expected rates exact.
        const out = await tablesProbe.collect(session, ctx(10), base)
        expect(session.log.roundTrips - tripsBefore).toBe(1)
        const data = out.data as Record<string, any>
        expect(data.rateBasis).toBe('window')
        expect(data.topByWrites[0]).toMatchObject({table: 'public.busy_table', inserts: 400, updates: 100, deletes: 100, writesPerSecond: 60})
        // Per-second rates only, so that their sum is the write rate the index advisor charges indexes for.
        expect(data.writeRates['public.busy_table']).toEqual({insertsPerSecond: 40, updatesPerSecond: 10, deletesPerSecond: 10})
        // Written before the window only: no writes in it, so not listed.
        expect(data.writeRates['public.quiet_table']).toBeUndefined()
        // Keys are unquoted schema.table (the index advisor's catalog names); lists carry the quoted name for SQL.
        expect(data.writeRates['public.Mixed Case']).toEqual({insertsPerSecond: 0.2, updatesPerSecond: 0, deletesPerSecond: 0})
        expect(data.topByWrites.some((w: {table: string}) => w.table === 'public."Mixed Case"')).toBe(true)
      } finally {
        await session.close()
      }
    })
  })
})
