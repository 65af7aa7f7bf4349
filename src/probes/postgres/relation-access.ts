/**
 * Whether this session can EXPLAIN a statement at all, told from the catalog before trying. EXPLAIN needs the
 * relations a statement names to resolve on the session's search_path and the privileges the statement would need.
 * A monitoring role (pg_monitor, no SELECT on the application's tables) fails every EXPLAIN, and each failure costs
 * a rollback and a re-plan of the rest of its batch: on a workload of 100 statements that was 400 round trips for
 * no plan. One set-based check spares them.
 */
import {parseSync} from 'libpg-query'

export type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE'

export interface RelationUse {
  schema?: string
  name: string
  /** Absent where the privilege depends on more than the statement kind (MERGE's target). */
  privilege?: Privilege
}

const TARGET_PRIVILEGE: Record<string, Privilege | undefined> = {InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE', MergeStmt: undefined}

function walk(node: unknown, visit: (n: Record<string, any>) => void): void {
  if (Array.isArray(node)) for (const n of node) walk(n, visit)
  else if (node && typeof node === 'object') {
    visit(node as Record<string, any>)
    for (const v of Object.values(node)) if (v && typeof v === 'object') walk(v, visit)
  }
}

/**
 * The relations one plannable statement names and what it does with them: its DML target (which the parser keeps
 * as a bare RangeVar) with the statement's privilege, every other RangeVar read. Unqualified names that are CTEs of
 * the statement are not relations. Undefined when the text does not parse (the check then leaves it to EXPLAIN).
 */
export function relationUses(sql: string): RelationUse[] | undefined {
  let stmt: Record<string, any> | undefined
  try {
    stmt = parseSync(sql).stmts?.[0]?.stmt as Record<string, any> | undefined
  } catch {
    return undefined
  }
  if (!stmt) return undefined
  const ctes = new Set<string>()
  const reads: RelationUse[] = []
  walk(stmt, (n) => {
    if (n.CommonTableExpr?.ctename) ctes.add(n.CommonTableExpr.ctename)
    if (n.RangeVar?.relname) reads.push({schema: n.RangeVar.schemaname, name: n.RangeVar.relname, privilege: 'SELECT'})
  })
  const kind = Object.keys(stmt)[0]
  const target = stmt[kind]?.relation as {schemaname?: string; relname?: string} | undefined
  const uses: RelationUse[] = target?.relname ? [{schema: target.schemaname, name: target.relname, privilege: TARGET_PRIVILEGE[kind]}] : []
  return [...uses, ...reads.filter((r) => r.schema || !ctes.has(r.name))]
}

const useKey = (u: RelationUse) => `${u.schema ?? ''}\u0000${u.name}\u0000${u.privilege ?? ''}`

/** The distinct uses of several statements, in first-seen order: the rows of one check. */
export function distinctUses(lists: Array<RelationUse[] | undefined>): RelationUse[] {
  const seen = new Map<string, RelationUse>()
  for (const list of lists) for (const u of list ?? []) if (!seen.has(useKey(u))) seen.set(useKey(u), u)
  return [...seen.values()]
}

/**
 * A scalar subquery (json: one {usage, found, allowed} per use, in order) over three text[] parameters starting at
 * $first, to embed in another query so that the check costs no round trip of its own. A schema the role may not use
 * is checked before to_regclass, which would raise an error for it instead of answering.
 */
export function accessSubquery(first: number): string {
  return `(SELECT coalesce(json_agg(json_build_object('usage', a.usage, 'found', a.oid IS NOT NULL,
            'allowed', a.oid IS NULL OR CASE u.privilege WHEN 'DELETE' THEN has_table_privilege(a.oid, 'DELETE')
                                                    WHEN '' THEN true ELSE has_any_column_privilege(a.oid, u.privilege) END) ORDER BY u.i), '[]'::json)
     FROM unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::text[]) WITH ORDINALITY u(schema, name, privilege, i)
     CROSS JOIN LATERAL (SELECT s.usage, CASE WHEN s.usage THEN to_regclass(CASE WHEN u.schema IS NULL THEN quote_ident(u.name)
                                                                 ELSE quote_ident(u.schema) || '.' || quote_ident(u.name) END) END AS oid
                           FROM (SELECT u.schema IS NULL OR coalesce((SELECT has_schema_privilege(n.oid, 'USAGE') FROM pg_namespace n
                                                                      WHERE n.nspname = u.schema), true) AS usage) s) a)`
}

export function accessParams(uses: RelationUse[]): [Array<string | null>, string[], string[]] {
  return [uses.map((u) => u.schema ?? null), uses.map((u) => u.name), uses.map((u) => u.privilege ?? '')]
}

export interface AccessAnswer {
  usage: boolean
  found: boolean
  allowed: boolean
}

/**
 * Why EXPLAIN of a statement would fail, in PostgreSQL's own words plus the fix, or undefined when the catalog
 * sees no reason (EXPLAIN may still fail, and then says why itself).
 */
export function refusal(uses: RelationUse[] | undefined, checked: Map<string, AccessAnswer>, user: string): string | undefined {
  for (const u of uses ?? []) {
    const answer = checked.get(useKey(u))
    if (!answer) continue
    const shown = u.schema ? `${u.schema}.${u.name}` : u.name
    if (!answer.usage) return `permission denied for schema ${u.schema}: EXPLAIN needs what the statement needs (GRANT USAGE ON SCHEMA ${u.schema} TO ${user})`
    if (!answer.found) return `relation "${shown}" does not exist (on this connection's search_path)`
    if (!answer.allowed) return `permission denied for table ${shown}: EXPLAIN needs what the statement needs (GRANT ${u.privilege} ON ${shown} TO ${user}, or audit as a role that may)`
  }
  return undefined
}

/** The answers of accessSubquery, keyed for refusal(). */
export function accessAnswers(uses: RelationUse[], answers: AccessAnswer[]): Map<string, AccessAnswer> {
  return new Map(uses.map((u, i) => [useKey(u), answers[i]]))
}
