import type {PgSession} from '../../drivers/postgres.js'
import {safeQueryTextSync} from './query-text.js'
import {ensureParser} from './workload.js'

/** Catalog facts the advisor needs, read once at capture time and kept in the snapshot. */
export interface ColumnFacts {
  name: string
  type: string
  nDistinct: number | null
  nullFrac: number | null
  avgWidth: number | null
  /** Most common values as SQL literals' text (first 10) and their frequencies, for partial-index selectivity. */
  mcv?: string[]
  mcf?: number[]
}

export interface TableFacts {
  key: string
  schema: string
  name: string
  rows: number
  pages: number
  sizeBytes: number
  columns: ColumnFacts[]
  /** Cumulative row writes since the statistics were reset (HOT updates excluded: they touch no index). */
  writes: number
  /** Row writes per second since the statistics reset. Not a write cost: a bulk load would read as a steady rate for as long as the statistics live (the advisor uses write-cost.ts). */
  writeRate: number
  partitioned: boolean
  /** Foreign keys this table holds (absent in snapshots taken before they were read). */
  foreignKeys?: ForeignKeyFacts[]
}

/** A foreign key constraint: its columns in this table and the table and columns they reference, in key order. */
export interface ForeignKeyFacts {
  name: string
  columns: string[]
  /** The referenced table's "schema.table" key, and its parts. */
  references: string
  referencedSchema: string
  referencedTable: string
  referencedColumns: string[]
}

/**
 * The foreign keys of the table whose oid is `tableOid`, as one json array (null when it has none), in key order:
 * the subquery both the catalog and postgres.column-stats select in the row of each table they read.
 */
export function foreignKeysSql(tableOid: string): string {
  return `(SELECT json_agg(json_build_object('name', co.conname, 'referencedSchema', rn.nspname, 'referencedTable', rc.relname,
                   'columns', array(SELECT a.attname FROM unnest(co.conkey) WITH ORDINALITY k(num, ord)
                                      JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.num ORDER BY k.ord),
                   'referencedColumns', array(SELECT a.attname FROM unnest(co.confkey) WITH ORDINALITY k(num, ord)
                                      JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.num ORDER BY k.ord)) ORDER BY co.conname)
              FROM pg_constraint co JOIN pg_class rc ON rc.oid = co.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE co.conrelid = ${tableOid} AND co.contype = 'f')`
}

/** The rows foreignKeysSql gave, each with its "schema.table" key; malformed ones (a column the role cannot see) left out. */
export function foreignKeysOf(json: unknown): ForeignKeyFacts[] {
  if (!Array.isArray(json)) return []
  return (json as Array<Omit<ForeignKeyFacts, 'references'>>)
    .filter((fk) => Array.isArray(fk.columns) && Array.isArray(fk.referencedColumns) && fk.columns.length === fk.referencedColumns.length)
    .map((fk) => ({...fk, references: `${fk.referencedSchema}.${fk.referencedTable}`}))
}

export interface ExistingIndex {
  name: string
  table: string
  method: string
  /** Key columns or expressions as pg_get_indexdef prints them. */
  keys: string[]
  include: string[]
  predicate: string | null
  valid: boolean
  unique: boolean
  sizeBytes: number
}

/** A view the workload reads: its columns and its definition (normalised: constants are $n), to look through it. */
export interface ViewFacts {
  key: string
  schema: string
  name: string
  columns: string[]
  definition: string
}

export interface CatalogFacts {
  tables: Record<string, TableFacts>
  /** Views among the relations the workload names (absent in snapshots taken before views were read). */
  views?: Record<string, ViewFacts>
  indexes: ExistingIndex[]
  extensions: string[]
  searchPath: string[]
  settings: {workMemBytes: number; randomPageCost: number; seqPageCost: number; blockSize: number}
  /** Seconds the statistics cover (pg_stat_statements and table counters), for turning counts into rates. */
  statsSeconds: number
}

const MAX_TABLES = 2000
const MAX_VIEWS = 500

/**
 * Reads user tables (largest first, bounded), their columns and statistics, and every index on them.
 *
 * With `relations` (the table names the workload's statements name, as the parser gives them), only the tables
 * that can appear in their plans: relations of those names in any user schema (a superset when a name is in
 * several schemas), the relations the views among them read (recursively), and the partitions and inheritance
 * children of all of these. The filter runs server-side, so the cost follows the workload, not the catalog: on a
 * database of thousands of tables the column statistics (pg_stats) of all of them are most of an audit's time.
 */
export async function readCatalog(session: PgSession, relations?: Array<{schema?: string; name: string}>): Promise<CatalogFacts> {
  const names = relations ? [...new Set(relations.map((r) => r.name))] : undefined
  const wanted = names
    ? `AND c.oid IN (
         WITH RECURSIVE rel(oid) AS (
           SELECT c2.oid FROM pg_class c2 WHERE c2.relname = ANY($1::text[])
           UNION
           SELECT x.oid FROM rel,
             LATERAL (SELECT d.refobjid AS oid FROM pg_rewrite rw JOIN pg_depend d
                        ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid AND d.refclassid = 'pg_class'::regclass
                       WHERE rw.ev_class = rel.oid
                      UNION ALL
                      SELECT ih.inhrelid FROM pg_inherits ih WHERE ih.inhparent = rel.oid) x
         )
         SELECT oid FROM rel)`
    : ''
  const tables = await session.query(`
    SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, greatest(c.reltuples, 0)::float8 AS rows, c.relpages::int AS pages,
           pg_total_relation_size(c.oid)::float8 AS size, c.relkind = 'p' AS partitioned,
           -- pg_stat_user_tables' own functions, per table: joining the view computes it for every table of the database.
           (pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_deleted(c.oid) + pg_stat_get_tuples_updated(c.oid)
              - pg_stat_get_tuples_hot_updated(c.oid))::float8 AS writes,
           (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                   'nDistinct', st.n_distinct, 'nullFrac', st.null_frac, 'avgWidth', st.avg_width,
                   'mcv', (st.most_common_vals::text::text[])[1:10], 'mcf', st.most_common_freqs[1:10]) ORDER BY a.attnum)
              FROM pg_attribute a
              LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname AND st.attname = a.attname
                    -- One row per column: a parent of inheritance children also has statistics over its whole tree.
                    AND st.inherited = (c.relkind = 'p')
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
           -- In the same row: the foreign keys of the tables read anyway, no extra round trip.
           ${foreignKeysSql('c.oid')} AS foreign_keys
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
       ${wanted}
     ORDER BY size DESC LIMIT ${MAX_TABLES}`, names ? [names] : undefined)
  // Views: the advisor parses their definitions to reach the base tables and columns a statement over a view reads.
  const views = await session.query(`
    SELECT n.nspname AS schema, c.relname AS name, pg_get_viewdef(c.oid, true) AS definition,
           array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
       ${wanted}
     ORDER BY c.oid LIMIT ${MAX_VIEWS}`, names ? [names] : undefined)
  const indexes = await session.query(`
    SELECT ic.relname AS name, n.nspname || '.' || t.relname AS table, am.amname AS method,
           array(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k) AS keys,
           array(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(i.indnkeyatts + 1, i.indnatts) k) AS include,
           pg_get_expr(i.indpred, i.indrelid, true) AS predicate, i.indisvalid AS valid, i.indisunique AS unique,
           pg_relation_size(i.indexrelid)::float8 AS size
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = ic.relam
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
       ${names ? 'AND i.indrelid = ANY($1::oid[])' : ''}`, names ? [tables.map((t) => String(t.oid))] : undefined)
  const [facts] = await session.query(`
    SELECT array(SELECT extname FROM pg_extension) AS extensions, current_schemas(false)::text[] AS search_path,
           pg_size_bytes(current_setting('work_mem'))::float8 AS work_mem,
           current_setting('random_page_cost')::float8 AS random_page_cost, current_setting('seq_page_cost')::float8 AS seq_page_cost,
           current_setting('block_size')::int AS block_size,
           extract(epoch FROM now() - coalesce((SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()), pg_postmaster_start_time()))::float8 AS stats_seconds`)
  const statsSeconds = Math.max(1, Number(facts.stats_seconds))
  const out: CatalogFacts = {
    tables: {},
    indexes: indexes.map((r) => ({name: r.name, table: r.table, method: r.method, keys: r.keys, include: r.include, predicate: r.predicate, valid: r.valid, unique: r.unique, sizeBytes: Number(r.size)})),
    extensions: facts.extensions,
    searchPath: facts.search_path,
    settings: {workMemBytes: Number(facts.work_mem), randomPageCost: Number(facts.random_page_cost), seqPageCost: Number(facts.seq_page_cost), blockSize: facts.block_size},
    statsSeconds,
    views: {},
  }
  if (views.length > 0) await ensureParser()
  for (const v of views) {
    const key = `${v.schema}.${v.name}`
    // Normalised like every query text read from the server: a literal in a view definition is not ours to store.
    const safe = safeQueryTextSync(String(v.definition ?? ''))
    if (safe.treatment === 'normalised') out.views![key] = {key, schema: v.schema, name: v.name, columns: Array.isArray(v.columns) ? v.columns.map(String) : [], definition: safe.text}
  }
  for (const t of tables) {
    const key = `${t.schema}.${t.name}`
    out.tables[key] = {
      key, schema: t.schema, name: t.name, rows: Number(t.rows), pages: t.pages, sizeBytes: Number(t.size), partitioned: t.partitioned,
      columns: (t.columns ?? []) as ColumnFacts[], writes: Number(t.writes), writeRate: Number(t.writes) / statsSeconds,
      foreignKeys: foreignKeysOf(t.foreign_keys),
    }
  }
  return out
}

/** The "schema.table" -> columns map parsing needs, with the views' columns and definitions to look through them. */
export function columnsOf(catalog: CatalogFacts): {columns: Record<string, string[]>; searchPath: string[]; views: Record<string, string>} {
  const views = Object.values(catalog.views ?? {})
  return {
    columns: Object.fromEntries([...views.map((v) => [v.key, v.columns]), ...Object.values(catalog.tables).map((t) => [t.key, t.columns.map((c) => c.name)])]),
    searchPath: catalog.searchPath,
    views: Object.fromEntries(views.map((v) => [v.key, v.definition])),
  }
}
