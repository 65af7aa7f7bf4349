import NodeSqlParser from 'node-sql-parser'
import {maskLiterals} from '../../probes/mysql/query-text.js'

/**
 * Which statement texts chokepoint hands to EXPLAIN, and what of a plan may be kept. EXPLAIN (without ANALYZE) plans
 * a SELECT, UPDATE, DELETE or INSERT … SELECT and does not run it; anything else (a CALL runs the procedure, DO and
 * SET evaluate their expressions, DDL changes the schema) is refused before it reaches the server. The decision is
 * node-sql-parser's syntax tree for the flavour, never a pattern over the text.
 */

type Node = Record<string, any>
const {Parser} = NodeSqlParser as unknown as {Parser: new () => {astify(sql: string, opt?: {database?: string}): unknown; sqlify(ast: never, opt?: {database?: string}): string}}
let parser: InstanceType<typeof Parser> | undefined
const sqlifier = () => (parser ??= new Parser())

function astOf(sql: string, flavour: 'mysql' | 'mariadb'): Node[] {
  parser ??= new Parser()
  const dialect = flavour === 'mariadb' ? 'MariaDB' : 'MySQL'
  let ast: unknown
  try {
    ast = parser.astify(sql, {database: dialect})
  } catch (error) {
    // The MariaDB grammar of node-sql-parser 5.4 refuses some plain column names (statement-shape.ts says which).
    if (dialect !== 'MariaDB') throw error
    ast = parser.astify(sql, {database: 'MySQL'})
  }
  return (Array.isArray(ast) ? ast : [ast]) as Node[]
}

export type ExplainPlan = {text: string; readPart: boolean} | {refused: string}

/**
 * The text to EXPLAIN for `sql`, or why none: exactly one SELECT, UPDATE, DELETE or INSERT … SELECT. chokepoint's
 * session is READ ONLY, and the server refuses EXPLAIN of a write there (MariaDB: error 1792, "Cannot execute
 * statement in a READ ONLY transaction"), so a write is explained by its read part: the SELECT of its tables, joins
 * and WHERE (an UPDATE's or DELETE's rows are found as that SELECT finds them; its ORDER BY and LIMIT are left out),
 * or the SELECT an INSERT … SELECT inserts from.
 */
export function explainPlan(sql: string, flavour: 'mysql' | 'mariadb'): ExplainPlan {
  let statements: Node[]
  try {
    statements = astOf(sql, flavour)
  } catch {
    // A sample text cut at performance_schema_max_sql_text_length does not parse either.
    return {refused: `not parsable as ${flavour === 'mariadb' ? 'MariaDB' : 'MySQL'} SQL (or cut short by the server): not explained`}
  }
  if (statements.length !== 1) return {refused: `${statements.length} statements in one text: only a single statement is explained`}
  const s = statements[0]
  const into = s.into as Node | undefined
  const dialect = {database: flavour === 'mariadb' ? 'MariaDB' : 'MySQL'}
  if (s.type === 'select') return into?.keyword || into?.expr ? {refused: 'SELECT … INTO writes a file or variables: not explained'} : {text: sql, readPart: false}
  if (s.type === 'update' || s.type === 'delete') {
    const from = s.type === 'update' ? s.table : s.from
    const select = {...(astOf('SELECT * FROM t', 'mysql')[0]), from, where: s.where ?? null}
    return {text: sqlifier().sqlify(select as never, dialect), readPart: true}
  }
  if ((s.type === 'insert' || s.type === 'replace') && (s.values as Node | undefined)?.type === 'select') {
    return {text: sqlifier().sqlify(s.values as never, dialect), readPart: true}
  }
  return {refused: `${String(s.type ?? 'statement').toUpperCase()}${s.type === 'insert' || s.type === 'replace' ? ' … VALUES' : ''} is not explained: EXPLAIN without running it applies to SELECT, UPDATE, DELETE and INSERT … SELECT only`}
}

/** Plan fields holding expressions of the statement, and with them its literal values. */
const EXPRESSION_FIELD = /condition|sort_key|expression|^ref$|^having/i

/**
 * The plan with every expression field's literals masked (attached_condition "`t`.`token` = 'sk_live_…'" becomes
 * "`t`.`token` = ?"); numbers, names and flags stay as the server wrote them.
 */
export function maskPlan(plan: unknown, key?: string): unknown {
  if (Array.isArray(plan)) return plan.map((v) => maskPlan(v, key))
  if (plan && typeof plan === 'object') return Object.fromEntries(Object.entries(plan as Node).map(([k, v]) => [k, maskPlan(v, k)]))
  if (typeof plan === 'string' && key !== undefined && EXPRESSION_FIELD.test(key)) return maskLiterals(plan)
  return plan
}
