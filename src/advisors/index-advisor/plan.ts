import {parseSync} from 'libpg-query'
import type {PgSession} from '../../drivers/postgres.js'
import {ensureParser} from './workload.js'

/** A statement made safe to embed in EXPLAIN: exactly one plannable DML statement, its text cut by the parser. */
export interface PlannableStatement {
  sql: string
  paramCount: number
}

const PLANNABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])

function maxParam(node: unknown): number {
  if (Array.isArray(node)) return node.reduce((m: number, n) => Math.max(m, maxParam(n)), 0)
  if (!node || typeof node !== 'object') return 0
  const n = node as Record<string, any>
  let max = n.ParamRef ? (n.ParamRef.number ?? 0) : 0
  for (const v of Object.values(n)) if (v && typeof v === 'object') max = Math.max(max, maxParam(v))
  return max
}

/**
 * Checks with the parser that `sql` is one SELECT/INSERT/UPDATE/DELETE/MERGE and nothing else: the text is
 * placed inside "EXPLAIN ..." and "PREPARE ... AS", so a second statement or a COMMIT must never get through.
 */
export async function plannable(sql: string): Promise<PlannableStatement> {
  await ensureParser()
  let parsed
  try {
    parsed = parseSync(sql)
  } catch (error) {
    throw new Error(`does not parse: ${(error as Error).message}`)
  }
  const stmts = parsed.stmts ?? []
  if (stmts.length !== 1) throw new Error(`expected one statement, found ${stmts.length}`)
  const node = stmts[0].stmt as Record<string, unknown>
  const kind = Object.keys(node)[0]
  if (!PLANNABLE.has(kind)) throw new Error(`${kind.replace(/Stmt$/, '').toUpperCase()} statements have no plan to improve`)
  const bytes = Buffer.from(sql, 'utf8')
  const start = stmts[0].stmt_location ?? 0
  const text = bytes.subarray(start, stmts[0].stmt_len ? start + stmts[0].stmt_len : bytes.length).toString('utf8').trim()
  return {sql: text, paramCount: maxParam(node)}
}

export interface PlanResult {
  plan: Record<string, any>
  /** Total cost of the top plan node. */
  cost: number
}

const PREPARED_NAME = 'chokepoint_plan'

/**
 * The plain (never ANALYZE) JSON plan of a statement. Statements with $n parameters get a generic plan:
 * EXPLAIN (GENERIC_PLAN) on PostgreSQL 16+; before that PREPARE + EXPLAIN EXECUTE with NULL arguments under
 * plan_cache_mode = force_generic_plan, so the NULLs are never folded into the plan (they stay $n). Everything
 * runs inside BEGIN ... ROLLBACK in one round trip; EXPLAIN without ANALYZE executes nothing, and the session
 * stays read-only (PostgreSQL 15 accepts PREPARE and EXPLAIN EXECUTE of an INSERT in a read-only transaction).
 */
export async function explainStatement(session: PgSession, stmt: PlannableStatement): Promise<PlanResult> {
  let text: string
  if (stmt.paramCount === 0) text = `BEGIN; EXPLAIN (FORMAT JSON) ${stmt.sql}\n; ROLLBACK`
  else if (session.serverVersionNum >= 160000) text = `BEGIN; EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${stmt.sql}\n; ROLLBACK`
  else {
    const args = Array.from({length: stmt.paramCount}, () => 'NULL').join(', ')
    text = `BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; PREPARE ${PREPARED_NAME} AS ${stmt.sql}\n;`
      + ` EXPLAIN (FORMAT JSON) EXECUTE ${PREPARED_NAME}(${args}); DEALLOCATE ${PREPARED_NAME}; ROLLBACK`
  }
  session.log.record(text)
  let results: any
  try {
    results = await session.client.query(text)
  } catch (error) {
    // The transaction is aborted and the prepared statement may have survived it (PREPARE is not transactional).
    await session.client.query('ROLLBACK').catch(() => {})
    if (stmt.paramCount > 0 && session.serverVersionNum < 160000) await session.client.query(`DEALLOCATE ${PREPARED_NAME}`).catch(() => {})
    throw error
  }
  const list = Array.isArray(results) ? results : [results]
  const explain = list.find((r: any) => r.fields?.[0]?.name === 'QUERY PLAN')
  const json = explain?.rows?.[0]?.['QUERY PLAN']
  const doc = typeof json === 'string' ? JSON.parse(json) : json
  const plan = doc?.[0]?.Plan
  if (!plan) throw new Error('EXPLAIN returned no plan')
  return {plan, cost: Number(plan['Total Cost'])}
}
