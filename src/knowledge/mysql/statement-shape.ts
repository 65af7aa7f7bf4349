import NodeSqlParser from 'node-sql-parser'
import {tableKey} from './catalog.js'

/**
 * What an index could serve in one MySQL/MariaDB statement, read from node-sql-parser's syntax tree (never from the
 * text with regular expressions): per base table, the columns compared for equality, by range, joined on, sorted and
 * grouped by, and the columns read. Column references are resolved through aliases; an unqualified column in a
 * statement over several tables is resolved with the table columns when given (information_schema.COLUMNS), and
 * left out with a note when it cannot be.
 */

export interface SortColumn {
  column: string
  desc: boolean
}

export interface TableShape {
  schema: string
  table: string
  /** The names the statement gives the table (aliases, or its own name): what EXPLAIN calls it. */
  aliases: string[]
  /** `col = const`, `col IN (…)`, `col IS NULL`, `col <=> const`, in the order written, without repeats. */
  equality: string[]
  /** `<`, `<=`, `>`, `>=`, BETWEEN, LIKE 'prefix%'. */
  range: string[]
  /** Columns compared with another table's column: the key the inner side of a join is looked up by. */
  join: string[]
  /** ORDER BY, when every sort column is of this table. */
  orderBy: SortColumn[]
  /** GROUP BY, when every grouping column is of this table. */
  groupBy: string[]
  /** Every column of this table the statement reads anywhere; '*' when the whole row. */
  read: string[] | '*'
}

export interface StatementShape {
  command: 'select' | 'update' | 'delete' | 'other'
  tables: TableShape[]
  /** Why parts of the statement give no candidate: a function over a column, a leading wildcard, an OR across columns. */
  notes: string[]
}

type Node = Record<string, any>

const {Parser} = NodeSqlParser as unknown as {Parser: new () => {astify(sql: string, opt?: {database?: string}): unknown}}
let parser: InstanceType<typeof Parser> | undefined

/** node-sql-parser keeps a backtick-quoted name's doubled backticks as written: `a``b` is the name a`b. */
const unquote = (name: string) => name.replace(/``/g, '`')

function nameOf(v: unknown): string | null {
  if (typeof v === 'string') return unquote(v)
  if (v && typeof v === 'object') {
    const n = v as Node
    if (typeof n.value === 'string') return unquote(n.value)
    if (n.expr) return nameOf(n.expr)
  }
  return null
}

const RANGE_OPS = new Set(['<', '<=', '>', '>=', 'BETWEEN'])
const EQ_OPS = new Set(['=', '<=>'])

interface Scope {
  /** alias (or bare table name) -> base table */
  aliases: Map<string, {schema: string; table: string}>
  /** Aliases of derived tables (subqueries in FROM): their columns are no base table's. */
  derived: Set<string>
}

interface Collector {
  shapes: Map<string, TableShape>
  notes: string[]
  columns?: Map<string, string[]>
  defaultSchema: string
}

function shapeFor(c: Collector, t: {schema: string; table: string}): TableShape {
  const key = tableKey(t.schema, t.table)
  let s = c.shapes.get(key)
  if (!s) {
    s = {schema: t.schema, table: t.table, aliases: [], equality: [], range: [], join: [], orderBy: [], groupBy: [], read: []}
    c.shapes.set(key, s)
  }
  return s
}

const push = (list: string[], col: string) => {
  if (!list.includes(col)) list.push(col)
}

function readColumn(shape: TableShape, col: string) {
  if (shape.read !== '*') push(shape.read, col)
}

/** The base table a column reference belongs to, or undefined (a derived table's, an outer query's, unknown). */
function resolve(ref: Node, scope: Scope, c: Collector): {shape: TableShape; column: string} | undefined {
  const column = nameOf(ref.column)
  if (column === null) return undefined
  const qualifier = nameOf(ref.table)
  if (qualifier) {
    if (scope.derived.has(qualifier)) return undefined
    const t = scope.aliases.get(qualifier)
    return t ? {shape: shapeFor(c, t), column} : undefined
  }
  const tables = [...new Map([...scope.aliases.values()].map((t) => [tableKey(t.schema, t.table), t])).values()]
  if (tables.length === 1 && scope.derived.size === 0) return {shape: shapeFor(c, tables[0]), column}
  const owners = tables.filter((t) => c.columns?.get(tableKey(t.schema, t.table))?.some((x) => x.toLowerCase() === column.toLowerCase()))
  if (owners.length === 1) return {shape: shapeFor(c, owners[0]), column}
  c.notes.push(`column ${column} is not qualified and could belong to more than one table: qualify it (or give the table columns) for a candidate`)
  return undefined
}

/** Column references anywhere under a node, not descending into subqueries (their own scope). */
function columnRefs(node: unknown, out: Node[] = []): Node[] {
  if (Array.isArray(node)) {
    for (const x of node) columnRefs(x, out)
  } else if (node && typeof node === 'object') {
    const n = node as Node
    if (n.type === 'column_ref') out.push(n)
    else if (!(n.ast || n.type === 'select')) for (const v of Object.values(n)) columnRefs(v, out)
  }
  return out
}

function subqueries(node: unknown, out: Node[] = []): Node[] {
  if (Array.isArray(node)) {
    for (const x of node) subqueries(x, out)
  } else if (node && typeof node === 'object') {
    const n = node as Node
    if (n.ast && typeof n.ast === 'object') out.push(n.ast)
    else if (n.type === 'select' && n.from !== undefined) out.push(n)
    else for (const v of Object.values(n)) subqueries(v, out)
  }
  return out
}

const isColumn = (n: Node | undefined): n is Node => !!n && n.type === 'column_ref' && nameOf(n.column) !== '*'

/** A value a predicate compares with: no column of the statement in it (a constant, a ?, an outer reference is not). */
const isValue = (n: Node | undefined) => !!n && columnRefs(n).length === 0

function likePattern(n: Node | undefined): string | undefined {
  return n && (n.type === 'single_quote_string' || n.type === 'string' || n.type === 'double_quote_string') && typeof n.value === 'string' ? n.value : undefined
}

type Pred = {shape: TableShape; column: string; kind: 'equality' | 'range' | 'join'}

/** The indexable predicates of one conjunct (a part of an AND), with notes for those no index serves. */
function predicates(expr: Node, scope: Scope, c: Collector): Pred[] {
  if (!expr || typeof expr !== 'object') return []
  if (expr.type === 'binary_expr' && String(expr.operator).toUpperCase() === 'AND') {
    return [...predicates(expr.left, scope, c), ...predicates(expr.right, scope, c)]
  }
  if (expr.type === 'binary_expr' && String(expr.operator).toUpperCase() === 'OR') {
    // Only what every branch has is a predicate an index on the statement serves (a = 1 OR a = 2 is a on a's index).
    const left = predicates(expr.left, scope, c)
    const right = predicates(expr.right, scope, c)
    const keyOf = (p: Pred) => `${tableKey(p.shape.schema, p.shape.table)}\u0000${p.column}`
    const common = left.filter((p) => right.some((q) => keyOf(q) === keyOf(p)))
      .map((p) => ({...p, kind: p.kind === 'equality' && right.find((q) => keyOf(q) === keyOf(p))!.kind === 'equality' ? 'equality' as const : 'range' as const}))
    if (common.length === 0 && (left.length > 0 || right.length > 0)) {
      c.notes.push('OR across different columns: no single index serves it (MySQL can merge one index per branch: index_merge union)')
    }
    return common
  }
  if (expr.type === 'unary_expr' || expr.type === 'function' || expr.type === 'column_ref') return []
  if (expr.type !== 'binary_expr') return []
  const op = String(expr.operator).toUpperCase()
  const left = expr.left as Node
  const right = expr.right as Node

  // A function over a column: no index on the column serves it.
  const wrapped = (side: Node) => side && side.type === 'function' && columnRefs(side).length > 0
  if ((wrapped(left) && isValue(right)) || (wrapped(right) && isValue(left))) {
    const cols = columnRefs(wrapped(left) ? left : right).map((r) => nameOf(r.column)).join(', ')
    c.notes.push(`a function over ${cols} in the WHERE clause: no index on the column serves it (a functional index, MySQL 8.0.13+, or an indexed generated column can)`)
    return []
  }

  if (EQ_OPS.has(op) || RANGE_OPS.has(op) || op === 'IN' || op === 'IS' || op === 'LIKE') {
    const flip = !isColumn(left) && isColumn(right) && op !== 'IN' && op !== 'IS' && op !== 'LIKE' && op !== 'BETWEEN'
    const colNode = flip ? right : left
    const other = flip ? left : right
    if (!isColumn(colNode)) return []
    const col = resolve(colNode, scope, c)
    if (!col) return []
    if (EQ_OPS.has(op) && isColumn(other)) {
      const o = resolve(other, scope, c)
      if (!o || o.shape === col.shape) return []
      return [{...col, kind: 'join'}, {...o, kind: 'join'}]
    }
    if (op === 'IS') return other && other.type === 'null' ? [{...col, kind: 'equality'}] : []
    if (!isValue(other) && !(op === 'IN' && (other?.ast || other?.type === 'select' || subqueries(other).length > 0))) return []
    if (EQ_OPS.has(op) || op === 'IN') return [{...col, kind: 'equality'}]
    if (op === 'LIKE') {
      const pattern = likePattern(other)
      if (pattern === undefined) {
        c.notes.push(`LIKE on ${col.column} with a pattern not known until run time: an index serves it only without a leading wildcard`)
        return []
      }
      if (pattern.startsWith('%') || pattern.startsWith('_')) {
        c.notes.push(`LIKE '${pattern}' on ${col.column} starts with a wildcard: no btree index serves it (a FULLTEXT index may)`)
        return []
      }
      return [{...col, kind: 'range'}]
    }
    return [{...col, kind: 'range'}]
  }
  return []
}

function fromScope(from: Node[] | null | undefined, c: Collector, sub: Node[]): Scope {
  const scope: Scope = {aliases: new Map(), derived: new Set()}
  for (const f of from ?? []) {
    if (f.expr?.ast) {
      if (f.as) scope.derived.add(nameOf(f.as)!)
      sub.push(f.expr.ast)
      continue
    }
    const table = nameOf(f.table)
    if (!table || f.type === 'dual') continue
    const schema = nameOf(f.db) ?? c.defaultSchema
    const t = {schema, table}
    const alias = nameOf(f.as) ?? table
    scope.aliases.set(alias, t)
    push(shapeFor(c, t).aliases, alias)
  }
  return scope
}

function readAll(node: unknown, scope: Scope, c: Collector) {
  for (const ref of columnRefs(node)) {
    const column = nameOf(ref.column)
    if (column === '*') {
      const q = nameOf(ref.table)
      const targets = q ? [scope.aliases.get(q)].filter(Boolean) : [...scope.aliases.values()]
      for (const t of targets) shapeFor(c, t!).read = '*'
      continue
    }
    const r = resolve(ref, scope, c)
    if (r) readColumn(r.shape, r.column)
  }
}

function walkSelect(ast: Node, c: Collector) {
  const sub: Node[] = []
  const scope = fromScope(ast.from, c, sub)
  const conds: Node[] = [ast.where, ...(ast.from ?? []).map((f: Node) => f.on)].filter(Boolean)
  for (const cond of conds) {
    for (const p of predicates(cond, scope, c)) push(p.shape[p.kind], p.column)
    readAll(cond, scope, c)
    sub.push(...subqueries(cond))
  }
  readAll(ast.columns, scope, c)
  sub.push(...subqueries(ast.columns))
  readAll(ast.having, scope, c)

  const sortRefs = (ast.orderby ?? []).map((o: Node) => ({ref: o.expr, desc: String(o.type ?? '').toUpperCase() === 'DESC'}))
  const sorted = sortRefs.map((s: {ref: Node; desc: boolean}) => ({r: isColumn(s.ref) ? resolve(s.ref, scope, c) : undefined, desc: s.desc}))
  if (sorted.length > 0 && sorted.every((s: {r?: {shape: TableShape}}) => s.r && s.r.shape === sorted[0].r!.shape)) {
    sorted[0].r!.shape.orderBy = sorted.map((s: {r?: {column: string}; desc: boolean}) => ({column: s.r!.column, desc: s.desc}))
  }
  readAll(ast.orderby, scope, c)
  const groupList = Array.isArray(ast.groupby) ? ast.groupby : ast.groupby?.columns ?? []
  const grouped = groupList.map((g: Node) => (isColumn(g) ? resolve(g, scope, c) : undefined))
  if (grouped.length > 0 && grouped.every((g: {shape: TableShape} | undefined) => g && g.shape === grouped[0]!.shape)) {
    grouped[0]!.shape.groupBy = grouped.map((g: {column: string}) => g.column)
  }
  readAll(groupList, scope, c)
  if (ast._next) walkSelect(ast._next, c)
  for (const s of sub) walkStatement(s, c)
}

function walkStatement(ast: Node, c: Collector) {
  if (ast.type === 'select') walkSelect(ast, c)
  else if (ast.type === 'update' || ast.type === 'delete') {
    const sub: Node[] = []
    const scope = fromScope(ast.type === 'update' ? ast.table : ast.from, c, sub)
    if (ast.where) {
      for (const p of predicates(ast.where, scope, c)) push(p.shape[p.kind], p.column)
      sub.push(...subqueries(ast.where))
    }
    for (const s of sub) walkStatement(s, c)
  }
}

/**
 * The shape of one statement. `defaultSchema` names unqualified tables (the database the statement runs in).
 * Throws the parser's message, on one line, when the text is not SQL of the flavour.
 */
export function statementShape(sql: string, options: {flavour: 'mysql' | 'mariadb'; defaultSchema: string; columns?: Map<string, string[]>}): StatementShape {
  parser ??= new Parser()
  let ast: unknown
  const dialect = options.flavour === 'mariadb' ? 'MariaDB' : 'MySQL'
  try {
    ast = parser.astify(sql, {database: dialect})
  } catch (error) {
    // node-sql-parser 5.4's MariaDB grammar refuses some plain column names the server takes (status, for one):
    // the MySQL grammar, which covers the same SELECT/UPDATE/DELETE syntax, is tried before giving up.
    try {
      if (dialect !== 'MariaDB') throw error
      ast = parser.astify(sql, {database: 'MySQL'})
    } catch {
      throw new Error(`not parsable as ${dialect} SQL: ${String((error as Error).message ?? error).split('\n')[0]}`)
    }
  }
  const statements = (Array.isArray(ast) ? ast : [ast]) as Node[]
  const c: Collector = {shapes: new Map(), notes: [], columns: options.columns, defaultSchema: options.defaultSchema}
  for (const s of statements) walkStatement(s, c)
  const first = statements[0]?.type
  return {command: first === 'select' || first === 'update' || first === 'delete' ? first : 'other', tables: [...c.shapes.values()], notes: [...new Set(c.notes)]}
}
