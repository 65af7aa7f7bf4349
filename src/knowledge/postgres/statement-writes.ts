import {parseSync} from 'libpg-query'
import type {PgSession} from '../../drivers/postgres.js'
import {notOwnStatement} from './own-queries.js'

/** One writing statement of pg_stat_statements: what it writes to, how often and how many rows. */
export interface StatementWrite {
  queryid: string
  kind: 'insert' | 'update' | 'delete' | 'merge' | 'copy'
  /** The written table as the statement names it: schema (when qualified) and name, unquoted. */
  schema?: string
  name: string
  calls: number
  rows: number
}

/** The workload's writes per statement, over the period pg_stat_statements has counted (the read weights' period). */
export interface StatementWrites {
  /** Seconds the counters cover: the same period as the statements' read weights (calls per second). */
  seconds: number
  /** What the period is measured from. */
  basis: string
  statements: StatementWrite[]
  /** The read stopped at its row limit: the least-writing statements are not listed. */
  truncated: boolean
}

/** At most this many writing statements are read (most rows first). */
export const MAX_WRITE_STATEMENTS = 500

const KINDS: Record<string, StatementWrite['kind']> = {InsertStmt: 'insert', UpdateStmt: 'update', DeleteStmt: 'delete', MergeStmt: 'merge', CopyStmt: 'copy'}

/** The parse node of a text holding exactly one statement, as [node type, node]; undefined when it does not parse. */
function onlyStatement(sql: string): [string, Record<string, any>] | undefined {
  let tree
  try {
    tree = parseSync(sql)
  } catch {
    return undefined
  }
  const stmt = tree.stmts?.[0]?.stmt as Record<string, any> | undefined
  if (!stmt || tree.stmts?.length !== 1) return undefined
  return Object.entries(stmt)[0] as [string, Record<string, any>] | undefined
}

/**
 * What a statement writes, from its parse tree: the target of a top-level INSERT, UPDATE, DELETE, MERGE or
 * COPY ... FROM (COPY TO and COPY (query) write nothing). Data-modifying CTEs under a SELECT are not counted
 * (pg_stat_statements' rows are the outer statement's). undefined when it writes no table or does not parse.
 */
export function writeTarget(sql: string): {kind: StatementWrite['kind']; schema?: string; name: string} | undefined {
  const [type, node] = onlyStatement(sql) ?? []
  return writeOf(type, node)
}

function writeOf(type: string | undefined, node: Record<string, any> | undefined): ReturnType<typeof writeTarget> {
  const kind = type ? KINDS[type] : undefined
  if (!kind || !node?.relation?.relname) return undefined
  if (kind === 'copy' && !node.is_from) return undefined
  return {kind, ...(node.relation.schemaname ? {schema: node.relation.schemaname} : {}), name: node.relation.relname}
}

/**
 * The writing statements of this database in pg_stat_statements, all nesting levels (with track = all a
 * function's INSERT is recorded on its own; the calling SELECT writes nothing itself), bounded and without
 * chokepoint's own. Statements that wrote WAL come first (PostgreSQL 13+), then by rows: a large SELECT does not
 * push a write out of the limit; an unlogged table's writes (no WAL) still come before every non-writing statement
 * of fewer rows. Texts are parsed here and never kept: only the queryid, the kind, the table, calls and rows.
 */
export async function readStatementWrites(session: PgSession, seconds: number, basis: string): Promise<StatementWrites> {
  const wal = session.serverVersionNum >= 130000 ? 'bool_or(s.wal_records > 0) DESC, ' : ''
  // One row per queryid: pg_stat_statements has one per user and nesting level of the same statement.
  const rows = await session.query(`
    SELECT s.queryid::text AS id, min(s.query) AS query, sum(s.calls)::float8 AS calls, sum(s.rows)::float8 AS rows
      FROM pg_stat_statements s
     WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND s.calls > 0 AND s.rows > 0 AND ${notOwnStatement('s.query')}
     GROUP BY s.queryid
     ORDER BY ${wal}sum(s.rows) DESC
     LIMIT ${MAX_WRITE_STATEMENTS + 1}`)
  const statements: StatementWrite[] = []
  for (const r of rows.slice(0, MAX_WRITE_STATEMENTS)) {
    const target = writeTarget(String(r.query ?? ''))
    if (target) statements.push({queryid: r.id, ...target, calls: Number(r.calls), rows: Number(r.rows)})
  }
  return {seconds, basis, statements, truncated: rows.length > MAX_WRITE_STATEMENTS}
}

/**
 * Where a statement can run, from its parse tree: a plain `read` (a SELECT with no locking clause and no
 * data-modifying CTE: a hot standby can serve it), a `locking-read` (SELECT ... FOR UPDATE/SHARE: takes row locks,
 * which only the primary can), a `write` (what writeTarget names, and a SELECT whose CTE writes) or `other`
 * (utility statements, CALL, DO: the primary's). `tables` are every relation the tree names (RangeVar), the
 * statement's own CTE names left out, each as `schema.name` when qualified, else `name`.
 */
export interface StatementAccess {
  access: 'read' | 'locking-read' | 'write' | 'other'
  /** select, insert, update, delete, merge, copy, or the parse node's name for the rest (e.g. TransactionStmt). */
  kind: string
  tables: string[]
  written?: string
}

const DATA_MODIFYING = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])

function visitNodes(node: unknown, visit: (n: Record<string, any>) => void): void {
  if (Array.isArray(node)) for (const n of node) visitNodes(n, visit)
  else if (node && typeof node === 'object') {
    visit(node as Record<string, any>)
    for (const v of Object.values(node)) if (v && typeof v === 'object') visitNodes(v, visit)
  }
}

export function statementAccess(sql: string): StatementAccess | undefined {
  const [type, node] = onlyStatement(sql) ?? []
  const ctes = new Set<string>()
  const named: string[] = []
  let writesInCte = false
  let locks = false
  visitNodes(node, (n) => {
    if (n.CommonTableExpr?.ctename) {
      ctes.add(n.CommonTableExpr.ctename)
      const inner = Object.keys(n.CommonTableExpr.ctequery ?? {})[0]
      if (inner && DATA_MODIFYING.has(inner)) writesInCte = true
    }
    if (n.RangeVar?.relname) named.push(n.RangeVar.schemaname ? `${n.RangeVar.schemaname}.${n.RangeVar.relname}` : n.RangeVar.relname)
    if (Array.isArray(n.lockingClause) && n.lockingClause.length > 0) locks = true
  })
  const tables = [...new Set(named.filter((t) => t.includes('.') || !ctes.has(t)))]
  if (!type) return undefined
  const target = writeOf(type, node)
  if (target) return {access: 'write', kind: target.kind, tables, written: target.schema ? `${target.schema}.${target.name}` : target.name}
  if (type !== 'SelectStmt') return {access: 'other', kind: type ?? 'unknown', tables}
  if (writesInCte) return {access: 'write', kind: 'select', tables}
  return {access: locks ? 'locking-read' : 'read', kind: 'select', tables}
}
