import {parseSync, scanSync} from 'libpg-query'
import {plannable, type PlannableStatement} from './plan.js'
import {ensureParser} from './workload.js'

/** One parameter of a normalised statement given a value before planning, and why that value. */
export interface Substitution {
  /** The parameter's number in the normalised text ($n). */
  param: number
  /** Where it stands: the top-level LIMIT (or FETCH FIRST) or OFFSET. */
  clause: 'limit' | 'offset'
  /** The literal planned in its place. */
  value: string
  why: string
}

/** A statement as it is planned: the normalised text with some parameters given representative values. */
export interface RepresentativeStatement extends PlannableStatement {
  substitutions: Substitution[]
}

/** What is measured about a statement that its parameters' values can be drawn from. */
export interface StatementFacts {
  /** pg_stat_statements rows / calls: the rows one call returns. */
  rowsPerCall?: number
}

function walkParams(node: unknown, out: Array<{number: number; location: number}>): void {
  if (Array.isArray(node)) for (const n of node) walkParams(n, out)
  else if (node && typeof node === 'object') {
    const n = node as Record<string, any>
    if (n.ParamRef && typeof n.ParamRef.number === 'number') out.push({number: n.ParamRef.number, location: n.ParamRef.location ?? -1})
    for (const v of Object.values(n)) if (v && typeof v === 'object') walkParams(v, out)
  }
}

const paramOf = (node: any): number | undefined => (node?.ParamRef && typeof node.ParamRef.number === 'number' ? node.ParamRef.number : undefined)

/**
 * The statement to plan for a normalised text: pg_stat_statements replaces every constant with $n, and a generic
 * plan then takes PostgreSQL's defaults for what the constant was. For `LIMIT $n` that default is a tenth of the
 * rows (planner.c, preprocess_limit: a LIMIT or OFFSET that is not a constant plans for 10% of the result), so a
 * top-N over a 10M-row table is costed as if it returned a million rows: 3.5 times its cost as run, which made the
 * advisor spend a budget on the index of one top-N. The measured rows returned per call stand in for the limit:
 *
 * - the top-level `LIMIT $n` / `FETCH FIRST $n ROWS` is planned as LIMIT ceil(rows / calls) (at least 1): the rows one
 *   call returned, which is the limit whenever the limit is reached, and a lower bound otherwise;
 * - the top-level `OFFSET $n` is planned as OFFSET 0 when the LIMIT is given a value: the rows returned per call
 *   cannot tell an offset, and a parameter left there would bring the 10% default back (the first page is the
 *   one read most);
 * - a LIMIT inside a subquery, CTE or LATERAL keeps its parameter: the statement's rows per call are not its rows;
 * - a parameter that also appears elsewhere in the statement (a --queries text may reuse $1) keeps its parameter.
 *
 * The text is changed at the parser's token positions (ParamRef locations, token ends from the scanner), never by
 * pattern matching: a substituted parameter becomes the integer literal, the others are renumbered $1..$m in order,
 * and the result is checked by plannable() again. The normalised text stays what is displayed; only the plan uses
 * this one. Returns the statement unchanged (no substitutions) when nothing applies.
 */
export function representativeStatement(stmt: PlannableStatement, facts: StatementFacts): RepresentativeStatement {
  const unchanged = {...stmt, substitutions: []}
  if (stmt.paramCount === 0 || facts.rowsPerCall === undefined || !Number.isFinite(facts.rowsPerCall) || facts.rowsPerCall < 0) return unchanged
  let stmts: Array<{stmt?: unknown}>
  try {
    stmts = (parseSync(stmt.sql).stmts ?? []) as Array<{stmt?: unknown}>
  } catch {
    return unchanged
  }
  const top = (stmts[0]?.stmt as {SelectStmt?: Record<string, any>} | undefined)?.SelectStmt
  if (!top || stmts.length !== 1) return unchanged
  const params: Array<{number: number; location: number}> = []
  walkParams(stmts[0].stmt, params)
  const uses = (n: number) => params.filter((p) => p.number === n).length
  const limit = paramOf(top.limitCount)
  if (limit === undefined || uses(limit) !== 1) return unchanged
  const substitutions: Substitution[] = [{
    param: limit, clause: 'limit', value: String(Math.max(1, Math.ceil(facts.rowsPerCall))),
    why: `rows returned per call (${Math.round(facts.rowsPerCall * 100) / 100}, pg_stat_statements)`,
  }]
  const offset = paramOf(top.limitOffset)
  if (offset !== undefined && uses(offset) === 1) substitutions.push({param: offset, clause: 'offset', value: '0', why: 'the first page: rows per call cannot tell an offset'})

  // Token ends from the scanner (byte offsets, like the parser's locations).
  const bytes = Buffer.from(stmt.sql, 'utf8')
  const tokenEnd = new Map(scanSync(stmt.sql).tokens.filter((t) => t.tokenName === 'PARAM').map((t) => [t.start, t.end]))
  const kept = [...new Set(params.map((p) => p.number))].filter((n) => !substitutions.some((s) => s.param === n)).sort((a, b) => a - b)
  const renumber = new Map(kept.map((n, i) => [n, i + 1]))
  const edits = params.map((p) => ({
    start: p.location, end: tokenEnd.get(p.location),
    text: substitutions.find((s) => s.param === p.number)?.value ?? `$${renumber.get(p.number)}`,
  }))
  if (edits.some((e) => e.start < 0 || e.end === undefined)) return unchanged
  edits.sort((a, b) => a.start - b.start)
  const parts: Buffer[] = []
  let at = 0
  for (const e of edits) {
    parts.push(bytes.subarray(at, e.start), Buffer.from(e.text, 'utf8'))
    at = e.end!
  }
  parts.push(bytes.subarray(at))
  const sql = Buffer.concat(parts).toString('utf8')
  return {sql, paramCount: kept.length, substitutions}
}

/** representativeStatement, re-checked by the parser as one plannable statement (the text goes into EXPLAIN). */
export async function representativePlannable(stmt: PlannableStatement, facts: StatementFacts): Promise<RepresentativeStatement> {
  await ensureParser()
  const rep = representativeStatement(stmt, facts)
  if (rep.substitutions.length === 0) return rep
  const checked = await plannable(rep.sql)
  return {...checked, substitutions: rep.substitutions}
}
