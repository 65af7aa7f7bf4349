/**
 * The cache-aside advisor on real workloads driven by pg client loops during an audit window: a hot read over a
 * table nothing writes is proposed (key, TTL, hit rate, memory, strategy), a hot read over a table written without
 * pause is declined with the reason, and a database whose reads are light stays quiet.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {remedyOfKind} from '../../../src/core/remedies.js'
import {runAudit} from '../../../src/index.js'
import type {Finding, Report} from '../../../src/core/types.js'
import {schemaOracle} from '../../helpers/fuzz.js'
import {adminQuery, auditTarget, connect, waitForSql, withTempDatabase, PRIMARY_URL} from '../../helpers/pg.js'
import type pg from 'pg'

const RULE = 'database/cache-aside-candidate'

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE items (id int PRIMARY KEY, category int NOT NULL, price numeric NOT NULL, name text NOT NULL);
INSERT INTO items SELECT g, g % 50, g % 997, 'item ' || g FROM generate_series(1, 60000) g;
CREATE TABLE jobs (id int PRIMARY KEY, status text NOT NULL, touched int NOT NULL DEFAULT 0);
INSERT INTO jobs SELECT g, (ARRAY['queued','running','done'])[1 + g % 3] FROM generate_series(1, 20000) g;
ANALYZE;
`
// Per category (50 of them): a sequential scan of 60k rows a call, over a table nothing writes in the window.
const CATALOG_READ = 'SELECT category, count(*), avg(price) FROM items WHERE category = $1 GROUP BY category'
// An aggregate over all of jobs, which a writer updates without pause: any write changes the result.
const STATUS_READ = 'SELECT status, count(*) FROM jobs GROUP BY status'
const JOB_WRITE = 'UPDATE jobs SET touched = touched + 1 WHERE id = $1'
// A range parameter: nearly every call asks for a different result, so no key repeats.
const RANGE_READ = 'SELECT count(*) FROM items WHERE price > $1'

/** Client loops running while `during` runs; each loop's calls are counted. */
async function withLoops<T>(url: string, loops: Array<(c: pg.Client, i: number) => Promise<unknown>>, during: () => Promise<T>): Promise<{result: T; calls: number[]}> {
  const clients = await Promise.all(loops.map((_, i) => connect(url, `cp-cache-aside-${i}`)))
  let stop = false
  const calls = loops.map(() => 0)
  const running = loops.map(async (loop, i) => {
    while (!stop) {
      await loop(clients[i], calls[i])
      calls[i]++
    }
  })
  try {
    return {result: await during(), calls}
  } finally {
    stop = true
    await Promise.all(running)
    await Promise.all(clients.map((c) => c.end()))
  }
}

const cacheFindings = (r: Report) => r.findings.filter((f) => f.rule === RULE)
const bySql = (r: Report, sql: string): Finding | undefined => cacheFindings(r).find((f) => f.evidence.query === sql)
const audit = (url: string) => auditTarget(url, {onlyProbes: ['postgres.statements', 'postgres.plans', 'postgres.tables'], windowSeconds: 3, failOn: 'never'})

describe('cache-aside advisor', () => {
  let report: Report

  beforeAll(async () => {
    await withTempDatabase('cp_cache_aside_hot', async (url) => {
      await adminQuery(url, SCHEMA)
      // The loops' statements are in pg_stat_statements (and so in the plans probe's catalog) before the window opens.
      const {result} = await withLoops(url, [
        (c, i) => c.query(CATALOG_READ, [i % 50]),
        (c) => c.query(STATUS_READ),
        (c, i) => c.query(JOB_WRITE, [1 + (i * 7919) % 20000]),
        (c, i) => c.query(RANGE_READ, [(i * 37) % 997]),
      ], async () => {
        await waitForSql(url, `SELECT coalesce(sum(n_tup_upd), 0) > 0 AS ok FROM pg_stat_user_tables WHERE relname = 'jobs'`, [], 10_000)
        return audit(url)
      })
      report = result.report
    })
  }, 120_000)

  it('proposes the hot read over the unwritten table, with key, TTL, hit rate, memory and strategy', () => {
    const f = bySql(report, CATALOG_READ)
    expect(f, JSON.stringify(cacheFindings(report).map((x) => x.message))).toBeDefined()
    expect(f!.evidence.declined).toBeUndefined()
    const remedy = remedyOfKind(f!.remedies, 'cache-aside')!
    expect(remedy.statement).toBe(f!.evidence.queryid)
    expect(remedy.query).toBe(CATALOG_READ)
    expect(remedy.tables).toEqual(['public.items'])
    expect(remedy.keyPattern).toBe('items:category:{$1}')
    // Nothing wrote items in the window: λ is 0 and the TTL is the cap.
    expect(f!.evidence.changesPerSecond).toBe(0)
    expect(remedy.ttlSeconds).toBe(86_400)
    expect(remedy.stalenessBudget).toBe(0.01)
    // 50 categories (pg_stats n_distinct) each read many times a second: nearly every read hits.
    expect(f!.evidence.distinctKeys).toBe(50)
    expect(remedy.expectedHitRate).toBeGreaterThan(0.99)
    // 50 keys alive of one small row each (+ key overhead), well under a few KB.
    expect(remedy.memoryBytes).toBeGreaterThan(50 * 64)
    expect(remedy.memoryBytes).toBeLessThan(50 * 400)
    expect(remedy.strategy).toBe('cache-aside')
    expect(remedy.strategyWhy).toMatch(/TTL/)
    expect(remedy.formula).toMatch(/t = 2s\/λ/)
    expect(f!.value).toBeGreaterThan(0.05)
    expect(f!.evidence.scaling).toMatchObject({path: 'cache-centric', share: expect.any(Number)})
    expect((f!.evidence.scaling as {share: number}).share).toBeGreaterThanOrEqual(f!.value as number)
    // The hot read scans 60k rows for 1,200: an index on category removes most of its time, and comes first.
    expect(report.verdict?.path, JSON.stringify(report.verdict?.considered)).toBe('indexes')
    expect(report.verdict?.considered.map((c) => c.path)).toContain('cache-centric')
  })

  it('declines the hot read over the heavily written table, with the reason', () => {
    const f = bySql(report, STATUS_READ)
    expect(f, JSON.stringify(cacheFindings(report).map((x) => x.message))).toBeDefined()
    expect(f!.severity).toBe('info')
    expect(f!.remedies).toEqual([])
    expect(f!.evidence.declined).toMatchObject({code: 'write-heavy'})
    const reason = (f!.evidence.declined as {reason: string}).reason
    expect(reason).toMatch(/public\.jobs takes [\d,.]+ row writes\/s and any of them changes the result/)
    expect(reason).toMatch(/under the 1 s floor/)
    expect(f!.message).toContain('not a cache candidate (write-heavy)')
    expect(f!.evidence.ttlNeededSeconds as number).toBeLessThan(1)
    expect(f!.evidence.scaling).toMatchObject({path: 'cache-centric'})
  })

  it('declines a hot read whose parameter selects a range: it has no key that repeats', () => {
    const f = bySql(report, RANGE_READ)
    expect(f, JSON.stringify(cacheFindings(report).map((x) => x.message))).toBeDefined()
    expect(f!.remedies).toEqual([])
    expect(f!.evidence.declined).toMatchObject({code: 'unkeyable', reason: expect.stringMatching(/^it filters by price > \$1: /)})
  })

  it('writes remedies the report schema accepts, and the schema checks their fields', () => {
    const oracle = schemaOracle()
    const doc = JSON.parse(JSON.stringify(report))
    expect(oracle.report(doc)).toBe(true)
    const remedy = doc.findings.find((f: Finding) => f.rule === RULE && f.remedies.length).remedies[0]
    remedy.strategy = 'write-behind'
    expect(oracle.report(doc)).toBe(false)
  })

  it('leaves writing statements out', () => {
    expect(bySql(report, JOB_WRITE)).toBeUndefined()
    expect(cacheFindings(report)).toHaveLength(3)
  })

  it('derives the TTL from the write rate per key, and proposes write-through where the application writes the table', async () => {
    await withTempDatabase('cp_cache_aside_keyed', async (url) => {
      await adminQuery(url, `
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
        CREATE TABLE members (id int PRIMARY KEY, team_id int NOT NULL, name text NOT NULL, score int NOT NULL DEFAULT 0);
        INSERT INTO members SELECT g, g % 200, 'member ' || g FROM generate_series(1, 40000) g;
        ANALYZE members;`)
      // The page size is a parameter too, as ORMs send it: it joins the key.
      const TEAM_READ = 'SELECT id, name FROM members WHERE team_id = $1 ORDER BY id LIMIT $2'
      const {result} = await withLoops(url, [
        (c, i) => c.query(TEAM_READ, [i % 200, 500]),
        // A few writes a second by the application's own statement: each team's rows change about every 50 s.
        async (c, i) => {
          await c.query('UPDATE members SET score = score + 1 WHERE id = $1', [1 + (i * 7919) % 40000])
          await new Promise((r) => setTimeout(r, 250))
        },
      ], async () => {
        await waitForSql(url, `SELECT coalesce(sum(n_tup_upd), 0) > 0 AS ok FROM pg_stat_user_tables WHERE relname = 'members'`, [], 10_000)
        const skipProbes = (await import('../../../src/probes/postgres/index.js')).postgresProbes.map((p) => p.id)
          .filter((id) => !['postgres.statements', 'postgres.plans', 'postgres.tables'].includes(id))
        // A looser staleness budget than the rule file's 1% (a dashboard that may lag), set as a rule heuristic override.
        return runAudit({
          config: {skipProbes, rules: {[RULE]: {heuristic: {stalenessBudget: 0.1}}}},
          targets: [{name: 'pg', kind: 'postgres', url, options: {}}, {name: 'cache', kind: 'redis', url: 'redis://127.0.0.1:6379/15', options: {scanPauseMs: 0}}],
          windowSeconds: 3, failOn: 'never',
        })
      })
      const f = bySql(result.report, TEAM_READ)
      expect(f, JSON.stringify(cacheFindings(result.report).map((x) => x.message))).toBeDefined()
      const remedy = remedyOfKind(f!.remedies, 'cache-aside')!
      expect(remedy.keyPattern).toBe('members:team_id:{$1}:{$2}')
      expect(f!.evidence.distinctKeys).toBe(200)
      // λ of one team's result: the table's row writes per second over its 200 teams; t = 2s/λ.
      const writes = (f!.evidence.writes as Array<{writesPerSecond: number}>)[0].writesPerSecond
      expect(writes).toBeGreaterThan(0)
      expect(f!.evidence.changesPerSecond).toBeCloseTo(writes / 200, 4)
      expect(remedy.stalenessBudget).toBe(0.1)
      expect(remedy.ttlSeconds).toBe(Math.round(Math.min(86_400, (2 * 0.1) / (f!.evidence.changesPerSecond as number))))
      const ttl = remedy.ttlSeconds!
      expect(ttl).toBeGreaterThan(1)
      expect(ttl).toBeLessThan(3600)
      const r = f!.evidence.readsPerKeyPerSecond as number
      expect(remedy.expectedHitRate).toBeCloseTo((r * ttl) / (1 + r * ttl), 1)
      expect(remedy.strategy).toBe('write-through')
      expect(remedy.strategyWhy).toMatch(/application's own statements/)
      expect(remedy.summary).toContain('The audit includes Redis (cache)')
    })
  }, 120_000)

  it('stays quiet on a database whose repeated reads cost too little to matter', async () => {
    await withTempDatabase('cp_cache_aside_calm', async (url) => {
      await adminQuery(url, `
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
        CREATE TABLE tags (id int PRIMARY KEY, category int NOT NULL, label text NOT NULL);
        INSERT INTO tags SELECT g, g % 20, 'tag ' || g FROM generate_series(1, 5000) g;
        ANALYZE tags;`)
      // A cacheable read (about a millisecond), three times a second: a few ms of statement time per second, under the
      // rule's minMsPerSecond. Its share of this database's statement time depends on how long the audit's own queries
      // take on a loaded machine, so the share floor is turned off here: the cost per second alone keeps it quiet.
      const LIGHT_READ = 'SELECT category, count(*) FROM tags WHERE category = $1 GROUP BY category'
      const {result} = await withLoops(url, [
        async (c, i) => {
          await c.query(LIGHT_READ, [i % 20])
          await new Promise((r) => setTimeout(r, 300))
        },
      ], () => auditTarget(url, {onlyProbes: ['postgres.statements', 'postgres.plans', 'postgres.tables'], windowSeconds: 3, failOn: 'never',
        config: {rules: {[RULE]: {heuristic: {minShare: 0}}}}}))
      const read = (result.snapshot.readings.find((r) => r.probe === 'postgres.statements')!.data as {windowSeconds: number; statements: Array<{query: string; calls: number; totalMs: number}>})
      const light = read.statements.find((s) => s.query === LIGHT_READ)!
      expect(light.calls / read.windowSeconds).toBeGreaterThan(1)
      expect(light.totalMs / read.windowSeconds).toBeLessThan(10)
      expect(cacheFindings(result.report).map((f) => f.message)).toEqual([])
    })
  }, 120_000)
})
