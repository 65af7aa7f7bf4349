/**
 * Where a digest's sample text (one real statement of it, literal values and all) comes from, per flavour, and how
 * the rows read there become one text per digest. Pure: the plans probe (src/probes/mysql/plans.ts) sends the SQL.
 *  - MySQL 8.0.3+ keeps one in events_statements_summary_by_digest.QUERY_SAMPLE_TEXT (the manual, "Statement Summary
 *    Tables"; written from the documentation, not run here: no MySQL server on this machine).
 *  - MariaDB (and older MySQL) has none there: events_statements_history_long (or the per-thread
 *    events_statements_history) holds recent statements with their DIGEST, when that consumer is enabled.
 */

export type SampleSource = 'events_statements_summary_by_digest.QUERY_SAMPLE_TEXT' | 'events_statements_history_long' | 'events_statements_history'

/** MySQL 8.0.3 added QUERY_SAMPLE_TEXT (with QUERY_SAMPLE_SEEN and QUERY_SAMPLE_TIMER_WAIT). */
export const QUERY_SAMPLE_TEXT_SINCE = 80003

export function hasQuerySampleText(flavour: 'mysql' | 'mariadb', versionNum: number): boolean {
  return flavour === 'mysql' && versionNum >= QUERY_SAMPLE_TEXT_SINCE
}

export const CONSUMERS_SQL = `SELECT NAME AS name, ENABLED AS enabled FROM performance_schema.setup_consumers
  WHERE NAME IN ('events_statements_history_long', 'events_statements_history')`

/** The history table to read, from setup_consumers rows: the long one first (every thread's last statements). */
export function historySource(rows: ReadonlyArray<{name?: unknown; enabled?: unknown; NAME?: unknown; ENABLED?: unknown}>): SampleSource | undefined {
  const on = new Set(rows.filter((r) => String(r.enabled ?? r.ENABLED ?? '').toUpperCase() === 'YES').map((r) => String(r.name ?? r.NAME)))
  if (on.has('events_statements_history_long')) return 'events_statements_history_long'
  if (on.has('events_statements_history')) return 'events_statements_history'
  return undefined
}

/** The write that turns the history on: the user runs it, chokepoint never does. */
export const ENABLE_HISTORY_FIX = "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = 'events_statements_history_long';"

/**
 * One row per digest and schema: the greatest text (any one real statement of the digest will do; MAX keeps the
 * answer one row per digest however many of its calls the history holds).
 */
export function historySql(source: 'events_statements_history_long' | 'events_statements_history'): string {
  return `SELECT DIGEST AS d, CURRENT_SCHEMA AS s, MAX(SQL_TEXT) AS t FROM performance_schema.${source}
  WHERE DIGEST IN (?) AND SQL_TEXT IS NOT NULL GROUP BY DIGEST, CURRENT_SCHEMA`
}

export interface SampleRow {
  d: string
  s: string | null
  t: string | null
}

/** The sample text per digest key (schema and digest), from summary or history rows; empty texts left out. */
export function samplesByDigest(rows: readonly SampleRow[], key: (schema: string | null, digest: string) => string): Map<string, string> {
  const out = new Map<string, string>()
  for (const r of rows) {
    const text = typeof r.t === 'string' ? r.t.trim() : ''
    if (!text || !r.d) continue
    const k = key(r.s ?? null, r.d)
    if (!out.has(k)) out.set(k, text)
  }
  return out
}
