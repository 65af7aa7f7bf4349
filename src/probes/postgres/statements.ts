import {ProbeSkip, errorMessage} from '../../core/errors.js'
import type {Probe, ProbeContext, ProbeOutput} from '../../core/probe.js'
import {round} from '../../core/numbers.js'
import {quoteIdent} from '../../core/sql.js'
import type {Metric} from '../../core/types.js'
import type {PgSession} from '../../drivers/postgres.js'
import {clip, safeQueryTexts} from '../../knowledge/postgres/query-text.js'
import {notOwnStatement} from '../../knowledge/postgres/own-queries.js'

/**
 * postgres.statements: the statements that took the most execution time, from pg_stat_statements.
 *
 * With a window, baseline() reads every entry's counters (no query text) and collect() subtracts them in SQL,
 * so the result is what ran during the window; with window 0 the counters are cumulative since
 * pg_stat_statements_info.stats_reset. Statistics are never reset. Only the connected database's statements
 * are read: they are the ones the index advisor can EXPLAIN on this connection.
 *
 * Round trips: 2 in baseline, 2 in collect, whatever the number of statements. pg_stat_statements(false) skips
 * the query-text file for the baseline; the text is read once, in collect, and returned for the top N by time only,
 * and for the few most frequent beside them (`frequent`: the top FREQUENT_LIMIT by calls and by rows).
 */

/** One statement as the index advisor and reporters read it (field names are a contract: keep them). */
export interface StatementRow {
  queryid: string
  /** Safe to print (knowledge/postgres/query-text.ts): normalised, credential statements redacted, no comments. */
  query: string
  /** pg_stat_statements' own text, only with the target option unsafeRawQueryTexts. */
  rawQuery?: string
  calls: number
  totalMs: number
  meanMs: number
  stddevMs: number
  /** Cumulative since the statistics were reset: pg_stat_statements keeps no per-window maximum. */
  maxMs: number
  rows: number
  sharedBlksHit: number
  sharedBlksRead: number
  sharedBlksDirtied: number
  sharedBlksWritten: number
  tempBlksRead: number
  tempBlksWritten: number
  /** Share of the execution time of all statements of this database in the window. */
  share: number
  toplevel: boolean
  database: string
  user: string
  /** chokepoint's own statement (its text begins with the marker): not the workload. Absent in older snapshots. */
  own?: boolean
}

export interface StatementsData {
  database: string
  windowSeconds: number
  /** Start of the counters when read cumulatively (pg_stat_statements_info.stats_reset, PG14+). */
  since: string | null
  statements: StatementRow[]
  /** Statements that ran in the window (or since the reset), of which `statements` is the top by total time. */
  statementsActive: number
  /**
   * Beyond `statements`: the top FREQUENT_LIMIT by calls and by rows that are not among the top by time (absent in
   * snapshots taken before). A cheap statement run very often, or one returning many rows, is what an N+1 loop and its
   * parent look like, and neither need be costly enough to rank by time. No metrics are emitted for these.
   */
  frequent?: StatementRow[]
  totalMs: number
  /** Entries whose text and queryid are hidden from this user ('<insufficient privilege>'). */
  hiddenStatements: number
  hiddenReason?: string
  /** Every entry of this database in pg_stat_statements, hidden ones included (cumulative, as hiddenStatements). */
  statementEntries?: number
  /** Entries evicted since the reset (pg_stat_statements.max too small for the workload). */
  deallocations: number | null
}

/** Columnar, text-free counters per (userid, queryid, toplevel): a few numbers per statement, flat in memory. */
interface StatementsBaseline {
  statsReset: string | null
  userid: number[]
  queryid: string[]
  toplevel: boolean[]
  calls: string[]
  totalMs: number[]
  sumSquaresMs: number[]
  rows: string[]
  sharedBlksHit: string[]
  sharedBlksRead: string[]
  sharedBlksDirtied: string[]
  sharedBlksWritten: string[]
  tempBlksRead: string[]
  tempBlksWritten: string[]
}

// PostgreSQL 18 (and possibly 17) quotes the setting's name: must be loaded via "shared_preload_libraries".
const NOT_PRELOADED = /must be loaded via "?shared_preload_libraries"?/
const DEFAULT_LIMIT = 50
/** Statements listed besides the top by time: this many by calls and this many by rows (StatementsData.frequent). */
export const FREQUENT_LIMIT = 20
/**
 * pg_stat_statements holds at most pg_stat_statements.max entries (default 5000), so this reads the whole table on
 * most servers while staying bounded (about 100 bytes a statement). Entries past it count as new in the window.
 */
const DEFAULT_BASELINE_LIMIT = 10_000

interface Extension {
  relation: (name: string) => string
  hasToplevel: boolean
  hasInfo: boolean
  database: string
}

async function locateExtension(pg: PgSession): Promise<Extension> {
  if (pg.serverVersionNum > 0 && pg.serverVersionNum < 130000) {
    throw new ProbeSkip('pg_stat_statements is read from PostgreSQL 13 on (total_exec_time); this server is older')
  }
  const [ext] = await pg.query<{schema: string; version: string; database: string}>(
    `SELECT n.nspname AS schema, e.extversion AS version, current_database() AS database
       FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'pg_stat_statements'`)
  if (!ext) {
    throw new ProbeSkip(`pg_stat_statements is not installed in ${pg.database || 'this database'}: add it to shared_preload_libraries and run CREATE EXTENSION pg_stat_statements`)
  }
  const [major, minor] = ext.version.split('.').map(Number)
  const atLeast19 = major > 1 || (major === 1 && minor >= 9)
  return {relation: (name) => `${quoteIdent(ext.schema)}.${quoteIdent(name)}`, hasToplevel: atLeast19, hasInfo: atLeast19, database: ext.database}
}

/** Turns "not preloaded" into a skip with its fix; other errors stay errors. */
async function readingStatements<T>(ext: Extension, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    if (NOT_PRELOADED.test(errorMessage(error))) {
      throw new ProbeSkip(`pg_stat_statements is installed in ${ext.database} but not loaded: add pg_stat_statements to shared_preload_libraries and restart PostgreSQL`)
    }
    throw error
  }
}

function limitOption(ctx: ProbeContext, name: string, fallback: number): number {
  const raw = Number(ctx.options[name])
  return Number.isFinite(raw) && raw > 0 ? Math.floor(raw) : fallback
}

const THIS_DB = '(SELECT oid FROM pg_database WHERE datname = current_database())'

function emptyBaseline(): StatementsBaseline {
  return {statsReset: null, userid: [], queryid: [], toplevel: [], calls: [], totalMs: [], sumSquaresMs: [], rows: [], sharedBlksHit: [],
    sharedBlksRead: [], sharedBlksDirtied: [], sharedBlksWritten: [], tempBlksRead: [], tempBlksWritten: []}
}

export const statementsProbe: Probe<PgSession> = {
  id: 'postgres.statements',
  kind: 'postgres',
  description: 'Top statements by execution time in the window (pg_stat_statements deltas), with their normalized text',

  async baseline(pg, ctx): Promise<StatementsBaseline> {
    const ext = await locateExtension(pg)
    const toplevel = ext.hasToplevel ? 's.toplevel' : 'true'
    const statsReset = ext.hasInfo ? `(SELECT stats_reset::text FROM ${ext.relation('pg_stat_statements_info')})` : 'NULL::text'
    // One row of arrays: compact on the wire and in memory, and ready to send back as parameters in collect().
    const [row] = await readingStatements(ext, () => pg.query(
      `SELECT ${statsReset} AS "statsReset",
              coalesce(array_agg(userid), '{}') AS userid, coalesce(array_agg(queryid), '{}') AS queryid,
              coalesce(array_agg(toplevel), '{}') AS toplevel, coalesce(array_agg(calls), '{}') AS calls,
              coalesce(array_agg(total), '{}') AS "totalMs", coalesce(array_agg(sumsq), '{}') AS "sumSquaresMs",
              coalesce(array_agg(rows), '{}') AS rows, coalesce(array_agg(hit), '{}') AS "sharedBlksHit",
              coalesce(array_agg(read), '{}') AS "sharedBlksRead", coalesce(array_agg(dirtied), '{}') AS "sharedBlksDirtied",
              coalesce(array_agg(written), '{}') AS "sharedBlksWritten", coalesce(array_agg(tread), '{}') AS "tempBlksRead",
              coalesce(array_agg(twritten), '{}') AS "tempBlksWritten"
         FROM (SELECT s.userid, s.queryid, ${toplevel} AS toplevel, s.calls, s.total_exec_time AS total,
                      s.calls * (s.stddev_exec_time ^ 2 + s.mean_exec_time ^ 2) AS sumsq, s.rows,
                      s.shared_blks_hit AS hit, s.shared_blks_read AS read, s.shared_blks_dirtied AS dirtied,
                      s.shared_blks_written AS written, s.temp_blks_read AS tread, s.temp_blks_written AS twritten
                 FROM ${ext.relation('pg_stat_statements')}(false) s
                WHERE s.dbid = ${THIS_DB} AND s.queryid IS NOT NULL
                ORDER BY s.total_exec_time DESC
                LIMIT $1) s`,
      [limitOption(ctx, 'statementsBaselineLimit', DEFAULT_BASELINE_LIMIT)]))
    return row as StatementsBaseline
  },

  async collect(pg, ctx, rawBaseline) {
    const ext = await locateExtension(pg)
    let base = (rawBaseline as StatementsBaseline | undefined) ?? emptyBaseline()
    const limit = limitOption(ctx, 'statementsLimit', DEFAULT_LIMIT)
    const toplevel = ext.hasToplevel ? 's.toplevel' : 'true'
    const info = ext.hasInfo
      ? `(SELECT stats_reset::text FROM ${ext.relation('pg_stat_statements_info')}) AS stats_reset, (SELECT dealloc FROM ${ext.relation('pg_stat_statements_info')}) AS dealloc`
      : 'NULL::text AS stats_reset, NULL::bigint AS dealloc'
    // Entries missing from the baseline ran first in the window and count in full; an entry whose calls went
    // down was evicted and re-added, and also counts in full; entries evicted during the window are simply absent.
    const sql = `
      WITH cur AS (
        SELECT s.userid, s.queryid, ${toplevel} AS toplevel, s.query, s.calls, s.total_exec_time AS total,
               s.calls * (s.stddev_exec_time ^ 2 + s.mean_exec_time ^ 2) AS sumsq, s.max_exec_time AS max, s.rows,
               s.shared_blks_hit AS hit, s.shared_blks_read AS read, s.shared_blks_dirtied AS dirtied,
               s.shared_blks_written AS written, s.temp_blks_read AS tread, s.temp_blks_written AS twritten
          FROM ${ext.relation('pg_stat_statements')}(true) s
         WHERE s.dbid = ${THIS_DB}
      ), base AS (
        SELECT * FROM unnest($1::oid[], $2::bigint[], $3::bool[], $4::bigint[], $5::float8[], $6::float8[], $7::bigint[],
                             $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])
               AS b(userid, queryid, toplevel, calls, total, sumsq, rows, hit, read, dirtied, written, tread, twritten)
      ), delta AS (
        SELECT c.userid, c.queryid, c.toplevel, c.query, c.max,
               CASE WHEN fresh THEN c.calls ELSE c.calls - b.calls END AS calls,
               CASE WHEN fresh THEN c.total ELSE c.total - b.total END AS total,
               CASE WHEN fresh THEN c.sumsq ELSE c.sumsq - b.sumsq END AS sumsq,
               CASE WHEN fresh THEN c.rows ELSE c.rows - b.rows END AS rows,
               CASE WHEN fresh THEN c.hit ELSE c.hit - b.hit END AS hit,
               CASE WHEN fresh THEN c.read ELSE c.read - b.read END AS read,
               CASE WHEN fresh THEN c.dirtied ELSE c.dirtied - b.dirtied END AS dirtied,
               CASE WHEN fresh THEN c.written ELSE c.written - b.written END AS written,
               CASE WHEN fresh THEN c.tread ELSE c.tread - b.tread END AS tread,
               CASE WHEN fresh THEN c.twritten ELSE c.twritten - b.twritten END AS twritten
          FROM cur c
          LEFT JOIN base b ON b.userid = c.userid AND b.queryid = c.queryid AND b.toplevel = c.toplevel
          CROSS JOIN LATERAL (SELECT b.calls IS NULL OR c.calls < b.calls AS fresh) f
         WHERE c.queryid IS NOT NULL
      ), totals AS (
        SELECT count(*) FILTER (WHERE calls > 0) AS active, coalesce(sum(total) FILTER (WHERE calls > 0), 0) AS total_ms,
               (SELECT count(*) FROM cur WHERE queryid IS NULL) AS hidden, (SELECT count(*) FROM cur) AS entries
          FROM delta
      )
      SELECT d.queryid::text AS queryid, d.query, d.calls::float8 AS calls, d.total AS total_ms, d.sumsq, d.max AS max_ms,
             d.rows::float8 AS rows, d.hit::float8 AS hit, d.read::float8 AS read, d.dirtied::float8 AS dirtied,
             d.written::float8 AS written, d.tread::float8 AS tread, d.twritten::float8 AS twritten, d.toplevel, d.by_time,
             pg_get_userbyid(d.userid) AS "user", NOT (${notOwnStatement('d.query')}) AS own, t.active, t.total_ms AS all_ms, t.hidden, t.entries, current_user AS me, ${info}
        FROM totals t
        LEFT JOIN LATERAL (
          SELECT * FROM (SELECT x.*, row_number() OVER (ORDER BY x.total DESC) AS by_time, row_number() OVER (ORDER BY x.calls DESC) AS by_calls,
                                row_number() OVER (ORDER BY x.rows DESC) AS by_rows
                           FROM delta x WHERE x.calls > 0) r
           WHERE r.by_time <= $14 OR r.by_calls <= $15 OR r.by_rows <= $15
           ORDER BY r.by_time) d ON true`
    const run = (b: StatementsBaseline) => readingStatements(ext, () => pg.query(sql, [b.userid, b.queryid, b.toplevel, b.calls, b.totalMs,
      b.sumSquaresMs, b.rows, b.sharedBlksHit, b.sharedBlksRead, b.sharedBlksDirtied, b.sharedBlksWritten, b.tempBlksRead, b.tempBlksWritten, limit, FREQUENT_LIMIT]))
    let rows = await run(base)
    // Someone reset pg_stat_statements during the window: every counter restarted, so the current values are the window.
    if (rawBaseline && rows[0] && rows[0].stats_reset !== base.statsReset) {
      base = emptyBaseline()
      rows = await run(base)
    }
    const head = rows[0] ?? {}
    const allMs = Number(head.all_ms ?? 0)
    const listed = rows.filter((r) => r.queryid !== null)
    // pg_stat_statements replaces the constants of planned statements only: utility statements (ALTER ROLE ...
    // PASSWORD, DO, CREATE TABLE AS) keep their literals when track_utility is on, and every text keeps its comments.
    const safe = await safeQueryTexts(listed.map((r) => String(r.query ?? '')))
    const keepRaw = ctx.options.unsafeRawQueryTexts === true
    const all: StatementRow[] = listed.map((r, i) => {
      const calls = Number(r.calls)
      const totalMs = Number(r.total_ms)
      const meanMs = calls > 0 ? totalMs / calls : 0
      // Population variance from the differenced sum of squares, as pg_stat_statements computes it.
      const variance = calls > 0 ? Math.max(0, Number(r.sumsq) / calls - meanMs * meanMs) : 0
      return {
        queryid: String(r.queryid),
        query: safe[i].text,
        ...(keepRaw ? {rawQuery: String(r.query ?? '')} : {}),
        calls,
        totalMs,
        meanMs,
        stddevMs: Math.sqrt(variance),
        maxMs: Number(r.max_ms),
        rows: Number(r.rows),
        sharedBlksHit: Number(r.hit),
        sharedBlksRead: Number(r.read),
        sharedBlksDirtied: Number(r.dirtied),
        sharedBlksWritten: Number(r.written),
        tempBlksRead: Number(r.tread),
        tempBlksWritten: Number(r.twritten),
        share: allMs > 0 ? totalMs / allMs : 0,
        toplevel: Boolean(r.toplevel),
        database: ext.database,
        user: String(r.user ?? ''),
        ...(r.own === true ? {own: true} : {}),
      }
    })
    const statements = all.filter((_, i) => Number(listed[i].by_time) <= limit)
    const frequent = all.filter((_, i) => Number(listed[i].by_time) > limit)
    const hidden = Number(head.hidden ?? 0)
    const entries = Number(head.entries ?? hidden)
    const role = String(head.me ?? pg.user ?? '')
    const data: StatementsData = {
      database: ext.database,
      windowSeconds: rawBaseline ? ctx.windowSeconds : 0,
      since: rawBaseline ? null : (head.stats_reset ?? null),
      statements,
      frequent,
      statementsActive: Number(head.active ?? 0),
      totalMs: allMs,
      hiddenStatements: hidden,
      hiddenReason: hidden > 0
        ? `${hidden} statements of other users show '<insufficient privilege>' and are left out: GRANT pg_read_all_stats TO ${role ? quoteIdent(role) : 'the audit user'}`
        : undefined,
      statementEntries: entries,
      deallocations: head.dealloc === null || head.dealloc === undefined ? null : Number(head.dealloc),
    }
    const metrics: Metric[] = statements.map((s) => ({
      name: 'db.statement.mean_seconds',
      value: s.meanMs / 1000,
      subject: `queryid ${s.queryid}`,
      evidence: {
        queryid: s.queryid,
        query: clip(s.query, 300),
        calls: s.calls,
        totalMs: round(s.totalMs),
        meanMs: round(s.meanMs),
        maxMs: round(s.maxMs),
        share: round(s.share, 4),
        rows: s.rows,
        sharedBlksRead: s.sharedBlksRead,
        tempBlksWritten: s.tempBlksWritten,
        database: s.database,
        user: s.user,
        windowSeconds: data.windowSeconds,
      },
    }))
    return {data, metrics, notRead: hiddenStatementsGap(hidden, entries, role)}
  },
}

/**
 * Without pg_read_all_stats, pg_stat_statements shows other users' entries with their counters but no text and no
 * queryid: they cannot be judged or planned, and the index advisor works from what is left. Listed under "Not read".
 */
function hiddenStatementsGap(hidden: number, entries: number, role: string): ProbeOutput['notRead'] {
  if (hidden <= 0) return undefined
  return [{
    what: 'statement texts',
    missing: hidden,
    of: Math.max(hidden, entries),
    reason: `other users' statements show '<insufficient privilege>' in pg_stat_statements: they are not judged, and the index advisor cannot plan them`,
    ...(role ? {fix: `GRANT pg_read_all_stats TO ${quoteIdent(role)};`} : {}),
  }]
}
