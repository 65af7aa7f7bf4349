import {errorMessage} from '../../core/errors.js'
import {ConnectionLost, DeadlineExceeded, type Probe, type ProbeOutput} from '../../core/probe.js'
import {quoteIdent, quoteQualified} from '../../core/sql.js'
import {PG_DEFAULTS, type PgSession} from '../../drivers/postgres.js'
import {foreignKeysOf, foreignKeysSql, type ForeignKeyFacts} from '../../knowledge/postgres/catalog.js'
import {intOption, num, numOrNull, queryRow} from './skip.js'

/**
 * postgres.column-stats: what the shard-key advisor scores distribution columns with. The largest tables (by total
 * size) and the tables their foreign keys reference (the small, widely joined ones that could be reference tables),
 * each with its columns' planner statistics (pg_stats n_distinct, null_frac, correlation, the largest
 * most_common_freqs), its primary and unique constraints and its foreign keys; and, for the largest tables' candidate
 * columns, a simulation of hash distribution done by the server: a bounded TABLESAMPLE of rows whose values are hashed
 * over the shard count (`abs(hashtext(v::text)) % N`), counted per shard.
 *
 * Read-only and bounded: one round trip for the catalog (LIMIT on tables), then one per sampled table, each reading at
 * most `shardSampleRows` rows of a SYSTEM sample (blocks, REPEATABLE) sized to that many rows: never a whole large
 * table. Sampling stops once `shardSampleMs` of wall time is spent, each sample running under a statement_timeout of
 * what is left of it (a slow sample is cancelled, not waited for); the tables left out are listed as not read.
 */

export interface ColumnStats {
  name: string
  type: string
  notNull: boolean
  /** pg_stats n_distinct: a count, or minus a fraction of the rows when negative; null when never analysed. */
  nDistinct: number | null
  nullFrac: number | null
  correlation: number | null
  /** The largest of most_common_freqs: the share of rows holding the most frequent value (null: no value repeats). */
  maxCommonFreq: number | null
}

export interface TableConstraint {
  name: string
  kind: 'primary' | 'unique'
  columns: string[]
}

/** A foreign key as the catalog reads it (`references`: the unquoted schema.table of the referenced table). */
export type ForeignKey = ForeignKeyFacts

export interface HashSample {
  column: string
  /** Rows sampled, nulls included. */
  rows: number
  nulls: number
  /** Non-null sampled rows per simulated shard, shard 0 first. */
  shardRows: number[]
}

export interface ShardTable {
  /** Unquoted schema.table, as the catalog and the parser name tables. */
  key: string
  schema: string
  name: string
  rows: number
  sizeBytes: number
  /** Among the `shardTables` largest (not only referenced by one of them). */
  large: boolean
  /** The audit role may SELECT it (else it is judged from pg_stats alone, never sampled). */
  canSelect?: boolean
  columns: ColumnStats[]
  constraints: TableConstraint[]
  foreignKeys: ForeignKey[]
  samples?: HashSample[]
  /** The TABLESAMPLE SYSTEM percentage used. */
  samplePercent?: number
}

export interface ColumnStatsData {
  database: string
  /** Shards the samples were hashed over (the target option shardPlan, else Citus's default shard_count, 32). */
  shards: number
  databaseBytes: number
  sharedBuffersBytes: number
  tables: ShardTable[]
}

/** Citus's default citus.shard_count. */
export const DEFAULT_SHARDS = 32
const DEFAULT_TABLES = 20
const DEFAULT_SAMPLE_ROWS = 10_000
const DEFAULT_SAMPLE_TABLES = 5
const DEFAULT_SAMPLE_MS = 2000
/** SQLSTATE of a statement cancelled by statement_timeout: the sample outran what was left of the budget. */
const QUERY_CANCELED = '57014'
/** Columns hashed per sampled table at most. */
const MAX_SAMPLED_COLUMNS = 6
/** Types whose values make sense as a distribution key (hashable, compared by equality in the workload). */
const KEY_TYPES = /^(smallint|integer|bigint|text|uuid|character varying|character|varchar|char|numeric|date|citext)\b/

/**
 * A table's size and rows; a partitioned table's are its partitions' (it has no storage of its own, and its
 * partitions are not listed apart: the whole table is what gets distributed).
 */
const SIZE_SQL = `CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size(pt.relid)), 0) FROM pg_partition_tree(c.oid) pt)
                       ELSE pg_total_relation_size(c.oid) END`
const ROWS_SQL = `CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(greatest(pc.reltuples, 0)), 0) FROM pg_partition_tree(c.oid) pt
                         JOIN pg_class pc ON pc.oid = pt.relid WHERE pt.isleaf)
                       ELSE greatest(c.reltuples, 0) END`

const CATALOG_SQL = `
WITH big AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
   ORDER BY ${SIZE_SQL} DESC, c.oid LIMIT $1
), rel AS (
  SELECT oid, true AS large FROM big
  UNION
  SELECT DISTINCT k.confrelid, false FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid IN (SELECT oid FROM big)
     AND k.confrelid NOT IN (SELECT oid FROM big)
)
SELECT current_database() AS database, pg_database_size(current_database())::float8 AS database_bytes,
       pg_size_bytes(current_setting('shared_buffers'))::float8 AS shared_buffers_bytes,
       coalesce((SELECT json_agg(t ORDER BY t."sizeBytes" DESC, t.key) FROM (
         SELECT n.nspname || '.' || c.relname AS key, n.nspname AS schema, c.relname AS name, r.large,
                has_table_privilege(c.oid, 'SELECT') AS "canSelect",
                (${ROWS_SQL})::float8 AS rows, (${SIZE_SQL})::float8 AS "sizeBytes",
                (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                          'notNull', a.attnotnull, 'nDistinct', st.n_distinct, 'nullFrac', st.null_frac,
                          'correlation', st.correlation,
                          'maxCommonFreq', (SELECT max(f) FROM unnest(st.most_common_freqs) f)) ORDER BY a.attnum), '[]'::json)
                   FROM pg_attribute a
                   LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname AND st.attname = a.attname
                    -- One row per column: a parent of inheritance children also has statistics over its whole tree.
                    AND st.inherited = (c.relkind = 'p')
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
                (SELECT coalesce(json_agg(json_build_object('name', k.conname, 'kind', CASE k.contype WHEN 'p' THEN 'primary' ELSE 'unique' END,
                          'columns', (SELECT array_agg(a.attname ORDER BY u.i) FROM unnest(k.conkey) WITH ORDINALITY u(att, i)
                                        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.att)) ORDER BY k.conname), '[]'::json)
                   FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u')) AS constraints,
                ${foreignKeysSql('c.oid')} AS "foreignKeys"
           FROM rel r JOIN pg_class c ON c.oid = r.oid JOIN pg_namespace n ON n.oid = c.relnamespace) t), '[]'::json) AS tables`

/**
 * The columns worth simulating: keys first (foreign-key columns, then the primary and unique keys' columns), then the
 * other columns of a key type with the most distinct values. Columns of other types (timestamps, floats, json) are
 * not hashed: the advisor judges them from pg_stats alone.
 */
export function columnsToSample(table: ShardTable): string[] {
  const typed = new Map(table.columns.filter((c) => KEY_TYPES.test(c.type)).map((c) => [c.name, c]))
  const picked: string[] = []
  const add = (name: string) => {
    if (typed.has(name) && !picked.includes(name) && picked.length < MAX_SAMPLED_COLUMNS) picked.push(name)
  }
  for (const fk of table.foreignKeys) fk.columns.forEach(add)
  for (const k of table.constraints) k.columns.forEach(add)
  const distinct = (c: ColumnStats) => (c.nDistinct === null ? 0 : c.nDistinct < 0 ? -c.nDistinct * table.rows : c.nDistinct)
  ;[...typed.values()].sort((a, b) => distinct(b) - distinct(a)).forEach((c) => add(c.name))
  return picked
}

/** The SYSTEM sample percentage that reads about `rows` rows (twice over, as blocks vary), at most 100. */
export function samplePercent(tableRows: number, rows: number): number {
  if (tableRows <= rows) return 100
  return Math.min(100, Math.max(0.0001, Number(((200 * rows) / tableRows).toPrecision(3))))
}

/**
 * One round trip (simple protocol, so the numbers are written as literals: each is a finite number the probe computed):
 * the sample under a statement_timeout of what is left of the budget (SET LOCAL: the statements of one simple query
 * run as one implicit transaction, and it ends with them), then the sample.
 */
export function sampleSql(table: ShardTable, columns: string[], sample: {percent: number; rows: number; shards: number; timeoutMs: number}): string {
  const literal = (x: number, integer: boolean) => {
    if (!Number.isFinite(x) || x < 0 || (integer && !Number.isInteger(x))) throw new Error(`not a sample parameter: ${x}`)
    return String(x)
  }
  const shards = literal(sample.shards, true)
  const values = columns.map((c, i) => `(${i}, abs(hashtext(s.${quoteIdent(c)}::text)::int8) % ${shards})`).join(', ')
  return `SET LOCAL statement_timeout = ${literal(Math.max(1, Math.round(sample.timeoutMs)), true)};
SELECT b.col, b.shard, count(*)::int8 AS n
  FROM (SELECT ${columns.map(quoteIdent).join(', ')} FROM ${quoteQualified(table.schema, table.name)} TABLESAMPLE SYSTEM (${literal(sample.percent, false)}) REPEATABLE (0) LIMIT ${literal(sample.rows, true)}) s
  CROSS JOIN LATERAL (VALUES ${values}) b(col, shard)
 GROUP BY 1, 2`
}

export const columnStatsProbe: Probe<PgSession> = {
  id: 'postgres.column-stats',
  kind: 'postgres',
  description: 'Largest tables\' column statistics, keys and foreign keys, with a bounded sampled hash simulation of candidate shard keys',
  async collect(session, ctx): Promise<ProbeOutput> {
    const shards = intOption(ctx.options, 'shardPlan', DEFAULT_SHARDS)
    const sampleRows = intOption(ctx.options, 'shardSampleRows', DEFAULT_SAMPLE_ROWS)
    const sampleTables = intOption(ctx.options, 'shardSampleTables', DEFAULT_SAMPLE_TABLES)
    const budgetMs = intOption(ctx.options, 'shardSampleMs', DEFAULT_SAMPLE_MS)
    const row = await queryRow<{database: string; database_bytes: number; shared_buffers_bytes: number; tables: ShardTable[]}>(session, 'postgres.column-stats', CATALOG_SQL,
      [intOption(ctx.options, 'shardTables', DEFAULT_TABLES)])
    const tables: ShardTable[] = (row?.tables ?? []).map((t) => ({
      ...t, rows: num(t.rows), sizeBytes: num(t.sizeBytes),
      columns: t.columns.map((c) => ({...c, nDistinct: numOrNull(c.nDistinct), nullFrac: numOrNull(c.nullFrac), correlation: numOrNull(c.correlation), maxCommonFreq: numOrNull(c.maxCommonFreq)})),
      constraints: t.constraints.filter((k) => Array.isArray(k.columns)),
      foreignKeys: foreignKeysOf(t.foreignKeys),
    }))
    const started = Date.now()
    const toSample = tables.filter((t) => t.large && t.rows > 0).slice(0, sampleTables)
    const leftOut: string[] = []
    const unreadable: string[] = []
    const failed: string[] = []
    for (const table of toSample) {
      const columns = columnsToSample(table)
      if (columns.length === 0) continue
      if (table.canSelect === false) {
        unreadable.push(table.key)
        continue
      }
      if (Date.now() - started > budgetMs) {
        leftOut.push(table.key)
        continue
      }
      const percent = samplePercent(table.rows, sampleRows)
      // What is left of the budget bounds this sample too (never above the session's own statement_timeout).
      const timeoutMs = Math.min(budgetMs - (Date.now() - started), session.queryTimeoutMs - PG_DEFAULTS.querySlackMs)
      let counts: Array<{col: number; shard: string | null; n: string}>
      try {
        const results = await session.multi(sampleSql(table, columns, {percent, rows: sampleRows, shards, timeoutMs}))
        counts = results[results.length - 1].rows
      } catch (error) {
        // A stall is the capture's to handle; a lock or statement timeout on one table leaves it to pg_stats alone.
        if (error instanceof DeadlineExceeded || error instanceof ConnectionLost) throw error
        if ((error as {code?: string}).code === QUERY_CANCELED) leftOut.push(table.key)
        else failed.push(`${table.key} (${errorMessage(error).split('\n')[0]})`)
        continue
      }
      table.samplePercent = percent
      table.samples = columns.map((column, i) => {
        const mine = counts.filter((r) => Number(r.col) === i)
        const shardRows = Array.from({length: shards}, () => 0)
        let nulls = 0
        for (const r of mine) {
          if (r.shard === null) nulls += num(r.n)
          else shardRows[Number(r.shard)] += num(r.n)
        }
        return {column, rows: nulls + shardRows.reduce((a, b) => a + b, 0), nulls, shardRows}
      })
    }
    const data: ColumnStatsData = {database: String(row?.database ?? session.database), shards, databaseBytes: num(row?.database_bytes), sharedBuffersBytes: num(row?.shared_buffers_bytes), tables}
    const notRead: NonNullable<ProbeOutput['notRead']> = []
    const gap = (missing: string[], reason: string, fix?: string) => {
      if (missing.length > 0) notRead.push({what: 'shard-key hash samples', missing: missing.length, of: toSample.length, reason: `${reason}: ${missing.join(', ')} judged from pg_stats alone`, ...(fix ? {fix} : {})})
    }
    gap(leftOut, `sampling stopped after its ${budgetMs} ms budget`, 'raise the target option shardSampleMs, or lower shardSampleRows')
    const names = unreadable.map((k) => toSample.find((t) => t.key === k)!).map((t) => quoteQualified(t.schema, t.name))
    gap(unreadable, 'the audit role may not SELECT these tables', session.user ? `GRANT SELECT ON ${names.join(', ')} TO ${quoteIdent(session.user)};` : undefined)
    gap(failed, 'the sample query failed')
    return {data, metrics: [], ...(notRead.length > 0 ? {notRead} : {})}
  },
}
