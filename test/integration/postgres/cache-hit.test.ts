import {describe, expect, it} from 'vitest'
import {compileRule, loadRules} from '../../../src/core/rules.js'
import {evaluateMetric} from '../../../src/core/engine.js'
import type {ProbeContext} from '../../../src/core/probe.js'
import {PgSession} from '../../../src/drivers/postgres.js'
import {cacheHitProbe, hitRatio} from '../../../src/probes/postgres/cache-hit.js'
import {adminQuery, auditTarget, connect, readingOf, waitForSql, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_cache_hit'

function ctx(windowSeconds: number): ProbeContext {
  return {target: {name: 'pg', kind: 'postgres', url: ''}, windowSeconds, options: {}, log: () => {}}
}

/** Runs statements on a connection of its own, then closes it: a backend flushes its I/O statistics on exit. */
async function runAndFlush(url: string, statements: string[], visible: string): Promise<void> {
  const client = await connect(url, 'cp-test-cache-load')
  for (const sql of statements) await client.query(sql)
  await client.end()
  await waitForSql(url, `SELECT (${visible}) AS ok`)
}

type Level = {subject: string; ratio: number | null; hits: number; reads: number; blocks: number; sampleTooSmall: boolean}

describe('postgres.cache-hit', () => {
  it('computes hits / (hits + reads), and no ratio for no blocks', () => {
    expect(hitRatio(99, 1)).toBe(0.99)
    expect(hitRatio(0, 10)).toBe(0)
    expect(hitRatio(0, 0)).toBeNull()
  })

  it('over a window, differences the counters: a table bigger than shared_buffers/4 scanned sequentially misses; one in memory hits', async () => {
    await withTempDatabase(DB, async (url) => {
      // CREATE TABLE AS writes through a small ring of buffers, so most of the big table is not left in shared_buffers;
      // it is over a quarter of shared_buffers (128MB in the test env), so seq scans read it through a 256kB ring
      // too and keep missing: a real, repeatable low hit rate.
      await runAndFlush(url, [
        `CREATE TABLE big_scanned AS SELECT g AS id, repeat('x', 1000) AS pad FROM generate_series(1, 40000) g`,
        'CREATE TABLE small_hot (id int PRIMARY KEY, v int)',
        'INSERT INTO small_hot SELECT g, g FROM generate_series(1, 2000) g',
        'VACUUM ANALYZE big_scanned, small_hot',
      ], `SELECT count(*) = 2 FROM pg_stat_user_tables WHERE relname IN ('big_scanned', 'small_hot') AND last_vacuum IS NOT NULL`)
      const [{pages}] = await adminQuery(url, `SELECT relpages AS pages FROM pg_class WHERE relname = 'big_scanned'`)
      expect(pages * 8192).toBeGreaterThan(128 * 1024 * 1024 / 4)

      const session = await PgSession.open(url)
      try {
        const base = await cacheHitProbe.baseline!(session, ctx(10))
        await runAndFlush(url, [
          'SELECT count(*) FROM big_scanned', 'SELECT count(*) FROM big_scanned', 'SELECT count(*) FROM big_scanned',
          'SELECT sum(v) FROM small_hot', 'SELECT sum(v) FROM small_hot', 'SELECT sum(v) FROM small_hot',
        ], `SELECT seq_scan >= 3 FROM pg_stat_user_tables WHERE relname = 'small_hot'`)
        const trips = session.log.roundTrips
        const out = await cacheHitProbe.collect(session, ctx(10), base)
        expect(session.log.roundTrips - trips).toBe(1)
        const data = out.data as {basis: string; levels: Level[]; worstTables: Level[]}
        expect(data.basis).toBe('window')

        // The three scans of big_scanned: every page of it three times, hit or read, and mostly read.
        const big = data.worstTables.find((t) => t.subject === 'table public.big_scanned')!
        expect(big.blocks).toBe(3 * pages)
        expect(big.ratio!).toBeLessThan(0.95)
        // small_hot was all in shared_buffers: no misses, so it is not among the worst tables.
        expect(data.worstTables.some((t) => t.subject === 'table public.small_hot')).toBe(false)
        // Only the scans in the window count: the table totals are exactly what the loads above touched.
        const tables = data.levels.find((l) => l.subject === 'tables')!
        expect(tables.hits + tables.reads).toBeGreaterThanOrEqual(3 * pages)
        expect(tables.hits + tables.reads).toBeLessThan(3 * pages + 100)
        // No index was used in the window: a sample of nothing is recorded but yields no metric.
        const indexes = data.levels.find((l) => l.subject === 'indexes')!
        expect(indexes.sampleTooSmall).toBe(true)
        expect(out.metrics.some((m) => m.subject === 'indexes')).toBe(false)

        const metric = out.metrics.find((m) => m.subject === 'table public.big_scanned')!
        expect(metric.name).toBe('db.cache.hit_ratio')
        expect(metric.evidence).toMatchObject({basis: 'window', windowSeconds: 10, blocks: 3 * pages})
        const rule = compileRule(loadRules().find((r) => r.id === 'database/buffer-cache-hit-rate')!, {})
        expect(evaluateMetric(rule, 'pg', metric)?.severity).toBe('critical')
      } finally {
        await session.close()
      }
    })
  })

  it('with window 0, reports values since the stats reset (stats_reset in evidence) and fires on the big scanned table', async () => {
    await withTempDatabase(DB, async (url) => {
      await runAndFlush(url, [
        `CREATE TABLE big_scanned AS SELECT g AS id, repeat('x', 1000) AS pad FROM generate_series(1, 40000) g`,
        'SELECT count(*) FROM big_scanned', 'SELECT count(*) FROM big_scanned',
      ], `SELECT seq_scan >= 2 FROM pg_stat_user_tables WHERE relname = 'big_scanned'`)
      const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.cache-hit']})
      const reading = readingOf(snapshot, 'postgres.cache-hit')
      expect(reading.status).toBe('ok')
      expect(reading.windowSeconds).toBe(0)
      const [{statsReset}] = await adminQuery(url, 'SELECT stats_reset AS "statsReset" FROM pg_stat_database WHERE datname = current_database()')
      const data = reading.data as {basis: string; statsReset: string | null; levels: Level[]}
      expect(data.basis).toBe('since stats reset')
      expect(data.statsReset).toBe(statsReset ? new Date(statsReset).toISOString() : null)
      const metric = reading.metrics.find((m) => m.subject === 'table public.big_scanned')!
      expect(metric.evidence).toHaveProperty('statsReset', data.statsReset)
      expect(metric.evidence).toMatchObject({basis: 'since stats reset', windowSeconds: 0})
      expect(data.levels.find((l) => l.subject === `database ${DB}`)!.blocks).toBeGreaterThan(0)
      const finding = report.findings.find((f) => f.rule === 'database/buffer-cache-hit-rate' && f.subject === 'table public.big_scanned')
      expect(finding?.severity).toBe('critical')
    })
  })
})
