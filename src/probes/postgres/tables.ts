import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {intOption, num, queryRow, requireVersion} from './skip.js'

/** Write counters at the start of the window, as parallel arrays (one row, one round trip). */
interface TablesBaseline {
  relids: string[]
  inserts: string[]
  updates: string[]
  deletes: string[]
}

interface TableRow {
  table: string
  rows: number
  analyzed: boolean
  seqScan: number
  seqTupRead: number
  idxScan: number
  liveTuples: number
  deadTuples: number
  sizeBytes?: number
  lastAutovacuum?: string | null
  lastVacuum?: string | null
  lastAutoanalyze?: string | null
  lastAnalyze?: string | null
  autovacuumEnabled?: boolean
}

interface WriteRow {
  table: string
  /** schema.table unquoted, as the index advisor's catalog names tables. */
  key: string
  inserts: number
  updates: number
  deletes: number
  insertsPerSecond: number
  updatesPerSecond: number
  deletesPerSecond: number
  writesPerSecond: number
}

interface TablesRow {
  stats_reset: string | null
  rate_seconds: number | null
  rate_basis: string
  totals: Record<string, number>
  seq_candidates: TableRow[]
  dead_candidates: TableRow[]
  top_seq_tup_read: TableRow[]
  write_rates: WriteRow[]
}

const BASELINE_SQL = `
SELECT array_agg(relid::text) AS relids, array_agg(n_tup_ins::text) AS inserts,
       array_agg(n_tup_upd::text) AS updates, array_agg(n_tup_del::text) AS deletes
FROM pg_stat_user_tables
`

/*
 * One round trip whatever the number of tables: the server ranks and limits every list. The row estimate is
 * pg_class.reltuples (kept across a stats reset; -1 on PG14+ when never analyzed, where n_live_tup stands in).
 * Write rates are over the window when there is a baseline ($5 > 0), else since the database's stats reset
 * (or, when it was never reset, since server start: approximate, as counters survive a clean restart).
 * Sizes (pg_total_relation_size) are computed only for the rows returned.
 */
const COLLECT_SQL = `
WITH base AS (
  SELECT * FROM unnest($1::oid[], $2::int8[], $3::int8[], $4::int8[]) AS b(relid, ins, upd, del)
), clock AS (
  SELECT d.stats_reset,
         CASE WHEN $5::float8 > 0 THEN $5::float8
              ELSE extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time()))::float8 END AS rate_seconds,
         CASE WHEN $5::float8 > 0 THEN 'window'
              WHEN d.stats_reset IS NOT NULL THEN 'since stats reset' ELSE 'since server start' END AS rate_basis
  FROM pg_stat_database d WHERE d.datname = current_database()
), t AS (
  SELECT s.relid, quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS "table",
         s.schemaname || '.' || s.relname AS plain_name,
         (CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE s.n_live_tup END)::float8 AS rows,
         c.reltuples >= 0 AS analyzed,
         coalesce(s.seq_scan, 0)::float8 AS seq_scan, coalesce(s.seq_tup_read, 0)::float8 AS seq_tup_read,
         coalesce(s.idx_scan, 0)::float8 AS idx_scan,
         s.n_live_tup::float8 AS live, s.n_dead_tup::float8 AS dead,
         greatest(s.n_tup_ins - coalesce(b.ins, 0), 0)::float8 AS ins,
         greatest(s.n_tup_upd - coalesce(b.upd, 0), 0)::float8 AS upd,
         greatest(s.n_tup_del - coalesce(b.del, 0), 0)::float8 AS del,
         s.last_autovacuum, s.last_vacuum, s.last_autoanalyze, s.last_analyze,
         NOT coalesce('autovacuum_enabled=false' = ANY (c.reloptions), false) AS autovacuum_enabled
  FROM pg_stat_user_tables s
  JOIN pg_class c ON c.oid = s.relid
  LEFT JOIN base b ON b.relid = s.relid
)
SELECT clock.stats_reset, clock.rate_seconds, clock.rate_basis,
  (SELECT json_build_object('tables', count(*), 'seqScan', coalesce(sum(seq_scan), 0), 'idxScan', coalesce(sum(idx_scan), 0),
            'seqTupRead', coalesce(sum(seq_tup_read), 0), 'liveTuples', coalesce(sum(live), 0), 'deadTuples', coalesce(sum(dead), 0),
            'writes', coalesce(sum(ins + upd + del), 0), 'neverAnalyzed', count(*) FILTER (WHERE NOT analyzed)) FROM t) AS totals,
  (SELECT coalesce(json_agg(x), '[]'::json) FROM (
     SELECT "table", rows, analyzed, seq_scan AS "seqScan", seq_tup_read AS "seqTupRead", idx_scan AS "idxScan",
            live AS "liveTuples", dead AS "deadTuples", pg_total_relation_size(relid)::float8 AS "sizeBytes"
     FROM t WHERE rows >= $6 AND seq_scan > 0 ORDER BY seq_tup_read DESC, "table" LIMIT $7) x) AS seq_candidates,
  (SELECT coalesce(json_agg(x), '[]'::json) FROM (
     SELECT "table", rows, analyzed, seq_scan AS "seqScan", seq_tup_read AS "seqTupRead", idx_scan AS "idxScan",
            live AS "liveTuples", dead AS "deadTuples", pg_total_relation_size(relid)::float8 AS "sizeBytes",
            last_autovacuum AS "lastAutovacuum", last_vacuum AS "lastVacuum",
            last_autoanalyze AS "lastAutoanalyze", last_analyze AS "lastAnalyze", autovacuum_enabled AS "autovacuumEnabled"
     FROM t WHERE dead > 0 ORDER BY dead DESC, "table" LIMIT $7) x) AS dead_candidates,
  (SELECT coalesce(json_agg(x), '[]'::json) FROM (
     SELECT "table", rows, analyzed, seq_scan AS "seqScan", seq_tup_read AS "seqTupRead", idx_scan AS "idxScan",
            live AS "liveTuples", dead AS "deadTuples", pg_total_relation_size(relid)::float8 AS "sizeBytes"
     FROM t WHERE seq_tup_read > 0 ORDER BY seq_tup_read DESC, "table" LIMIT $8) x) AS top_seq_tup_read,
  (SELECT coalesce(json_agg(x), '[]'::json) FROM (
     SELECT "table", plain_name AS key, ins AS inserts, upd AS updates, del AS deletes,
            ins / nullif(clock.rate_seconds, 0) AS "insertsPerSecond", upd / nullif(clock.rate_seconds, 0) AS "updatesPerSecond",
            del / nullif(clock.rate_seconds, 0) AS "deletesPerSecond", (ins + upd + del) / nullif(clock.rate_seconds, 0) AS "writesPerSecond"
     FROM t WHERE ins + upd + del > 0 ORDER BY ins + upd + del DESC, "table" LIMIT $9) x) AS write_rates
FROM clock
`

export const tablesProbe: Probe<PgSession> = {
  id: 'postgres.tables',
  kind: 'postgres',
  description: 'Per-table scans, dead tuples and write rates from pg_stat_user_tables (bounded top-N lists)',
  async baseline(session): Promise<TablesBaseline> {
    // array_agg over no tables is NULL, not an empty array.
    const row = await queryRow<{[K in keyof TablesBaseline]: string[] | null}>(session, 'postgres.tables', BASELINE_SQL)
    return {relids: row.relids ?? [], inserts: row.inserts ?? [], updates: row.updates ?? [], deletes: row.deletes ?? []}
  },
  async collect(session, ctx, baseline): Promise<ProbeOutput> {
    requireVersion(session, 100000, 'postgres.tables')
    const base = ctx.windowSeconds > 0 ? (baseline as TablesBaseline | undefined) : undefined
    // Probe floors sit below the rules' `when` defaults so that a user who lowers a rule's floor still gets metrics.
    const minRows = intOption(ctx.options, 'tablesMinRows', 1000)
    const metricLimit = intOption(ctx.options, 'tablesMetricLimit', 200)
    const topN = intOption(ctx.options, 'tablesTopN', 50)
    const writeRatesLimit = intOption(ctx.options, 'tablesWriteRates', 200)
    const row = await queryRow<TablesRow | undefined>(session, 'postgres.tables', COLLECT_SQL, [
      base?.relids ?? [], base?.inserts ?? [], base?.updates ?? [], base?.deletes ?? [],
      base ? ctx.windowSeconds : 0, minRows, metricLimit, topN, writeRatesLimit,
    ])
    if (!row) throw new Error(`pg_stat_database has no row for database ${session.database}`)
    const statsReset = row.stats_reset ? new Date(row.stats_reset).toISOString() : null
    const metrics: Metric[] = []
    for (const t of row.seq_candidates) {
      metrics.push({
        name: 'db.table.seq_scan_share',
        subject: `table ${t.table}`,
        value: t.seqScan / (t.seqScan + t.idxScan),
        evidence: {table: t.table, rows: t.rows, analyzed: t.analyzed, seqScan: t.seqScan, idxScan: t.idxScan, seqTupRead: t.seqTupRead,
          avgRowsPerSeqScan: Math.round(t.seqTupRead / t.seqScan), sizeBytes: t.sizeBytes, statsReset},
      })
    }
    for (const t of row.dead_candidates) {
      metrics.push({
        name: 'postgres.table.dead_tuple_ratio',
        subject: `table ${t.table}`,
        value: t.deadTuples / (t.deadTuples + t.liveTuples),
        evidence: {table: t.table, deadTuples: t.deadTuples, liveTuples: t.liveTuples, rows: t.rows, sizeBytes: t.sizeBytes,
          lastAutovacuum: t.lastAutovacuum ?? 'never', lastVacuum: t.lastVacuum ?? 'never', lastAutoanalyze: t.lastAutoanalyze,
          autovacuumEnabled: t.autovacuumEnabled},
      })
    }
    // Only the three per-second rates, so that their sum is the table's write rate (the index advisor adds them up).
    const writeRates: Record<string, {insertsPerSecond: number; updatesPerSecond: number; deletesPerSecond: number}> = {}
    for (const w of row.write_rates) {
      writeRates[w.key] = {insertsPerSecond: num(w.insertsPerSecond), updatesPerSecond: num(w.updatesPerSecond), deletesPerSecond: num(w.deletesPerSecond)}
    }
    return {
      data: {
        statsReset,
        rateBasis: row.rate_basis,
        rateSeconds: num(row.rate_seconds),
        totals: row.totals,
        topBySeqTupRead: row.top_seq_tup_read,
        topByWrites: row.write_rates.slice(0, topN),
        // For the index advisor's write-cost penalty: the most-written tables, keyed by unquoted schema.table.
        writeRates,
        mostDeadTuples: row.dead_candidates.slice(0, topN),
      },
      metrics,
    }
  },
}
