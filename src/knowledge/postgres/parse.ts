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
  /** The $n of a parameter compared directly (`col = $2`: 2), so a cache key can name which parameter is which column. */
  param?: number
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
  /**
   * Every column the statement reads per base table, anywhere (select list, aggregates and expressions, filters,
   * joins, grouping, sorting), through views, CTEs and subqueries; '*' when the whole row is read. What a covering
   * index must hold for an index-only scan.
   */
  read: Record<string, string[]>
  /** Highest $n: parameters the generic plan needs. */
  paramCount: number
  /** Tables written by the statement (INSERT/UPDATE/DELETE target). */
  written?: string
}

/** What parsing needs from the catalog: which tables exist and their columns. */
export interface CatalogColumns {
  /** "schema.table" -> column names (views included) */
  columns: Record<string, string[]>
  searchPath?: string[]
  /** "schema.view" -> the view's definition (a SELECT), parsed to look through the view to its base tables. */
  views?: Record<string, string>
}

type Node = Record<string, any>

/** What a derived relation (view, CTE, subquery in FROM) exposes: per output column, the base term it is, if any. */
type Outputs = Array<{name: string; term?: ColumnTerm; reads?: Array<[string, string]>}>

interface Scope {
  /** alias or table name -> "schema.table" */
  aliases: Map<string, string>
  /** alias of a view, CTE or subquery -> its output columns, resolved to base-table terms where they are one */
  derived: Map<string, Outputs>
  parent?: Scope
}

const newScope = (parent?: Scope): Scope => ({aliases: new Map(), derived: new Map(), parent})

/** Views inside views are expanded this deep at most. */
const MAX_VIEW_DEPTH = 8

/** Output columns renamed by an alias column list (`AS t(a, b)`, `WITH x(a, b)`, a view's attribute names). */
function renamed(outputs: Outputs | undefined, names: Array<string | undefined> | undefined): Outputs {
  const out = outputs ?? []
  if (!names || names.length === 0) return out
  return out.map((o, i) => ({...o, name: names[i] ?? o.name}))
}

/** Predicates and joins collected from one branch of an OR, to keep only what every branch has. */
interface Sink {
  predicates: Predicate[]
  joins: JoinKey[]
}

const termId = (t: ColumnTerm) => `${t.table}|${t.expression ?? t.column}`


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

type Ctes = Map<string, Outputs | undefined>

export class ShapeExtractor {
  private readonly shape: StatementShape
  /** Where predicates and joins go while one branch of an OR is read (undefined: into the shape). */
  private sink: Sink | undefined
  /** Views being expanded (a guard against a view that reads itself through another). */
  private readonly expanding = new Set<string>()
  constructor(private readonly catalog: CatalogColumns) {
    this.shape = {command: 'other', tables: [], predicates: [], joins: [], orderBy: [], groupBy: [], limit: false, selected: {}, read: {}, paramCount: 0}
  }

  private pushPredicate(p: Predicate): void {
    (this.sink ?? this.shape).predicates.push(p)
  }

  private pushJoin(j: JoinKey): void {
    (this.sink ?? this.shape).joins.push(j)
  }

  /** While a derived relation's output column is read: the base columns it reads, instead of the shape's. */
  private readSink: Array<[string, string]> | undefined

  private markRead(table: string, column: string): void {
    if (this.readSink) {
      this.readSink.push([table, column])
      return
    }
    const list = (this.shape.read[table] ??= [])
    if (!list.includes(column)) list.push(column)
  }

  /** Reads one branch of an OR into a sink of its own. */
  private branch(fn: () => void): Sink {
    const saved = this.sink
    this.sink = {predicates: [], joins: []}
    try {
      fn()
      return this.sink
    } finally {
      this.sink = saved
    }
  }

  /**
   * What every branch of an OR has in common is as good as a conjunct (PostgreSQL factors it out too, in
   * prepqual.c's process_duplicate_ors): a join key present in each branch, and a column each branch filters
   * on (equalities with different values become an IN, any mix with ranges a range).
   */
  private common(branches: Sink[]): void {
    if (branches.length === 0) return
    const joinId = (j: JoinKey) => [termId(j.left), termId(j.right)].sort().join('=')
    for (const j of branches[0].joins) {
      if (branches.every((b) => b.joins.some((x) => joinId(x) === joinId(j)))) this.pushJoin(j)
    }
    const byTerm = branches.map((b) => {
      const m = new Map<string, Predicate[]>()
      for (const p of b.predicates) m.set(termId(p.term), [...(m.get(termId(p.term)) ?? []), p])
      return m
    })
    for (const [id, first] of byTerm[0]) {
      const all = byTerm.map((m) => m.get(id))
      if (all.some((ps) => !ps)) continue
      const preds = all.flat() as Predicate[]
      const kinds = new Set(preds.map((p) => p.kind))
      const term = first[0].term
      if ([...kinds].every((k) => k === 'eq') && new Set(preds.map((p) => `${p.value}|${p.literal}`)).size === 1) this.pushPredicate(first[0])
      else if ([...kinds].every((k) => k === 'eq' || k === 'in')) this.pushPredicate({term, kind: 'in', operator: 'IN', value: 'param'})
      else if ([...kinds].every((k) => k === 'eq' || k === 'in' || k === 'range')) this.pushPredicate({term, kind: 'range', operator: 'BETWEEN', value: 'param'})
      else if (kinds.size === 1 && kinds.has('isnull') && new Set(preds.map((p) => p.operator)).size === 1) this.pushPredicate(first[0])
    }
  }

  /** The output columns of a view, as its base-table terms, or undefined when its definition cannot be read. */
  private expandView(key: string, definition: string): Outputs | undefined {
    if (this.expanding.has(key) || this.expanding.size >= MAX_VIEW_DEPTH) return undefined
    let stmt: Node | undefined
    try {
      stmt = parseSync(definition).stmts?.[0]?.stmt as Node | undefined
    } catch {
      return undefined
    }
    if (!stmt?.SelectStmt) return undefined
    this.expanding.add(key)
    try {
      // Sinks do not reach into a view: its own quals are conjuncts of the statement wherever the view is used.
      const saved = this.sink
      this.sink = undefined
      const out = this.select(stmt.SelectStmt, newScope(), new Map(), false, true)
      this.sink = saved
      return out ? renamed(out, this.catalog.columns[key]) : undefined
    } finally {
      this.expanding.delete(key)
    }
  }

  /** Marks every column an expression reads (aggregates' arguments included), not descending into subqueries. */
  private reads(node: unknown, scope: Scope): void {
    if (Array.isArray(node)) {
      for (const n of node) this.reads(n, scope)
      return
    }
    if (!node || typeof node !== 'object') return
    const n = node as Node
    if (n.SubLink) return
    if (n.ColumnRef) {
      const fields: Node[] = n.ColumnRef.fields ?? []
      if (fields.some((f) => f.A_Star)) {
        const names = fields.map(sval)
        const qualifier = names.length >= 2 ? names[names.length - 2] : undefined
        for (const [alias, key] of scope.aliases) if (!qualifier || alias === qualifier) this.markRead(key, '*')
        for (const [alias, outputs] of scope.derived) if (!qualifier || alias === qualifier) for (const o of outputs) for (const [t, c] of o.reads ?? []) this.markRead(t, c)
        return
      }
      this.columnRef(n, scope)
      return
    }
    for (const v of Object.values(n)) if (v && typeof v === 'object') this.reads(v, scope)
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

  private rangeVar(rv: Node, scope: Scope, ctes: Ctes, lookThrough = true): string | undefined {
    const alias = rv.alias?.aliasname ?? rv.relname
    const colnames = (rv.alias?.colnames ?? []).map(sval)
    if (!rv.schemaname && ctes.has(rv.relname)) {
      scope.derived.set(alias, renamed(ctes.get(rv.relname), colnames))
      return undefined
    }
    const key = this.resolveTable(rv.schemaname, rv.relname)
    const view = lookThrough ? this.catalog.views?.[key] : undefined
    if (view !== undefined) {
      const out = this.expandView(key, view)
      if (out) {
        scope.derived.set(alias, renamed(out, colnames))
        return undefined
      }
    }
    this.addTable(key)
    scope.aliases.set(alias, key)
    return key
  }

  /** A column of a derived relation, as the base term it stands for; the base columns behind it are read. */
  private derivedColumn(outputs: Outputs, column: string): ColumnTerm | undefined {
    const o = outputs.find((x) => x.name === column)
    for (const [t, c] of o?.reads ?? []) this.markRead(t, c)
    return o?.term
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
        const outputs = s.derived.get(qualifier)
        if (outputs) return this.derivedColumn(outputs, column)
        const key = s.aliases.get(qualifier)
        if (key) {
          this.markRead(key, column)
          return {table: key, column}
        }
      }
      return undefined
    }
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const tables = [...new Set(s.aliases.values())]
      const owners = tables.filter((t) => this.catalog.columns[t]?.includes(column))
      const derived = [...s.derived.values()].filter((o) => o.some((x) => x.name === column))
      if (owners.length + derived.length > 1) return undefined
      if (derived.length === 1) return this.derivedColumn(derived[0], column)
      if (owners.length === 1) {
        this.markRead(owners[0], column)
        return {table: owners[0], column}
      }
      if (owners.length === 0 && tables.length === 1 && s.derived.size === 0 && !this.catalog.columns[tables[0]]) return {table: tables[0], column}
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

  private valueKind(raw: Node): {value: Predicate['value']; literal?: string; param?: number} | undefined {
    const node = unwrapCast(raw)
    if (node?.ParamRef) return typeof node.ParamRef.number === 'number' ? {value: 'param', param: node.ParamRef.number} : {value: 'param'}
    const lit = node && constLiteral(node)
    if (lit) return {value: 'constant', literal: lit}
    return undefined
  }

  /** Predicates and join keys from an AND tree; of an OR, what every branch has (see common). */
  private qual(raw: Node | undefined, scope: Scope, ctes: Ctes): void {
    if (!raw) return
    const node = raw
    if (node.BoolExpr) {
      if (node.BoolExpr.boolop === 'AND_EXPR') for (const a of node.BoolExpr.args) this.qual(a, scope, ctes)
      else if (node.BoolExpr.boolop === 'OR_EXPR') this.common(node.BoolExpr.args.map((a: Node) => this.branch(() => this.qual(a, scope, ctes))))
      else for (const a of node.BoolExpr.args) this.subLinks(a, scope, ctes)
      return
    }
    if (node.SubLink) {
      this.subLinks(node, scope, ctes)
      return
    }
    if (node.NullTest) {
      const term = this.term(node.NullTest.arg, scope)
      if (term) this.pushPredicate({term, kind: 'isnull', operator: node.NullTest.nulltesttype === 'IS_NULL' ? 'IS NULL' : 'IS NOT NULL', value: 'constant', literal: undefined})
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
      if (term && op === '=') this.pushPredicate({term, kind: 'in', operator: 'IN', value: 'param'})
      return
    }
    if (e.kind === 'AEXPR_BETWEEN' || e.kind === 'AEXPR_BETWEEN_SYM') {
      const term = this.term(e.lexpr, scope)
      if (term) this.pushPredicate({term, kind: 'range', operator: 'BETWEEN', value: 'param'})
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
      this.pushPredicate({term, kind, operator: ci ? 'ILIKE' : 'LIKE', value: value.value, caseInsensitive: ci})
      return
    }
    if (e.kind === 'AEXPR_OP_ANY') {
      const term = this.term(e.lexpr, scope)
      if (term && op === '=') this.pushPredicate({term, kind: 'in', operator: '= ANY', value: 'param'})
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
      this.pushJoin({left, right})
      return
    }
    if (right && op === '=') {
      // Two columns of one table: a self-join or a correlated subquery over the outer query's own table
      // (s2.store_id = s.store_id). Either side can be the one looked up, as by a parameter.
      this.pushPredicate({term: left, kind: 'eq', operator: '=', value: 'expression'})
      if (termId(right) !== termId(left)) this.pushPredicate({term: right, kind: 'eq', operator: '=', value: 'expression'})
      return
    }
    if (right) return
    const value = this.valueKind(other) ?? {value: 'expression' as const}
    let kind: PredicateKind = 'other'
    if (operator === '=') kind = 'eq'
    else if (RANGE_OPS.has(operator)) kind = 'range'
    else if (CONTAINS_OPS.has(operator)) kind = 'contains'
    if (kind === 'other') return
    this.pushPredicate({term: left, kind, operator, ...value})
    this.subLinks(other, scope, ctes)
  }

  /** Subqueries anywhere in an expression are statements of their own, correlated through the scope chain. */
  private subLinks(node: unknown, scope: Scope, ctes: Ctes): void {
    if (Array.isArray(node)) {
      for (const n of node) this.subLinks(n, scope, ctes)
      return
    }
    if (!node || typeof node !== 'object') return
    const n = node as Node
    if (n.SubLink) {
      const sub = n.SubLink
      // A subquery's own quals hold whichever OR branch it sits in: they go to the shape, not the branch.
      const saved = this.sink
      this.sink = undefined
      try {
        this.select(sub.subselect?.SelectStmt, newScope(scope), ctes, false)
      } finally {
        this.sink = saved
      }
      // "col IN (SELECT ...)" joins col to the subquery's output: the outer column is an equality key.
      if (sub.subLinkType === 'ANY_SUBLINK' && sub.testexpr) {
        const term = this.term(sub.testexpr, scope)
        if (term) this.pushPredicate({term, kind: 'in', operator: 'IN', value: 'expression'})
      }
      return
    }
    for (const v of Object.values(n)) if (v && typeof v === 'object') this.subLinks(v, scope, ctes)
  }

  private fromItem(item: Node, scope: Scope, ctes: Ctes): void {
    if (item.RangeVar) this.rangeVar(item.RangeVar, scope, ctes)
    else if (item.JoinExpr) {
      const j = item.JoinExpr
      this.fromItem(j.larg, scope, ctes)
      this.fromItem(j.rarg, scope, ctes)
      this.qual(j.quals, scope, ctes)
      this.reads(j.quals, scope)
      for (const u of j.usingClause ?? []) {
        const col = sval(u)
        const tables = [...new Set(scope.aliases.values())].filter((t) => this.catalog.columns[t]?.includes(col!))
        if (col && tables.length === 2) this.pushJoin({left: {table: tables[0], column: col}, right: {table: tables[1], column: col}})
      }
    } else if (item.RangeSubselect) {
      const rs = item.RangeSubselect
      const out = this.select(rs.subquery?.SelectStmt, newScope(scope), ctes, false, true)
      if (rs.alias?.aliasname) scope.derived.set(rs.alias.aliasname, renamed(out, (rs.alias.colnames ?? []).map(sval)))
    }
  }

  /** Reads one SELECT; returns its output columns as base-table terms where each is one (for views, CTEs, subqueries). */
  private select(stmt: Node | undefined, scope: Scope, outerCtes: Ctes, top: boolean, derived = false): Outputs | undefined {
    if (!stmt) return undefined
    const ctes: Ctes = new Map(outerCtes)
    for (const cte of stmt.withClause?.ctes ?? []) {
      const c = cte.CommonTableExpr
      const q = c.ctequery
      // Known by name before its own query is read: a recursive CTE refers to itself.
      ctes.set(c.ctename, undefined)
      let out: Outputs | undefined
      if (q?.SelectStmt) out = this.select(q.SelectStmt, newScope(scope), ctes, false, true)
      else if (q) this.statement(q, ctes, false, scope)
      ctes.set(c.ctename, renamed(out, (c.aliascolnames ?? []).map(sval)))
    }
    if (stmt.op && stmt.op !== 'SETOP_NONE') {
      // Each branch is read; a column of a UNION is no single base column.
      this.select(stmt.larg, newScope(scope.parent), ctes, false)
      this.select(stmt.rarg, newScope(scope.parent), ctes, false)
      return undefined
    }
    for (const item of stmt.fromClause ?? []) this.fromItem(item, scope, ctes)
    this.qual(stmt.whereClause, scope, ctes)
    this.qual(stmt.havingClause, scope, ctes)
    // A derived relation's select list is read only as far as the statement reads its columns (see outputs).
    for (const clause of [derived ? undefined : stmt.targetList, stmt.whereClause, stmt.havingClause, stmt.groupClause, stmt.sortClause, stmt.distinctClause, stmt.windowClause]) this.reads(clause, scope)
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
    return this.outputs(stmt, scope)
  }

  /** A SELECT's output columns: names (as PostgreSQL gives them) and the base term each is, when it is one. */
  private outputs(stmt: Node, scope: Scope): Outputs {
    const out: Outputs = []
    for (const t of stmt.targetList ?? []) {
      const rt = t.ResTarget
      const val = rt?.val
      const fields: Node[] | undefined = val?.ColumnRef?.fields
      if (fields?.some((f) => f.A_Star)) {
        const names = fields.map(sval)
        const qualifier = names.length >= 2 ? names[names.length - 2] : undefined
        for (const [alias, key] of scope.aliases) {
          if (qualifier && alias !== qualifier) continue
          for (const column of this.catalog.columns[key] ?? []) out.push({name: column, term: {table: key, column}, reads: [[key, column]]})
        }
        for (const [alias, outputs] of scope.derived) if (!qualifier || alias === qualifier) out.push(...outputs)
        continue
      }
      const saved = this.readSink
      this.readSink = []
      let term: ColumnTerm | undefined
      let reads: Array<[string, string]>
      try {
        term = val ? this.term(val, scope) : undefined
        this.reads(val, scope)
        reads = this.readSink
      } finally {
        this.readSink = saved
      }
      const name = rt?.name ?? (fields ? sval(fields[fields.length - 1]) : undefined) ?? (val?.FuncCall ? sval(val.FuncCall.funcname[val.FuncCall.funcname.length - 1]) : undefined) ?? '?column?'
      out.push({name, term, reads})
    }
    return out
  }

  private statement(node: Node, ctes: Ctes, top: boolean, parent?: Scope): void {
    const scope: Scope = newScope(parent)
    if (node.SelectStmt) {
      if (top) this.shape.command = 'select'
      this.select(node.SelectStmt, scope, ctes, top)
    } else if (node.InsertStmt) {
      const s = node.InsertStmt
      if (top) this.shape.command = 'insert'
      const key = this.rangeVar(s.relation, scope, ctes, false)
      if (top) this.shape.written = key
      if (s.selectStmt?.SelectStmt) this.select(s.selectStmt.SelectStmt, newScope(parent), ctes, false)
    } else if (node.UpdateStmt || node.DeleteStmt) {
      const s = node.UpdateStmt ?? node.DeleteStmt
      if (top) this.shape.command = node.UpdateStmt ? 'update' : 'delete'
      for (const c of s.withClause?.ctes ?? []) {
        ctes.set(c.CommonTableExpr.ctename, undefined)
        const q = c.CommonTableExpr.ctequery
        const out = q?.SelectStmt ? this.select(q.SelectStmt, newScope(scope), ctes, false) : (this.statement(q, ctes, false, scope), undefined)
        ctes.set(c.CommonTableExpr.ctename, renamed(out, (c.CommonTableExpr.aliascolnames ?? []).map(sval)))
      }
      // The written relation itself (a view is written through its rules, not looked through).
      const key = this.rangeVar(s.relation, scope, ctes, false)
      if (top) this.shape.written = key
      for (const item of s.fromClause ?? s.usingClause ?? []) this.fromItem(item, scope, ctes)
      this.qual(s.whereClause, scope, ctes)
    } else if (node.ExplainStmt) {
      this.statement(node.ExplainStmt.query, ctes, top)
    }
  }

  extract(stmt: Node): StatementShape {
    this.shape.paramCount = highestParam(stmt)
    this.statement(stmt, new Map(), true)
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
