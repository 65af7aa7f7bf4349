import {parseSync} from 'libpg-query'
import {ensureParser} from './workload.js'
import {quoteIdent} from '../../core/sql.js'

/**
 * What an index could serve in one statement, read from the server's own parse tree (libpg-query).
 * Column references are resolved through aliases to "schema.table" keys with the help of the catalog.
 */
export interface ColumnTerm {
  /** "schema.table" */
  table: string
  column: string
  /** SQL text of an expression over `column` (e.g. lower("email")), quoted, when the term is not the bare column. */
  expression?: string
}

export type PredicateKind = 'eq' | 'range' | 'in' | 'like-prefix' | 'like-infix' | 'like-param' | 'contains' | 'isnull' | 'other'

export interface Predicate {
  term: ColumnTerm
  kind: PredicateKind
  operator: string
  /** Where the compared value comes from. */
  value: 'param' | 'constant' | 'expression'
  /** The constant as a SQL literal, for partial-index predicates. */
  literal?: string
  /** ILIKE: case-insensitive (trigram serves it; btree does not). */
  caseInsensitive?: boolean
}

export interface JoinKey {
  left: ColumnTerm
  right: ColumnTerm
}

export interface SortKey {
  term: ColumnTerm
  desc: boolean
}

export interface StatementShape {
  command: 'select' | 'insert' | 'update' | 'delete' | 'other'
  /** Tables read or written, as "schema.table". */
  tables: string[]
  predicates: Predicate[]
  joins: JoinKey[]
  orderBy: SortKey[]
  groupBy: ColumnTerm[]
  limit: boolean
  /** Columns read per table (select list, for INCLUDE candidates); '*' when all. */
  selected: Record<string, string[]>
  /** Highest $n: parameters the generic plan needs. */
  paramCount: number
  /** Tables written by the statement (INSERT/UPDATE/DELETE target). */
  written?: string
}

/** What parsing needs from the catalog: which tables exist and their columns. */
export interface CatalogColumns {
  /** "schema.table" -> column names */
  columns: Record<string, string[]>
  searchPath?: string[]
}

type Node = Record<string, any>

interface Scope {
  /** alias or table name -> "schema.table" */
  aliases: Map<string, string>
  parent?: Scope
}

const RANGE_OPS = new Set(['<', '<=', '>', '>='])
const CONTAINS_OPS = new Set(['@>', '<@', '?', '?|', '?&', '&&', '@?', '@@'])
/** Functions whose results are deterministic and indexable over one column (IMMUTABLE in the catalog). */
const INDEXABLE_FUNCTIONS = new Set(['lower', 'upper', 'date_trunc', 'abs', 'md5', 'btrim', 'trim', 'coalesce', 'date'])

function sval(node: Node | undefined): string | undefined {
  return node?.String?.sval
}

function constLiteral(node: Node): string | undefined {
  const c = node.A_Const
  if (!c) return undefined
  if (c.isnull) return 'NULL'
  if (c.sval) return `'${String(c.sval.sval ?? '').replace(/'/g, "''")}'`
  if (c.ival) return String(c.ival.ival ?? 0)
  if (c.fval) return String(c.fval.fval)
  if (c.boolval) return c.boolval.boolval ? 'true' : 'false'
  if ('ival' in c) return '0'
  return undefined
}

function unwrapCast(node: Node): Node {
  let n = node
  while (n?.TypeCast) n = n.TypeCast.arg
  return n
}

export class ShapeExtractor {
  private readonly shape: StatementShape
  constructor(private readonly catalog: CatalogColumns) {
    this.shape = {command: 'other', tables: [], predicates: [], joins: [], orderBy: [], groupBy: [], limit: false, selected: {}, paramCount: 0}
  }

  private resolveTable(schema: string | undefined, name: string): string {
    if (schema) return `${schema}.${name}`
    for (const s of this.catalog.searchPath ?? ['public']) if (this.catalog.columns[`${s}.${name}`]) return `${s}.${name}`
    const any = Object.keys(this.catalog.columns).find((k) => k.slice(k.indexOf('.') + 1) === name)
    return any ?? `public.${name}`
  }

  private addTable(key: string): void {
    if (!this.shape.tables.includes(key)) this.shape.tables.push(key)
  }

  private rangeVar(rv: Node, scope: Scope, ctes: Set<string>): string | undefined {
    if (!rv.schemaname && ctes.has(rv.relname)) return undefined
    const key = this.resolveTable(rv.schemaname, rv.relname)
    this.addTable(key)
    scope.aliases.set(rv.alias?.aliasname ?? rv.relname, key)
    return key
  }

  /** A column reference resolved to its table, or undefined when it belongs to a subquery, CTE or is ambiguous. */
  private columnRef(node: Node, scope: Scope): ColumnTerm | undefined {
    const fields: Node[] = node.ColumnRef?.fields ?? []
    if (fields.some((f) => f.A_Star)) return undefined
    const names = fields.map(sval)
    if (names.some((n) => n === undefined)) return undefined
    const column = names[names.length - 1]!
    if (names.length >= 2) {
      const qualifier = names[names.length - 2]!
      for (let s: Scope | undefined = scope; s; s = s.parent) {
        const key = s.aliases.get(qualifier)
        if (key) return {table: key, column}
      }
      return undefined
    }
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const tables = [...new Set(s.aliases.values())]
      const owners = tables.filter((t) => this.catalog.columns[t]?.includes(column))
      if (owners.length === 1) return {table: owners[0], column}
      if (owners.length === 0 && tables.length === 1 && !this.catalog.columns[tables[0]]) return {table: tables[0], column}
      if (owners.length > 1) return undefined
    }
    return undefined
  }

  /** A column, or an indexable expression over exactly one column (lower(email), data->>'k'). */
  private term(raw: Node, scope: Scope): ColumnTerm | undefined {
    const node = unwrapCast(raw)
    if (node?.ColumnRef) return this.columnRef(node, scope)
    if (node?.FuncCall) {
      const fc = node.FuncCall
      const name = sval(fc.funcname[fc.funcname.length - 1])?.toLowerCase()
      if (!name || !INDEXABLE_FUNCTIONS.has(name) || fc.agg_star || fc.over) return undefined
      let column: ColumnTerm | undefined
      const parts: string[] = []
      for (const arg of fc.args ?? []) {
        const a = unwrapCast(arg)
        if (a.ColumnRef) {
          if (column) return undefined
          column = this.columnRef(a, scope)
          if (!column) return undefined
          parts.push(quoteIdent(column.column))
        } else {
          const lit = constLiteral(a)
          if (!lit) return undefined
          parts.push(lit)
        }
      }
      if (!column) return undefined
      return {table: column.table, column: column.column, expression: `${name}(${parts.join(', ')})`}
    }
    if (node?.A_Expr && node.A_Expr.kind === 'AEXPR_OP') {
      const op = sval(node.A_Expr.name[0])
      if ((op === '->>' || op === '->') && unwrapCast(node.A_Expr.lexpr)?.ColumnRef) {
        const column = this.columnRef(unwrapCast(node.A_Expr.lexpr), scope)
        const key = constLiteral(unwrapCast(node.A_Expr.rexpr))
        if (column && key) return {table: column.table, column: column.column, expression: `(${quoteIdent(column.column)} ${op} ${key})`}
      }
    }
    return undefined
  }

  private valueKind(raw: Node): {value: Predicate['value']; literal?: string} | undefined {
    const node = unwrapCast(raw)
    if (node?.ParamRef) return {value: 'param'}
    const lit = node && constLiteral(node)
    if (lit) return {value: 'constant', literal: lit}
    return undefined
  }

  /** Predicates and join keys from an AND tree; OR branches are not single-index material and are skipped. */
  private qual(raw: Node | undefined, scope: Scope, ctes: Set<string>): void {
    if (!raw) return
    const node = raw
    if (node.BoolExpr) {
      if (node.BoolExpr.boolop === 'AND_EXPR') for (const a of node.BoolExpr.args) this.qual(a, scope, ctes)
      else for (const a of node.BoolExpr.args) this.subLinks(a, scope, ctes)
      return
    }
    if (node.SubLink) {
      this.subLinks(node, scope, ctes)
      return
    }
    if (node.NullTest) {
      const term = this.term(node.NullTest.arg, scope)
      if (term) this.shape.predicates.push({term, kind: 'isnull', operator: node.NullTest.nulltesttype === 'IS_NULL' ? 'IS NULL' : 'IS NOT NULL', value: 'constant', literal: undefined})
      return
    }
    const e = node.A_Expr
    if (!e) {
      this.subLinks(node, scope, ctes)
      return
    }
    const op = sval(e.name?.[0]) ?? ''
    if (e.kind === 'AEXPR_IN') {
      const term = this.term(e.lexpr, scope)
      if (term && op === '=') this.shape.predicates.push({term, kind: 'in', operator: 'IN', value: 'param'})
      return
    }
    if (e.kind === 'AEXPR_BETWEEN' || e.kind === 'AEXPR_BETWEEN_SYM') {
      const term = this.term(e.lexpr, scope)
      if (term) this.shape.predicates.push({term, kind: 'range', operator: 'BETWEEN', value: 'param'})
      return
    }
    if (e.kind === 'AEXPR_LIKE' || e.kind === 'AEXPR_ILIKE') {
      if (op.startsWith('!')) return
      const term = this.term(e.lexpr, scope)
      const value = this.valueKind(e.rexpr)
      if (!term || !value) return
      const ci = e.kind === 'AEXPR_ILIKE'
      let kind: PredicateKind = 'like-param'
      if (value.value === 'constant') {
        const pattern = unwrapCast(e.rexpr).A_Const?.sval?.sval ?? ''
        kind = pattern.startsWith('%') || pattern.startsWith('_') ? 'like-infix' : 'like-prefix'
      }
      this.shape.predicates.push({term, kind, operator: ci ? 'ILIKE' : 'LIKE', value: value.value, caseInsensitive: ci})
      return
    }
    if (e.kind === 'AEXPR_OP_ANY') {
      const term = this.term(e.lexpr, scope)
      if (term && op === '=') this.shape.predicates.push({term, kind: 'in', operator: '= ANY', value: 'param'})
      return
    }
    if (e.kind !== 'AEXPR_OP') return
    let left = this.term(e.lexpr, scope)
    let right = this.term(e.rexpr, scope)
    let other = e.rexpr
    let operator = op
    if (!left && right) {
      // "5 < col" reads as "col > 5".
      left = right
      right = undefined
      other = e.lexpr
      operator = ({'<': '>', '>': '<', '<=': '>=', '>=': '<='} as Record<string, string>)[op] ?? op
    }
    if (!left) return
    if (right && op === '=' && right.table !== left.table) {
      this.shape.joins.push({left, right})
      return
    }
    if (right) return
    const value = this.valueKind(other) ?? {value: 'expression' as const}
    let kind: PredicateKind = 'other'
    if (operator === '=') kind = 'eq'
    else if (RANGE_OPS.has(operator)) kind = 'range'
    else if (CONTAINS_OPS.has(operator)) kind = 'contains'
    if (kind === 'other') return
    this.shape.predicates.push({term: left, kind, operator, ...value})
    this.subLinks(other, scope, ctes)
  }

  /** Subqueries anywhere in an expression are statements of their own, correlated through the scope chain. */
  private subLinks(node: unknown, scope: Scope, ctes: Set<string>): void {
    if (Array.isArray(node)) {
      for (const n of node) this.subLinks(n, scope, ctes)
      return
    }
    if (!node || typeof node !== 'object') return
    const n = node as Node
    if (n.SubLink) {
      const sub = n.SubLink
      this.select(sub.subselect?.SelectStmt, {aliases: new Map(), parent: scope}, ctes, false)
      // "col IN (SELECT ...)" joins col to the subquery's output: the outer column is an equality key.
      if (sub.subLinkType === 'ANY_SUBLINK' && sub.testexpr) {
        const term = this.term(sub.testexpr, scope)
        if (term) this.shape.predicates.push({term, kind: 'in', operator: 'IN', value: 'expression'})
      }
      return
    }
    for (const v of Object.values(n)) if (v && typeof v === 'object') this.subLinks(v, scope, ctes)
  }

  private fromItem(item: Node, scope: Scope, ctes: Set<string>): void {
    if (item.RangeVar) this.rangeVar(item.RangeVar, scope, ctes)
    else if (item.JoinExpr) {
      const j = item.JoinExpr
      this.fromItem(j.larg, scope, ctes)
      this.fromItem(j.rarg, scope, ctes)
      this.qual(j.quals, scope, ctes)
      for (const u of j.usingClause ?? []) {
        const col = sval(u)
        const tables = [...new Set(scope.aliases.values())].filter((t) => this.catalog.columns[t]?.includes(col!))
        if (col && tables.length === 2) this.shape.joins.push({left: {table: tables[0], column: col}, right: {table: tables[1], column: col}})
      }
    } else if (item.RangeSubselect) {
      this.select(item.RangeSubselect.subquery?.SelectStmt, {aliases: new Map(), parent: scope}, ctes, false)
    }
  }

  private select(stmt: Node | undefined, scope: Scope, outerCtes: Set<string>, top: boolean): void {
    if (!stmt) return
    const ctes = new Set(outerCtes)
    for (const cte of stmt.withClause?.ctes ?? []) {
      ctes.add(cte.CommonTableExpr.ctename)
      const q = cte.CommonTableExpr.ctequery
      if (q?.SelectStmt) this.select(q.SelectStmt, {aliases: new Map(), parent: scope}, ctes, false)
      else if (q) this.statement(q, ctes, false, scope)
    }
    if (stmt.op && stmt.op !== 'SETOP_NONE') {
      this.select(stmt.larg, {aliases: new Map(), parent: scope.parent}, ctes, false)
      this.select(stmt.rarg, {aliases: new Map(), parent: scope.parent}, ctes, false)
      return
    }
    for (const item of stmt.fromClause ?? []) this.fromItem(item, scope, ctes)
    this.qual(stmt.whereClause, scope, ctes)
    this.qual(stmt.havingClause, scope, ctes)
    if (top) {
      for (const s of stmt.sortClause ?? []) {
        const term = this.term(s.SortBy.node, scope)
        if (!term) {
          this.shape.orderBy = []
          break
        }
        this.shape.orderBy.push({term, desc: s.SortBy.sortby_dir === 'SORTBY_DESC'})
      }
      if (stmt.sortClause && this.shape.orderBy.length !== stmt.sortClause.length) this.shape.orderBy = []
      for (const g of stmt.groupClause ?? []) {
        const term = this.term(g, scope)
        if (term) this.shape.groupBy.push(term)
      }
      this.shape.limit = Boolean(stmt.limitCount)
      for (const t of stmt.targetList ?? []) {
        const val = t.ResTarget?.val
        if (val?.ColumnRef?.fields?.some((f: Node) => f.A_Star)) {
          for (const key of scope.aliases.values()) this.shape.selected[key] = ['*']
          continue
        }
        const term = val && this.term(val, scope)
        if (term && !term.expression) {
          const list = (this.shape.selected[term.table] ??= [])
          if (!list.includes('*') && !list.includes(term.column)) list.push(term.column)
        } else if (val && !val.A_Const) {
          // Aggregates or expressions: mark every table as fully read, so no INCLUDE list is guessed.
          for (const key of scope.aliases.values()) this.shape.selected[key] ??= ['*']
        }
      }
    }
    this.subLinks(stmt.targetList, scope, ctes)
  }

  private statement(node: Node, ctes: Set<string>, top: boolean, parent?: Scope): void {
    const scope: Scope = {aliases: new Map(), parent}
    if (node.SelectStmt) {
      if (top) this.shape.command = 'select'
      this.select(node.SelectStmt, scope, ctes, top)
    } else if (node.InsertStmt) {
      const s = node.InsertStmt
      if (top) this.shape.command = 'insert'
      const key = this.rangeVar(s.relation, scope, ctes)
      if (top) this.shape.written = key
      if (s.selectStmt?.SelectStmt) this.select(s.selectStmt.SelectStmt, {aliases: new Map(), parent}, ctes, false)
    } else if (node.UpdateStmt || node.DeleteStmt) {
      const s = node.UpdateStmt ?? node.DeleteStmt
      if (top) this.shape.command = node.UpdateStmt ? 'update' : 'delete'
      for (const c of s.withClause?.ctes ?? []) {
        ctes.add(c.CommonTableExpr.ctename)
        this.statement(c.CommonTableExpr.ctequery, ctes, false, scope)
      }
      const key = this.rangeVar(s.relation, scope, ctes)
      if (top) this.shape.written = key
      for (const item of s.fromClause ?? s.usingClause ?? []) this.fromItem(item, scope, ctes)
      this.qual(s.whereClause, scope, ctes)
    } else if (node.ExplainStmt) {
      this.statement(node.ExplainStmt.query, ctes, top)
    }
  }

  extract(stmt: Node): StatementShape {
    this.shape.paramCount = highestParam(stmt)
    this.statement(stmt, new Set(), true)
    return this.shape
  }
}

/** Parses one statement (the first, if several) and extracts its shape. Throws the parser's message on bad SQL. */
export async function extractShape(sql: string, catalog: CatalogColumns): Promise<StatementShape> {
  await ensureParser()
  return extractShapeSync(sql, catalog)
}

export function extractShapeSync(sql: string, catalog: CatalogColumns): StatementShape {
  const parsed = parseSync(sql)
  const stmt = parsed.stmts?.[0]?.stmt
  if (!stmt) throw new Error('empty statement')
  return new ShapeExtractor(catalog).extract(stmt as Node)
}

/** The highest $n in a statement (0 when it has no parameters). */
export function parameterCount(sql: string): number {
  const parsed = parseSync(sql)
  const stmt = parsed.stmts?.[0]?.stmt
  if (!stmt) return 0
  return highestParam(stmt)
}

/** The highest $n anywhere in a parse tree. */
function highestParam(node: unknown): number {
  if (Array.isArray(node)) return node.reduce((max: number, n) => Math.max(max, highestParam(n)), 0)
  if (!node || typeof node !== 'object') return 0
  const n = node as Node
  let max = n.ParamRef ? n.ParamRef.number ?? 0 : 0
  for (const v of Object.values(n)) if (v && typeof v === 'object') max = Math.max(max, highestParam(v))
  return max
}
