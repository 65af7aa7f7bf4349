import type {PgSession} from '../../drivers/postgres.js'

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
  /** Row writes per second since the statistics reset. */
  writeRate: number
  partitioned: boolean
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

export interface CatalogFacts {
  tables: Record<string, TableFacts>
  indexes: ExistingIndex[]
  extensions: string[]
  searchPath: string[]
  settings: {workMemBytes: number; randomPageCost: number; seqPageCost: number; blockSize: number}
  /** Seconds the statistics cover (pg_stat_statements and table counters), for turning counts into rates. */
  statsSeconds: number
}

const MAX_TABLES = 2000

/** Reads user tables (largest first, bounded), their columns and statistics, and every index on them. */
export async function readCatalog(session: PgSession): Promise<CatalogFacts> {
  const tables = await session.query(`
    SELECT n.nspname AS schema, c.relname AS name, greatest(c.reltuples, 0)::float8 AS rows, c.relpages::int AS pages,
           pg_total_relation_size(c.oid)::float8 AS size, c.relkind = 'p' AS partitioned,
           coalesce(s.n_tup_ins + s.n_tup_del + s.n_tup_upd - s.n_tup_hot_upd, 0)::float8 AS writes,
           (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                   'nDistinct', st.n_distinct, 'nullFrac', st.null_frac, 'avgWidth', st.avg_width,
                   'mcv', (st.most_common_vals::text::text[])[1:10], 'mcf', st.most_common_freqs[1:10]) ORDER BY a.attnum)
              FROM pg_attribute a
              LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname AND st.attname = a.attname
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
     ORDER BY pg_total_relation_size(c.oid) DESC LIMIT ${MAX_TABLES}`)
  const indexes = await session.query(`
    SELECT ic.relname AS name, n.nspname || '.' || t.relname AS table, am.amname AS method,
           array(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k) AS keys,
           array(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(i.indnkeyatts + 1, i.indnatts) k) AS include,
           pg_get_expr(i.indpred, i.indrelid, true) AS predicate, i.indisvalid AS valid, i.indisunique AS unique,
           pg_relation_size(i.indexrelid)::float8 AS size
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = ic.relam
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`)
  const [facts] = await session.query(`
    SELECT array(SELECT extname FROM pg_extension) AS extensions, current_schemas(false) AS search_path,
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
  }
  for (const t of tables) {
    const key = `${t.schema}.${t.name}`
    out.tables[key] = {
      key, schema: t.schema, name: t.name, rows: Number(t.rows), pages: t.pages, sizeBytes: Number(t.size), partitioned: t.partitioned,
      columns: (t.columns ?? []) as ColumnFacts[], writes: Number(t.writes), writeRate: Number(t.writes) / statsSeconds,
    }
  }
  return out
}

/** The "schema.table" -> columns map parsing needs. */
export function columnsOf(catalog: CatalogFacts): {columns: Record<string, string[]>; searchPath: string[]} {
  return {columns: Object.fromEntries(Object.values(catalog.tables).map((t) => [t.key, t.columns.map((c) => c.name)])), searchPath: catalog.searchPath}
}
