import type {PgSession} from '../../drivers/postgres.js'
import type {CatalogFacts} from './catalog.js'
import {indexDefinition, type Candidate} from './candidates.js'
import {explainStatement, type PlannableStatement} from './plan.js'

export const SCRATCH_MARK = 'chokepoint:scratch'

/**
 * Whether the database is marked scratch: its COMMENT ON DATABASE contains "chokepoint:scratch". The option
 * `scratch: true` alone is not enough (a flag can point at the wrong URL; the comment lives in the database itself),
 * so --verify-real needs the comment, and the option as an explicit acknowledgement.
 */
export async function isScratchDatabase(session: PgSession): Promise<boolean> {
  const [row] = await session.query(`SELECT coalesce(shobj_description(oid, 'pg_database'), '') AS comment FROM pg_database WHERE datname = current_database()`)
  return String(row?.comment ?? '').includes(SCRATCH_MARK)
}

/**
 * Builds the chosen indexes for real inside one transaction, EXPLAINs every statement, and rolls back: the
 * costs come from real indexes (with real sizes) and nothing persists. Refuses anything not marked scratch.
 */
export async function verifyReal(session: PgSession, statements: Array<PlannableStatement | undefined>, chosen: Candidate[], catalog: CatalogFacts, scratchOption: boolean): Promise<{costs: Array<number | undefined>}> {
  if (!scratchOption || !(await isScratchDatabase(session))) {
    throw new Error(`--verify-real refused: the database must carry COMMENT ON DATABASE ... IS '${SCRATCH_MARK}' and the target option scratch: true`)
  }
  await session.query('SELECT hypopg_reset()').catch(() => {})
  await session.query('BEGIN')
  try {
    await session.query('SET LOCAL transaction_read_only = off')
    for (const c of chosen) await session.query(indexDefinition(c, catalog))
    const costs: Array<number | undefined> = []
    for (const stmt of statements) {
      if (!stmt) {
        costs.push(undefined)
        continue
      }
      // explainStatement wraps its own BEGIN/ROLLBACK; inside ours, use a savepoint-free plain EXPLAIN instead.
      costs.push(await explainInside(session, stmt))
    }
    return {costs}
  } finally {
    await session.query('ROLLBACK').catch(() => {})
  }
}

async function explainInside(session: PgSession, stmt: PlannableStatement): Promise<number | undefined> {
  let text = `EXPLAIN (FORMAT JSON) ${stmt.sql}\n`
  if (stmt.paramCount > 0) {
    if (session.serverVersionNum >= 160000) text = `EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${stmt.sql}\n`
    else {
      await session.query('SET LOCAL plan_cache_mode = force_generic_plan')
      await session.query(`PREPARE chokepoint_verify AS ${stmt.sql}\n`)
      try {
        const rows = await session.query(`EXPLAIN (FORMAT JSON) EXECUTE chokepoint_verify(${Array.from({length: stmt.paramCount}, () => 'NULL').join(', ')})`)
        return Number(rows[0]['QUERY PLAN'][0].Plan['Total Cost'])
      } finally {
        await session.query('DEALLOCATE chokepoint_verify')
      }
    }
  }
  const rows = await session.query(text)
  return Number(rows[0]['QUERY PLAN'][0].Plan['Total Cost'])
}

export {explainStatement}
