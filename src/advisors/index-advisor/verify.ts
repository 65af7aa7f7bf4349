import {errorMessage} from '../../core/errors.js'
import type {PgSession} from '../../drivers/postgres.js'
import type {CatalogFacts} from '../../knowledge/postgres/catalog.js'
import {indexDefinition, type Candidate} from './candidates.js'
import {explainStatement, type PlannableStatement} from '../../knowledge/postgres/plan.js'

export const SCRATCH_MARK = 'chokepoint:scratch'
const PREPARED_NAME = 'chokepoint_verify'

/**
 * Whether the database is marked scratch: its COMMENT ON DATABASE contains "chokepoint:scratch". The option
 * `scratch: true` alone is not enough (a flag can point at the wrong URL; the comment lives in the database itself),
 * so --verify-real needs the comment, and the option as an explicit acknowledgement.
 */
export async function isScratchDatabase(session: PgSession): Promise<boolean> {
  const [row] = await session.query(`SELECT coalesce(shobj_description(oid, 'pg_database'), '') AS comment FROM pg_database WHERE datname = current_database()`)
  return String(row?.comment ?? '').includes(SCRATCH_MARK)
}

/** Why --verify-real may not run here, or undefined when it may. */
export async function verifyRealRefusal(session: PgSession, scratchOption: boolean): Promise<string | undefined> {
  const marked = await isScratchDatabase(session)
  const missing = [
    ...(marked ? [] : [`COMMENT ON DATABASE ${session.database || '...'} IS '${SCRATCH_MARK}' is missing`]),
    ...(scratchOption ? [] : ['the target option scratch: true is not set']),
  ]
  if (missing.length > 0) return `--verify-real refused: the database must be marked scratch (${missing.join('; ')})`
  if (session.inRecovery) return '--verify-real refused: the server is a standby (indexes cannot be built there)'
  return undefined
}

/**
 * Builds the chosen indexes for real inside one transaction, EXPLAINs every statement, and rolls back: the
 * costs come from real indexes (with real sizes) and nothing persists. Refuses anything not marked scratch.
 *
 * The session is read-only (default_transaction_read_only = on), so the transaction turns itself read-write with
 * SET LOCAL transaction_read_only = off as its very first statement: PostgreSQL accepts that only before the
 * transaction's first snapshot ("transaction read-write mode must be set before any query"), and only for this
 * transaction; the session stays read-only afterwards. Each statement is planned under a savepoint so that one
 * failing plan neither aborts the others nor leaves the transaction unusable.
 */
export async function verifyReal(session: PgSession, statements: Array<PlannableStatement | undefined>, chosen: Candidate[], catalog: CatalogFacts, scratchOption: boolean): Promise<{costs: Array<number | undefined>; errors: Array<string | undefined>}> {
  const refusal = await verifyRealRefusal(session, scratchOption)
  if (refusal) throw new Error(refusal)
  // Hypothetical indexes would compete with the real ones in the plans.
  await session.query('SELECT hypopg_reset()').catch(() => {})
  await session.query('BEGIN')
  try {
    await session.query('SET LOCAL transaction_read_only = off')
    for (const c of chosen) await session.query(indexDefinition(c, catalog))
    const costs: Array<number | undefined> = []
    const errors: Array<string | undefined> = []
    for (const stmt of statements) {
      if (!stmt) {
        costs.push(undefined)
        errors.push(undefined)
        continue
      }
      await session.query('SAVEPOINT chokepoint_verify_stmt')
      try {
        costs.push(await explainInside(session, stmt))
        errors.push(undefined)
        await session.query('RELEASE SAVEPOINT chokepoint_verify_stmt')
      } catch (error) {
        await session.query('ROLLBACK TO SAVEPOINT chokepoint_verify_stmt')
        // PREPARE is not transactional: a prepared statement whose EXPLAIN failed survives the rollback.
        await session.query(`DEALLOCATE ${PREPARED_NAME}`).catch(() => {})
        costs.push(undefined)
        errors.push(errorMessage(error).split('\n')[0])
      }
    }
    return {costs, errors}
  } finally {
    await session.query('ROLLBACK').catch(() => {})
  }
}

/** A plain EXPLAIN inside the caller's transaction (explainStatement wraps its own BEGIN/ROLLBACK). */
async function explainInside(session: PgSession, stmt: PlannableStatement): Promise<number | undefined> {
  let text = `EXPLAIN (FORMAT JSON) ${stmt.sql}\n`
  if (stmt.paramCount > 0) {
    if (session.serverVersionNum >= 160000) text = `EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${stmt.sql}\n`
    else {
      await session.query('SET LOCAL plan_cache_mode = force_generic_plan')
      await session.query(`PREPARE ${PREPARED_NAME} AS ${stmt.sql}\n`)
      const rows = await session.query(`EXPLAIN (FORMAT JSON) EXECUTE ${PREPARED_NAME}(${Array.from({length: stmt.paramCount}, () => 'NULL').join(', ')})`)
      await session.query(`DEALLOCATE ${PREPARED_NAME}`)
      return totalCost(rows)
    }
  }
  return totalCost(await session.query(text))
}

function totalCost(rows: Array<Record<string, any>>): number {
  const json = rows[0]?.['QUERY PLAN']
  const doc = typeof json === 'string' ? JSON.parse(json) : json
  const cost = Number(doc?.[0]?.Plan?.['Total Cost'])
  if (!Number.isFinite(cost)) throw new Error('EXPLAIN returned no plan')
  return cost
}

export {explainStatement}
