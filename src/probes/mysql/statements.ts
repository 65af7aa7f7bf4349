import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import {round} from '../../core/numbers.js'
import type {MysqlSession} from '../../drivers/mysql.js'
import {intOption, num} from '../postgres/skip.js'
import {PICOSECONDS_PER_SECOND, queryOrSkip, requirePerformanceSchema} from './skip.js'

const WHAT = 'mysql.statements'

/** The counters of one digest, as numbers (the server sends BIGINT UNSIGNED as strings). */
export interface DigestCounters {
  calls: number
  timerPs: number
  rowsExamined: number
  rowsSent: number
  rowsAffected: number
  noIndexUsed: number
  noGoodIndexUsed: number
  tmpDiskTables: number
  tmpTables: number
  fullScans: number
}

/** Baseline: every digest's counters, keyed by schema and digest (a digest is per default schema). */
export type DigestBaseline = Record<string, DigestCounters>

export interface MysqlStatementRow extends DigestCounters {
  schema: string | null
  digest: string
  query: string | null
  totalMs: number
  meanMs: number
  /** MAX_TIMER_WAIT since the digest was first seen: the server keeps no maximum per window. */
  maxMs: number
  share: number
}

export interface MysqlStatementsData {
  windowSeconds: number
  /** Digests read (at most maxDigests), and the server's digest table size (performance_schema_digests_size). */
  digestsRead: number
  totalMs: number
  statements: MysqlStatementRow[]
}

/*
 * Monitoring reads are not the workload: statements on information_schema and performance_schema (chokepoint's own,
 * every exporter's; the server builds a temporary table to answer many of them, which would read as disk temp tables),
 * SHOW and SET. Left out by the server, so they take no slot of the top N.
 */
const MONITORING_EXCLUDED = `DIGEST_TEXT NOT LIKE '%information\\_schema%' AND DIGEST_TEXT NOT LIKE '%performance\\_schema%'
  AND DIGEST_TEXT NOT LIKE 'SHOW %' AND DIGEST_TEXT NOT LIKE 'SET %'`

/*
 * Counters only, no text: every digest's row comes back each time, so the window's top N can be ranked by its own
 * delta (the cumulative top N would favour what was slow last week). The texts of the chosen N follow in a second
 * read. LIMIT bounds a server with a huge digest table; ordered by total time so what is dropped is the cheapest.
 */
const COUNTERS_SQL = `SELECT SCHEMA_NAME AS s, DIGEST AS d, COUNT_STAR AS c, SUM_TIMER_WAIT AS t, SUM_ROWS_EXAMINED AS re, SUM_ROWS_SENT AS rs,
  SUM_ROWS_AFFECTED AS ra, SUM_NO_INDEX_USED AS ni, SUM_NO_GOOD_INDEX_USED AS ng, SUM_CREATED_TMP_DISK_TABLES AS td,
  SUM_CREATED_TMP_TABLES AS tt, SUM_SELECT_SCAN AS fs
FROM performance_schema.events_statements_summary_by_digest
WHERE DIGEST IS NOT NULL AND ${MONITORING_EXCLUDED} ORDER BY SUM_TIMER_WAIT DESC LIMIT ?`

const TEXTS_SQL = `SELECT SCHEMA_NAME AS s, DIGEST AS d, DIGEST_TEXT AS q, MAX_TIMER_WAIT AS mx
FROM performance_schema.events_statements_summary_by_digest WHERE DIGEST IN (?)`

interface CounterRow {s: string | null; d: string; c: string; t: string; re: string; rs: string; ra: string; ni: string; ng: string; td: string; tt: string; fs: string}

export const digestKey = (schema: string | null, digest: string) => `${schema ?? ''}\u0000${digest}`

export function countersOf(r: CounterRow): DigestCounters {
  return {calls: num(r.c), timerPs: num(r.t), rowsExamined: num(r.re), rowsSent: num(r.rs), rowsAffected: num(r.ra), noIndexUsed: num(r.ni),
    noGoodIndexUsed: num(r.ng), tmpDiskTables: num(r.td), tmpTables: num(r.tt), fullScans: num(r.fs)}
}

function toBaseline(rows: CounterRow[]): DigestBaseline {
  return Object.fromEntries(rows.map((r) => [digestKey(r.s, r.d), countersOf(r)]))
}

/**
 * Each digest's counters over the window, the N with the most time first. A digest absent from the baseline is new in
 * the window (its counters are the delta); one whose calls went down was evicted and recreated: its counters now are.
 */
export function windowDeltas(rows: CounterRow[], baseline: DigestBaseline | undefined, topN: number): Array<DigestCounters & {schema: string | null; digest: string}> {
  const out = rows.map((r) => {
    const now = countersOf(r)
    const before = baseline?.[digestKey(r.s, r.d)]
    const reset = !before || before.calls > now.calls
    const delta = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, reset ? v : Math.max(v - before![k as keyof DigestCounters], 0)])) as unknown as DigestCounters
    return {schema: r.s, digest: r.d, ...delta}
  }).filter((d) => d.calls > 0)
  return out.sort((a, b) => b.timerPs - a.timerPs || b.calls - a.calls).slice(0, topN)
}

/** Metrics of the window's top digests: mean time (the shared slow-statement rule), full-scan and disk-temp-table shares. */
export function statementMetrics(statements: MysqlStatementRow[], windowSeconds: number): Metric[] {
  const metrics: Metric[] = []
  for (const s of statements) {
    const subject = `digest ${s.digest}`
    const evidence = {
      queryid: s.digest, digest: s.digest, schema: s.schema, query: s.query, calls: s.calls, totalMs: round(s.totalMs), meanMs: round(s.meanMs),
      maxMs: round(s.maxMs), share: round(s.share, 4), rowsExamined: s.rowsExamined, rowsSent: s.rowsSent, rowsAffected: s.rowsAffected,
      rowsExaminedPerCall: round(s.rowsExamined / s.calls, 1), noIndexUsed: s.noIndexUsed, noGoodIndexUsed: s.noGoodIndexUsed,
      fullScans: s.fullScans, tmpTables: s.tmpTables, tmpDiskTables: s.tmpDiskTables, windowSeconds,
    }
    metrics.push({name: 'db.statement.mean_seconds', subject, value: s.meanMs / 1000, evidence})
    // SUM_SELECT_SCAN counts statements whose first table was read in full; a join may count more than once.
    metrics.push({name: 'mysql.statement.full_scan_share', subject, value: Math.min(1, s.fullScans / s.calls), evidence})
    metrics.push({name: 'mysql.statement.tmp_disk_share', subject, value: Math.min(1, s.tmpDiskTables / s.calls), evidence})
  }
  return metrics
}

export const statementsProbe: Probe<MysqlSession> = {
  id: WHAT,
  kind: 'mysql',
  description: 'Top statement digests over the window (performance_schema.events_statements_summary_by_digest deltas): time, rows, full scans, temp tables on disk',
  async baseline(session, ctx): Promise<DigestBaseline> {
    await requirePerformanceSchema(session, WHAT)
    return toBaseline(await queryOrSkip<CounterRow & Record<string, unknown>>(session, WHAT, 'performance_schema', COUNTERS_SQL, [intOption(ctx.options, 'maxDigests', 10_000)]))
  },
  async collect(session, ctx, baseline): Promise<ProbeOutput> {
    await requirePerformanceSchema(session, WHAT)
    const base = ctx.windowSeconds > 0 ? (baseline as DigestBaseline | undefined) : undefined
    const topN = intOption(ctx.options, 'statementsTopN', 50)
    const rows = await queryOrSkip<CounterRow & Record<string, unknown>>(session, WHAT, 'performance_schema', COUNTERS_SQL, [intOption(ctx.options, 'maxDigests', 10_000)])
    const top = windowDeltas(rows, base, topN)
    const allPs = windowDeltas(rows, base, Number.MAX_SAFE_INTEGER).reduce((sum, d) => sum + d.timerPs, 0)
    const texts = new Map<string, {q: string | null; mx: string}>()
    if (top.length > 0) {
      const textRows = await queryOrSkip<{s: string | null; d: string; q: string | null; mx: string}>(session, WHAT, 'performance_schema', TEXTS_SQL, [[...new Set(top.map((d) => d.digest))]])
      for (const t of textRows) texts.set(digestKey(t.s, t.d), t)
    }
    const statements: MysqlStatementRow[] = top.map((d) => {
      const text = texts.get(digestKey(d.schema, d.digest))
      const totalMs = (d.timerPs / PICOSECONDS_PER_SECOND) * 1000
      return {...d, query: text?.q ?? null, totalMs, meanMs: totalMs / d.calls, maxMs: (num(text?.mx) / PICOSECONDS_PER_SECOND) * 1000,
        share: allPs > 0 ? d.timerPs / allPs : 0}
    })
    const windowSeconds = base ? ctx.windowSeconds : 0
    const data: MysqlStatementsData = {windowSeconds, digestsRead: rows.length, totalMs: round((allPs / PICOSECONDS_PER_SECOND) * 1000), statements}
    return {data, metrics: statementMetrics(statements, windowSeconds), nextBaseline: toBaseline(rows)}
  },
}
