import {ProbeSkip, errorMessage} from '../../core/errors.js'
import type {Probe} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {readCatalog, type CatalogFacts} from '../../knowledge/postgres/catalog.js'
import {explainBatch, plannable, type PlannableStatement} from '../../knowledge/postgres/plan.js'
import {representativePlannable, type Substitution} from '../../knowledge/postgres/representative.js'
import {parseSync} from 'libpg-query'
import {indexAdvisorOptions} from '../../knowledge/postgres/workload.js'
import {safeQueryTexts} from '../../knowledge/postgres/query-text.js'
import {notOwnStatement} from '../../knowledge/postgres/own-queries.js'
import {readStatementWrites, type StatementWrites} from '../../knowledge/postgres/statement-writes.js'
import {ConnectionLost, DeadlineExceeded} from '../../core/probe.js'
import {accessAnswers, accessParams, accessSubquery, distinctUses, refusal, relationUses, type AccessAnswer, type RelationUse} from './relation-access.js'

export interface PlannedStatement {
  /** pg_stat_statements queryid, or q1, q2 ... for statements given with --queries/--query. */
  id: string
  sql: string
  /** Calls per second (pg_stat_statements) or the given weight. */
  weight: number
  calls?: number
  totalMs?: number
  meanMs?: number
  rows?: number
  paramCount?: number
  /**
   * The text planned, when it differs from `sql`: parameters given representative values before planning (the
   * top-level LIMIT $n as the rows returned per call; representative.ts). `cost` and `plan` are of this text, and
   * the advisor's what-if plans use it too; `sql` stays the normalised text shown.
   */
  plannedSql?: string
  /** Which parameters plannedSql gives a value, and why. */
  substitutions?: Substitution[]
  /** Total cost of the plain plan; absent when the statement could not be planned. */
  cost?: number
  plan?: Record<string, unknown>
  error?: string
  /** Where a --queries statement was read from: findings about it point there (SARIF locations). */
  origin?: {file: string; line: number}
}

export interface PlansData {
  source: 'pg_stat_statements' | 'queries'
  serverVersionNum: number
  statements: PlannedStatement[]
  catalog: CatalogFacts
  /** Wall time of all EXPLAINs, for the overhead report. */
  explainMs: number
  /**
   * The writing statements of pg_stat_statements (when installed) over the same period as the read weights, or
   * why they could not be read: the index advisor's write rates at window 0 (statement-writes.ts).
   */
  writes?: StatementWrites | {error: string}
}

const DEFAULT_MAX_STATEMENTS = 100

/** Table names (RangeVar relname, with schema when given) a statement's parse tree reads or writes. */
function relationsOf(node: unknown, out: Array<{schema?: string; name: string}> = []): Array<{schema?: string; name: string}> {
  if (Array.isArray(node)) for (const n of node) relationsOf(n, out)
  else if (node && typeof node === 'object') {
    const n = node as Record<string, any>
    if (n.RangeVar?.relname) out.push({schema: n.RangeVar.schemaname, name: n.RangeVar.relname})
    for (const v of Object.values(n)) if (v && typeof v === 'object') relationsOf(v, out)
  }
  return out
}

/** The names of the statement's CTEs (WITH x AS ...), wherever they are defined. */
function cteNamesOf(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) cteNamesOf(n, out)
  else if (node && typeof node === 'object') {
    const n = node as Record<string, any>
    if (typeof n.CommonTableExpr?.ctename === 'string') out.add(n.CommonTableExpr.ctename)
    for (const v of Object.values(n)) if (v && typeof v === 'object') cteNamesOf(v, out)
  }
  return out
}

/**
 * The relations of relationsOf, less the references to the statement's own CTEs: an unqualified name that a WITH
 * defines is that CTE, not a table (chokepoint's own probe queries name CTEs base, t, clock ...; a user table of the
 * same name made them look like workload). A CTE shadowing a table of its name elsewhere in the statement is rare;
 * the table then goes uncounted for this statement only.
 */
function relationsOfTree(stmts: unknown): Array<{schema?: string; name: string}> {
  const ctes = cteNamesOf(stmts)
  return relationsOf(stmts).filter((r) => r.schema !== undefined || !ctes.has(r.name))
}

function relationsOfSql(sql: string): Array<{schema?: string; name: string}> | undefined {
  try {
    return relationsOfTree(parseSync(sql).stmts)
  } catch {
    return undefined
  }
}

/**
 * Whether a pg_stat_statements entry touches a user table of the catalog. Statements over system catalogs only
 * (monitoring queries, chokepoint's own catalog reads, which pg_stat_statements records too) are nothing an index
 * can be proposed for, and their normalized $n often has no inferable type: they are not the workload.
 */
function touchesUserTable(rels: Array<{schema?: string; name: string}> | undefined, tablesByName: Map<string, Set<string>>): boolean {
  if (!rels) return true
  return rels.some((r) => {
    const schemas = tablesByName.get(r.name)
    return schemas !== undefined && (!r.schema || schemas.has(r.schema))
  })
}

async function fromStatStatements(session: PgSession, limit: number): Promise<Array<Omit<PlannedStatement, 'weight'> & {calls: number}>> {
  if (!(await session.hasExtension('pg_stat_statements'))) {
    throw new ProbeSkip('no workload: pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements) and no --queries/--query were given')
  }
  const toplevel = session.serverVersionNum >= 140000 ? 'AND s.toplevel' : ''
  const rows = await session.query(`
    SELECT s.queryid::text AS id, s.query, s.calls::float8 AS calls, (s.total_exec_time + s.total_plan_time)::float8 AS total_ms,
           s.mean_exec_time::float8 AS mean_ms, s.rows::float8 AS rows
      FROM pg_stat_statements s
     WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ${toplevel}
       AND s.calls > 0 AND ${notOwnStatement('s.query')}
     ORDER BY s.total_exec_time + s.total_plan_time DESC
     LIMIT ${Math.max(1, Math.floor(limit)) * 2}`)
  // The safe text is what is planned and stored: comments and literals pg_stat_statements kept (a token in a
  // comment, a utility statement's password) would otherwise reach the snapshot, the advisor's findings and the
  // logged EXPLAIN commands. Planning it rather than the raw text keeps the plan and the printed text the same.
  const safe = await safeQueryTexts(rows.map((r) => String(r.query ?? '')))
  return rows.map((r, i) => ({id: r.id, sql: safe[i].text, calls: r.calls, totalMs: r.total_ms, meanMs: r.mean_ms, rows: r.rows}))
}

/**
 * The workload's writing statements. Their period is the read weights': pg_stat_statements_info.stats_reset on
 * PostgreSQL 14+, else the database's statistics reset (or server start). An error other than a stall (a view
 * that is installed but not preloaded) leaves a reason instead: the reads are still planned.
 */
async function statementWrites(session: PgSession, seconds: number, sinceInfo: boolean): Promise<StatementWrites | {error: string}> {
  try {
    return await readStatementWrites(session, seconds, sinceInfo ? 'since pg_stat_statements_info.stats_reset' : 'since the database statistics reset (or server start)')
  } catch (error) {
    if (error instanceof DeadlineExceeded || error instanceof ConnectionLost) throw error
    return {error: errorMessage(error).split('\n')[0]}
  }
}

/**
 * One round trip for what the workload needs besides the catalog: the seconds pg_stat_statements has counted
 * (PostgreSQL 14+, to turn calls into rates) and whether this role can EXPLAIN each relation use (relation-access.ts).
 */
async function workloadFacts(session: PgSession, uses: RelationUse[], wantSeconds: boolean): Promise<{seconds?: number; access: Map<string, AccessAnswer>}> {
  const seconds = wantSeconds && session.serverVersionNum >= 140000
  if (!seconds && uses.length === 0) return {access: new Map()}
  const [row] = await session.query(
    `SELECT ${seconds ? '(SELECT extract(epoch FROM now() - stats_reset)::float8 FROM pg_stat_statements_info)' : 'NULL::float8'} AS seconds,
            ${uses.length ? accessSubquery(1) : `'[]'::json`} AS access`,
    uses.length ? accessParams(uses) : undefined)
  return {seconds: seconds ? Number(row?.seconds ?? NaN) : undefined, access: accessAnswers(uses, row?.access ?? [])}
}

/**
 * The workload's plans: each statement of pg_stat_statements (top N by total time, this database) or of the
 * --queries/--query workload, EXPLAINed plainly (generic plans for $n), with the catalog facts the index advisor
 * reasons over. Statements that cannot be planned are kept with the reason.
 */
export const plansProbe: Probe<PgSession> = {
  id: 'postgres.plans',
  kind: 'postgres',
  description: 'Plain EXPLAIN (generic plans for $n) of the workload statements, with table, column and index facts',
  async collect(session, ctx) {
    const options = indexAdvisorOptions(ctx.options)
    const limit = options.maxStatements ?? DEFAULT_MAX_STATEMENTS
    let source: PlansData['source']
    let raw: Array<Omit<PlannedStatement, 'weight'> & {calls?: number; weight?: number}>
    if (options.queries && options.queries.length > 0) {
      source = 'queries'
      raw = options.queries.map((q, i) => ({id: `q${i + 1}`, sql: q.sql, weight: q.weight ?? 1, ...(q.file && q.line ? {origin: {file: q.file, line: q.line}} : {})}))
    } else {
      source = 'pg_stat_statements'
      raw = await fromStatStatements(session, limit)
    }
    // Parse first: the catalog is read for the tables the statements name only (and what their plans can scan).
    const parsed: Array<{r: (typeof raw)[number]; stmt?: PlannableStatement; error?: string; rels?: Array<{schema?: string; name: string}>; uses?: RelationUse[]}> = []
    for (const r of raw) {
      try {
        const stmt = await plannable(r.sql)
        parsed.push({r, stmt, rels: relationsOfSql(stmt.sql), uses: relationUses(stmt.sql)})
      } catch (error) {
        // Utility statements in pg_stat_statements (SET, BEGIN, VACUUM ...) are not workload to index for.
        if (source === 'queries') parsed.push({r, error: errorMessage(error)})
      }
    }
    const named = parsed.flatMap((p) => p.rels ?? [])
    // A statement the parser's walk cannot read (none passed plannable without parsing) keeps the whole catalog.
    const catalog = await readCatalog(session, parsed.every((p) => !p.stmt || p.rels) ? named : undefined)
    // pg_stat_statements also gives the workload's writes per statement (the index advisor's write costs at window 0).
    const statStatements = source === 'pg_stat_statements' || await session.hasExtension('pg_stat_statements')
    const facts = await workloadFacts(session, distinctUses(parsed.map((p) => p.uses)), statStatements)
    const seconds = facts.seconds === undefined ? catalog.statsSeconds : Math.max(1, Number.isFinite(facts.seconds) ? facts.seconds : catalog.statsSeconds)
    if (source === 'pg_stat_statements') for (const r of raw) r.weight = (r.calls ?? 0) / seconds
    const writes = statStatements ? await statementWrites(session, seconds, facts.seconds !== undefined) : undefined
    const tablesByName = new Map<string, Set<string>>()
    // A user view counts as a user relation: a statement over views alone is workload (the advisor looks through them).
    for (const t of [...Object.values(catalog.tables), ...Object.values(catalog.views ?? {})]) tablesByName.set(t.name, (tablesByName.get(t.name) ?? new Set()).add(t.schema))

    const statements: PlannedStatement[] = []
    const toPlan: Array<{entry: PlannedStatement; stmt: PlannableStatement}> = []
    for (const p of parsed) {
      if (statements.length >= limit && source === 'pg_stat_statements') break
      const entry: PlannedStatement = {...p.r, weight: p.r.weight ?? 1}
      if (!p.stmt) {
        entry.error = p.error
        statements.push(entry)
        continue
      }
      if (source === 'pg_stat_statements' && !touchesUserTable(p.rels, tablesByName)) continue
      entry.sql = p.stmt.sql
      entry.paramCount = p.stmt.paramCount
      statements.push(entry)
      // Known to fail: say why without sending it (a failed EXPLAIN costs a rollback and a re-plan of its batch).
      const refused = refusal(p.uses, facts.access, session.user || 'the audit role')
      if (refused) entry.error = refused
      else {
        // Measured rows per call stand in for LIMIT $n, whose generic plan assumes a tenth of the rows.
        const rowsPerCall = entry.calls && entry.rows !== undefined ? entry.rows / entry.calls : undefined
        const rep = await representativePlannable(p.stmt, {rowsPerCall}).catch(() => undefined)
        if (rep && rep.substitutions.length > 0) {
          entry.plannedSql = rep.sql
          entry.substitutions = rep.substitutions
        }
        toPlan.push({entry, stmt: rep && rep.substitutions.length > 0 ? rep : p.stmt})
      }
    }
    const started = Date.now()
    const results = await explainBatch(session, toPlan.map((t) => t.stmt))
    toPlan.forEach(({entry}, i) => {
      const result = results[i]
      if (result instanceof Error) entry.error = errorMessage(result).split('\n')[0]
      else {
        entry.plan = result.plan
        entry.cost = result.cost
      }
    })
    const data: PlansData = {source, serverVersionNum: session.serverVersionNum, statements, catalog, explainMs: Date.now() - started, ...(writes ? {writes} : {})}
    const unplanned = statements.filter((s) => s.error).length
    return {
      data,
      metrics: [{name: 'postgres.plans.unplannable', value: unplanned, evidence: {statements: statements.length, source}}],
    }
  },
}
