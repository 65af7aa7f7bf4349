import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {intOption, num, queryRow} from './skip.js'

/** Counters read at the start of the window; per-table counters travel as parallel arrays (one row, one round trip). */
interface CacheBaseline {
  statsReset: string | null
  databaseHit: number
  databaseRead: number
  /** pg_stat_database blk_read_time and active_time (ms): what the misses cost, with track_io_timing on. */
  readTimeMs: number
  activeTimeMs: number | null
  indexHit: number
  indexRead: number
  tableIds: string[]
  tableHits: string[]
  tableReads: string[]
}

interface CounterRow {
  database: string
  stats_reset: string | null
  db_hit: string
  db_read: string
  read_ms: number
  active_ms: number | null
  track_io_timing: string
  shared_buffers: string
  idx_hit: string
  idx_read: string
  heap_hit: string
  heap_read: string
  table_ids: string[] | null
  table_hits: string[] | null
  table_reads: string[] | null
}

interface TableRow {
  table: string
  hit: number
  read: number
}

/*
 * What the misses cost: blk_read_time (ms spent reading blocks, counted only with track_io_timing on) over
 * active_time (ms spent executing statements, PostgreSQL 14 on), and shared_buffers, for the working-set advisor.
 */
const costColumns = (versionNum: number) => `d.blk_read_time::float8 AS read_ms, ${versionNum === 0 || versionNum >= 140000 ? 'd.active_time::float8' : 'NULL::float8'} AS active_ms,
       current_setting('track_io_timing') AS track_io_timing, pg_size_bytes(current_setting('shared_buffers'))::text AS shared_buffers`
const COST_COLUMNS = '%COST%'

const BASELINE_SQL = `
SELECT d.datname AS database, d.stats_reset, d.blks_hit AS db_hit, d.blks_read AS db_read, ${COST_COLUMNS},
       i.idx_hit, i.idx_read, t.heap_hit, t.heap_read, t.table_ids, t.table_hits, t.table_reads
FROM pg_stat_database d
CROSS JOIN (SELECT coalesce(sum(idx_blks_hit), 0) AS idx_hit, coalesce(sum(idx_blks_read), 0) AS idx_read
            FROM pg_statio_user_indexes) i
CROSS JOIN (SELECT coalesce(sum(heap_blks_hit), 0) AS heap_hit, coalesce(sum(heap_blks_read), 0) AS heap_read,
                   array_agg(relid::text) AS table_ids, array_agg(coalesce(heap_blks_hit, 0)::text) AS table_hits,
                   array_agg(coalesce(heap_blks_read, 0)::text) AS table_reads
            FROM pg_statio_user_tables) t
WHERE d.datname = current_database()
`

/*
 * Collect: the same database and index totals, plus the worst N tables by heap block misses in the window.
 * The baseline's per-table counters are sent back as arrays so the server computes the deltas and the ranking,
 * and only N rows come back, whatever the number of tables. With no baseline (window 0) the arrays are empty
 * and the deltas are the counters since the last stats reset.
 */
const COLLECT_SQL = `
WITH base AS (
  SELECT * FROM unnest($1::oid[], $2::int8[], $3::int8[]) AS b(relid, hit, read)
), tables AS (
  SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS "table",
         greatest(coalesce(s.heap_blks_hit, 0) - coalesce(b.hit, 0), 0) AS hit,
         greatest(coalesce(s.heap_blks_read, 0) - coalesce(b.read, 0), 0) AS read
  FROM pg_statio_user_tables s LEFT JOIN base b ON b.relid = s.relid
)
SELECT d.datname AS database, d.stats_reset, d.blks_hit AS db_hit, d.blks_read AS db_read, ${COST_COLUMNS},
       i.idx_hit, i.idx_read, h.heap_hit, h.heap_read,
       (SELECT coalesce(json_agg(w), '[]'::json) FROM (
          SELECT "table", hit::float8 AS hit, read::float8 AS read FROM tables
          WHERE read > 0 ORDER BY read DESC, "table" LIMIT $4) w) AS worst_tables
FROM pg_stat_database d
CROSS JOIN (SELECT coalesce(sum(idx_blks_hit), 0) AS idx_hit, coalesce(sum(idx_blks_read), 0) AS idx_read
            FROM pg_statio_user_indexes) i
CROSS JOIN (SELECT coalesce(sum(heap_blks_hit), 0) AS heap_hit, coalesce(sum(heap_blks_read), 0) AS heap_read
            FROM pg_statio_user_tables) h
WHERE d.datname = current_database()
`

/** One level (the database, its tables together, its indexes) or one of the worst tables, as the data records it. */
export interface CacheLevel {
  subject: string
  ratio: number | null
  hits: number
  reads: number
  blocks: number
  sampleTooSmall: boolean
}

/** The reading's data (src/readings/postgres.ts: cacheHitReading). */
export interface CacheHitData {
  basis: string
  windowSeconds: number
  statsReset: string | null
  minBlocks: number
  trackIoTiming: boolean
  /** Block read time in the window (or since the reset): null when track_io_timing is off. */
  readTimeMs: number | null
  /** Statement execution time (pg_stat_database active_time, PostgreSQL 14 on), or null. */
  activeTimeMs: number | null
  sharedBuffersBytes: number
  resetDuringWindow: boolean
  levels: CacheLevel[]
  worstTables: CacheLevel[]
}

/** hits / (hits + reads), or null when nothing was read (a ratio of nothing is not 100%). */
export function hitRatio(hits: number, reads: number): number | null {
  const total = hits + reads
  return total > 0 ? hits / total : null
}

export const cacheHitProbe: Probe<PgSession> = {
  id: 'postgres.cache-hit',
  kind: 'postgres',
  description: 'Shared-buffer hit ratios of the database, its tables (worst N by misses) and its indexes',
  async baseline(session): Promise<CacheBaseline> {
    const row = await queryRow<CounterRow>(session, 'postgres.cache-hit', BASELINE_SQL.replace(COST_COLUMNS, costColumns(session.serverVersionNum)))
    return {
      statsReset: row.stats_reset ? new Date(row.stats_reset).toISOString() : null,
      databaseHit: num(row.db_hit),
      databaseRead: num(row.db_read),
      readTimeMs: num(row.read_ms),
      activeTimeMs: row.active_ms === null ? null : num(row.active_ms),
      indexHit: num(row.idx_hit),
      indexRead: num(row.idx_read),
      tableIds: row.table_ids ?? [],
      tableHits: row.table_hits ?? [],
      tableReads: row.table_reads ?? [],
    }
  },
  async collect(session, ctx, baseline): Promise<ProbeOutput> {
    const base = ctx.windowSeconds > 0 ? (baseline as CacheBaseline | undefined) : undefined
    const topN = intOption(ctx.options, 'cacheTopN', 20)
    // Fewer blocks than this in the window make a ratio noise (3 reads of 4 is "75%"): kept in data, flagged.
    const minBlocks = intOption(ctx.options, 'cacheMinBlocks', 1000)
    const row = await queryRow<CounterRow & {worst_tables: TableRow[]}>(session, 'postgres.cache-hit', COLLECT_SQL.replace(COST_COLUMNS, costColumns(session.serverVersionNum)),
      [base?.tableIds ?? [], base?.tableHits ?? [], base?.tableReads ?? [], topN])
    const statsReset = row.stats_reset ? new Date(row.stats_reset).toISOString() : null
    // A stats reset inside the window makes the differences meaningless: fall back to the counters since that reset.
    const resetDuringWindow = base !== undefined && base.statsReset !== statsReset
    const delta = (now: unknown, before: number) => (base && !resetDuringWindow ? Math.max(num(now) - before, 0) : num(now))
    const basis = base && !resetDuringWindow ? 'window' : 'since stats reset'
    const common = {basis, windowSeconds: base ? ctx.windowSeconds : 0, statsReset, minBlocks}
    const trackIoTiming = row.track_io_timing === 'on'
    const cost = {
      trackIoTiming,
      // Without track_io_timing the server counts no read time at all: null, not 0.
      readTimeMs: trackIoTiming ? delta(row.read_ms, base?.readTimeMs ?? 0) : null,
      activeTimeMs: row.active_ms === null || (base && base.activeTimeMs === null) ? null : delta(row.active_ms, base?.activeTimeMs ?? 0),
      sharedBuffersBytes: num(row.shared_buffers),
    }

    const levels = [
      {subject: `database ${row.database}`, hit: delta(row.db_hit, base?.databaseHit ?? 0), read: delta(row.db_read, base?.databaseRead ?? 0)},
      {subject: 'tables', hit: num(row.heap_hit), read: num(row.heap_read)},
      {subject: 'indexes', hit: delta(row.idx_hit, base?.indexHit ?? 0), read: delta(row.idx_read, base?.indexRead ?? 0)},
    ]
    if (base && !resetDuringWindow) {
      // Table totals over the window: the sum of the per-table baselines.
      levels[1].hit = Math.max(num(row.heap_hit) - base.tableHits.reduce((s, v) => s + num(v), 0), 0)
      levels[1].read = Math.max(num(row.heap_read) - base.tableReads.reduce((s, v) => s + num(v), 0), 0)
    }
    const worstTables = (resetDuringWindow ? [] : row.worst_tables).map((t) => ({subject: `table ${t.table}`, hit: t.hit, read: t.read}))

    const metrics: Metric[] = []
    const summarise = (l: {subject: string; hit: number; read: number}): CacheLevel => {
      const blocks = l.hit + l.read
      const ratio = hitRatio(l.hit, l.read)
      return {subject: l.subject, ratio, hits: l.hit, reads: l.read, blocks, sampleTooSmall: blocks < minBlocks}
    }
    const summaries = [...levels, ...worstTables].map(summarise)
    for (const s of summaries) {
      // Tiny samples stay in data but produce no metric: a rule cannot tell noise from a cold cache.
      if (s.sampleTooSmall || s.ratio === null) continue
      metrics.push({name: 'db.cache.hit_ratio', subject: s.subject, value: s.ratio,
        evidence: {hits: s.hits, reads: s.reads, blocks: s.blocks, ...common}})
    }
    const data: CacheHitData = {...common, ...cost, resetDuringWindow, levels: summaries.slice(0, levels.length), worstTables: summaries.slice(levels.length)}
    return {data, metrics}
  },
}
