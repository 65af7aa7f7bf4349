import type {AdvisorFinding} from '../../core/advisor.js'
import {errorMessage} from '../../core/errors.js'
import {quoteMysqlIdent, quoteMysqlQualified} from '../../core/sql.js'
import {parseExplain} from '../../knowledge/mysql/explain.js'
import {maskLiterals} from '../../probes/mysql/query-text.js'

/**
 * --verify-real for MySQL/MariaDB: neither has hypothetical indexes, so each proposed index is built for real
 * (ALGORITHM=INPLACE, LOCK=NONE), the statements it is for are explained again, and it is dropped, always, also when
 * anything in between fails. Only on a database marked scratch, with the target option scratch: true as well (the
 * same double opt-in as for PostgreSQL: a flag can point at the wrong URL, the mark lives in the database itself):
 *  - MariaDB: the database comment holds "chokepoint:scratch" (ALTER DATABASE db COMMENT 'chokepoint:scratch';
 *    information_schema.SCHEMATA.SCHEMA_COMMENT, MariaDB 10.5+);
 *  - MySQL has no database comments: a table named chokepoint_scratch in it marks it (from the documentation; not run
 *    here). Either mark is accepted on either flavour.
 * The advisor's own session is READ ONLY; this runs on a second one, opened only with --verify-real.
 */

export const SCRATCH_MARK = 'chokepoint:scratch'
export const SCRATCH_TABLE = 'chokepoint_scratch'

/** What verification needs of a session: the read-write one of verify, or a fake in tests. */
export interface VerifySession {
  flavour: 'mysql' | 'mariadb'
  readOnly: boolean
  isReplica: boolean | null
  query<T extends Record<string, unknown> = Record<string, any>>(sql: string, params?: unknown[], logAs?: {text: string; scrub: (message: string) => string}): Promise<T[]>
}

export async function isScratchDatabase(session: VerifySession, schema: string): Promise<boolean> {
  const [comment] = await session.query<{c: string | null}>('SELECT SCHEMA_COMMENT AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [schema])
    .catch(() => [] as Array<{c: string | null}>)
  if (String(comment?.c ?? '').includes(SCRATCH_MARK)) return true
  const [table] = await session.query<{n: number | string}>('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, SCRATCH_TABLE])
  return Number(table?.n ?? 0) > 0
}

/** Why --verify-real may not build indexes in `schema`, or undefined when it may. */
export async function verifyRealRefusal(session: VerifySession, schema: string, scratchOption: boolean): Promise<string | undefined> {
  const marked = await isScratchDatabase(session, schema)
  const missing = [
    ...(marked ? [] : [`the database ${quoteMysqlIdent(schema)} is not marked (${session.flavour === 'mariadb' ? `ALTER DATABASE ${quoteMysqlIdent(schema)} COMMENT '${SCRATCH_MARK}'` : `CREATE TABLE ${quoteMysqlQualified(schema, SCRATCH_TABLE)} (id INT PRIMARY KEY)`})`]),
    ...(scratchOption ? [] : ['the target option scratch: true is not set']),
  ]
  if (missing.length > 0) return `--verify-real refused: the database must be marked scratch (${missing.join('; ')})`
  if (session.isReplica) return '--verify-real refused: the server is a replica (an index built there would differ from its source)'
  if (session.readOnly) return '--verify-real refused: the server is read_only'
  return undefined
}

export interface VerifyStatement {
  id: string
  schema: string | null
  /** The text explained (with its literal values): from memory, never from the snapshot. */
  text: string
}

/** The optimizer's estimate of the rows a plan examines (every table access), and whether it uses `index`. */
function planRows(explain: unknown, flavour: 'mysql' | 'mariadb', index: string): {rows: number; uses: boolean} {
  const plan = parseExplain(explain, flavour)
  return {rows: plan.accesses.reduce((sum, a) => sum + (a.rowsExamined ?? 0), 0), uses: plan.accesses.some((a) => a.key === index)}
}

async function explain(session: VerifySession, s: VerifyStatement, flavour: 'mysql' | 'mariadb', index: string) {
  if (s.schema) await session.query(`USE ${quoteMysqlIdent(s.schema)}`)
  const [row] = await session.query(`EXPLAIN FORMAT=JSON ${s.text}`, undefined, {text: `EXPLAIN FORMAT=JSON ${maskLiterals(s.text)}`, scrub: (m) => maskLiterals(m.split('\n')[0])})
  return planRows(JSON.parse(String(Object.values(row ?? {})[0] ?? '')), flavour, index)
}

export interface VerifyResult {
  verified: boolean
  rowsExaminedBefore?: number
  rowsExaminedAfter?: number
  why: string
}

/**
 * Builds the finding's index, explains its statements before and after, drops it (in a finally). Verified when
 * every statement's plan uses the index and examines fewer rows in all.
 */
export async function verifyProposal(session: VerifySession, f: AdvisorFinding, statements: VerifyStatement[]): Promise<VerifyResult> {
  const {schema, table, indexName, definition} = f.evidence as {schema: string; table: string; indexName: string; definition: string}
  if (statements.length === 0) return {verified: false, why: 'not verified: none of its statements was explained in this audit (a live audit explains them)'}
  const before = {rows: 0}
  for (const s of statements) before.rows += (await explain(session, s, session.flavour, indexName)).rows
  await session.query(definition.replace(/;\s*$/, ''))
  let after = {rows: 0, uses: true}
  let failure: unknown
  try {
    for (const s of statements) {
      const one = await explain(session, s, session.flavour, indexName)
      after = {rows: after.rows + one.rows, uses: after.uses && one.uses}
    }
  } catch (error) {
    failure = error
  } finally {
    await session.query(`DROP INDEX ${quoteMysqlIdent(indexName)} ON ${quoteMysqlQualified(schema, table)}`)
  }
  if (failure) return {verified: false, rowsExaminedBefore: before.rows, why: `not verified: built and dropped, but explaining with it failed (${errorMessage(failure).split('\n')[0]})`}
  const counts = {rowsExaminedBefore: before.rows, rowsExaminedAfter: after.rows}
  if (after.uses && after.rows < before.rows) return {verified: true, ...counts, why: `verified on a scratch database: built, used by ${statements.length} statement(s), rows examined ${before.rows} → ${after.rows}, dropped`}
  return {verified: false, ...counts, why: `not verified: built on a scratch database and dropped, but ${after.uses ? `rows examined did not go down (${before.rows} → ${after.rows})` : 'the optimizer did not use it'}`}
}

/** The finding as the verification left it: evidence and remedy say verified ('real') or why not. */
export function applyVerification(f: AdvisorFinding, result: VerifyResult): AdvisorFinding {
  const counts = result.rowsExaminedBefore === undefined ? {} : {rowsExaminedBefore: result.rowsExaminedBefore, ...(result.rowsExaminedAfter === undefined ? {} : {rowsExaminedAfter: result.rowsExaminedAfter})}
  const {notVerified: _n, ...evidence} = f.evidence as Record<string, unknown>
  const remedies = f.remedies.map((r) => {
    if (r.kind !== 'index') return r
    const {notVerified: _r, ...rest} = r as typeof r & {notVerified?: string}
    return result.verified ? {...rest, verified: 'real' as const} : {...rest, verified: false as const, notVerified: result.why}
  })
  return {
    ...f,
    message: f.message.replace(/\(not verified: [^)]*\)\)?/, `(${result.why})`),
    evidence: {...evidence, ...counts, verified: result.verified, ...(result.verified ? {verification: result.why} : {notVerified: result.why})},
    remedies,
  }
}
