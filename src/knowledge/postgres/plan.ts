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

/**
 * What PostgreSQL divides a parallel-aware node's rows by (costsize.c, get_parallel_divisor): the workers planned,
 * plus the leader's share while it still has time to run the plan itself (1 − 0.3 per worker, with
 * parallel_leader_participation on, the default). EXPLAIN shows a parallel-aware node's rows per process, so a
 * Parallel Seq Scan under a Gather of 2 workers shows 1/2.4 of the rows the scan returns in all.
 */
export function parallelDivisor(workers: number, leaderParticipation = true): number {
  if (!(workers > 0)) return 1
  const leader = leaderParticipation ? 1 - 0.3 * workers : 0
  return workers + Math.max(0, leader)
}

/**
 * A plan node's estimated rows over all processes: its Plan Rows, times the parallel divisor when it is
 * parallel-aware under a Gather or Gather Merge of `workers` planned workers (a node that is not parallel-aware,
 * such as the inner side of a join that each worker builds whole, shows its full row count already).
 */
export function totalPlanRows(node: Record<string, any>, workers: number): number {
  const rows = Number(node['Plan Rows'] ?? 0)
  return node['Parallel Aware'] === true && workers > 0 ? rows * parallelDivisor(workers) : rows
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
  const [result] = await explainBatch(session, [stmt])
  if (result instanceof Error) throw result
  return result
}

/** Whether the statement is planned through PREPARE (PostgreSQL < 16 with $n): it leaves a prepared statement behind on error. */
const viaPrepare = (session: PgSession, stmt: PlannableStatement) => stmt.paramCount > 0 && session.serverVersionNum < 160000

/** The commands that plan one statement, each ending with ';' (the statement's text on its own line: a trailing -- comment ends there). */
function explainCommands(session: PgSession, stmt: PlannableStatement): string {
  if (stmt.paramCount === 0) return `EXPLAIN (FORMAT JSON) ${stmt.sql}\n;`
  if (session.serverVersionNum >= 160000) return `EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${stmt.sql}\n;`
  const args = Array.from({length: stmt.paramCount}, () => 'NULL').join(', ')
  return `PREPARE ${PREPARED_NAME} AS ${stmt.sql}\n; EXPLAIN (FORMAT JSON) EXECUTE ${PREPARED_NAME}(${args}); DEALLOCATE ${PREPARED_NAME};`
}

function planOf(result: any): PlanResult {
  const json = result?.rows?.[0]?.['QUERY PLAN']
  const doc = typeof json === 'string' ? JSON.parse(json) : json
  const plan = doc?.[0]?.Plan
  if (!plan) throw new Error('EXPLAIN returned no plan')
  return {plan, cost: Number(plan['Total Cost'])}
}

/** Statements planned per round trip by explainBatch. */
export const EXPLAIN_BATCH_SIZE = 25

/**
 * Plain plans of several statements, EXPLAIN_BATCH_SIZE per round trip: one simple-protocol query
 * "BEGIN; [SET LOCAL plan_cache_mode = force_generic_plan;] <EXPLAIN of each> ROLLBACK" (see explainStatement for
 * how each statement is planned without being executed). Returns each statement's plan, or the Error it alone
 * raises, in order.
 *
 * An error stops the rest of a query string and loses the results before it, so a failing batch is re-planned
 * without the failing statement: PostgreSQL reports the error's position in the whole string for parse-analysis
 * errors (unknown table or column, undeterminable parameter type), which names the statement; without a position
 * (a lock or statement timeout, a planner error) the batch is split in halves until the statement is alone. After
 * each failure the aborted transaction is rolled back and the prepared statement a failed EXPLAIN EXECUTE may have
 * left (PREPARE is not transactional) is deallocated, in one round trip, so the session is clean for the next.
 */
export async function explainBatch(session: PgSession, stmts: PlannableStatement[], batchSize = EXPLAIN_BATCH_SIZE): Promise<Array<PlanResult | Error>> {
  const out: Array<PlanResult | Error> = new Array(stmts.length)
  const run = async (indices: number[]): Promise<void> => {
    if (indices.length === 0) return
    const prepared = indices.some((i) => viaPrepare(session, stmts[i]))
    let text = `BEGIN;${prepared ? ' SET LOCAL plan_cache_mode = force_generic_plan;' : ''}`
    // Code point offsets (PostgreSQL's error positions count characters, 1-based) where each statement's commands end.
    const ends: number[] = []
    let length = [...text].length
    for (const i of indices) {
      const commands = ` ${explainCommands(session, stmts[i])}`
      text += commands
      length += [...commands].length
      ends.push(length)
    }
    text += ' ROLLBACK'
    let results: Awaited<ReturnType<PgSession['multi']>>
    try {
      results = await session.multi(text)
    } catch (error) {
      // One round trip: ROLLBACK ends the aborted transaction; a DEALLOCATE of nothing then fails alone, outside it.
      const cleanup = prepared ? `ROLLBACK; DEALLOCATE ${PREPARED_NAME}` : 'ROLLBACK'
      await session.multi(cleanup).catch(() => {})
      if (indices.length === 1) {
        out[indices[0]] = error instanceof Error ? error : new Error(String(error))
        return
      }
      const position = Number((error as {position?: string}).position)
      const at = position > 0 ? ends.findIndex((end) => position <= end) : -1
      if (at >= 0) {
        out[indices[at]] = error instanceof Error ? error : new Error(String(error))
        await run(indices.slice(0, at))
        await run(indices.slice(at + 1))
      } else {
        const half = Math.ceil(indices.length / 2)
        await run(indices.slice(0, half))
        await run(indices.slice(half))
      }
      return
    }
    const plans = results.filter((r) => r.fields?.[0]?.name === 'QUERY PLAN')
    indices.forEach((i, k) => {
      try {
        out[i] = planOf(plans[k])
      } catch (error) {
        out[i] = error as Error
      }
    })
  }
  for (let from = 0; from < stmts.length; from += batchSize) {
    await run(stmts.slice(from, from + batchSize).map((_, k) => from + k))
  }
  return out
}
