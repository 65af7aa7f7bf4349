import {parseSync} from 'libpg-query'
import type {CatalogFacts, ColumnFacts, ExistingIndex, TableFacts} from '../../knowledge/postgres/catalog.js'
import {quoteIdent, quoteLiteral, quoteQualified} from '../../core/sql.js'
import {type ColumnTerm, type Predicate, type StatementShape} from '../../knowledge/postgres/parse.js'

export interface IndexKey {
  /** SQL text of the key: a quoted column or an expression over one. */
  sql: string
  column: string
  desc?: boolean
  opclass?: string
}

export type CandidateKind = 'single' | 'composite' | 'sort' | 'join' | 'partial' | 'expression' | 'gin' | 'trigram' | 'covering'

export interface Candidate {
  id: string
  table: string
  method: 'btree' | 'gin'
  keys: IndexKey[]
  where?: string
  include?: string[]
  kind: CandidateKind
  /** Statements (indexes into the workload) whose shape references the leading key: the only ones it can help. */
  statements: number[]
  /** Estimated size from the catalog, replaced by hypopg's estimate when available. */
  estimatedBytes: number
}

export interface CandidateSet {
  candidates: Candidate[]
  /** Candidates dropped because an existing valid index covers them: candidate id -> index name. */
  covered: Record<string, string>
  /** Notes per statement (e.g. "LIKE '%x%' needs pg_trgm"). */
  notes: Record<number, string[]>
  /** Candidate ids on the two sides of one join: indexes that may help only together, so tried as a pair. */
  pairs: Array<[string, string]>
}

export function quoteQualifiedTable(key: string, catalog?: CatalogFacts): string {
  const t = catalog?.tables[key]
  if (t) return quoteQualified(t.schema, t.name)
  const dot = key.indexOf('.')
  return quoteQualified(key.slice(0, dot), key.slice(dot + 1))
}

function termSql(term: ColumnTerm): string {
  return term.expression ?? quoteIdent(term.column)
}

export function termKey(term: ColumnTerm): string {
  return `${term.table}|${termSql(term)}`
}

function column(table: TableFacts | undefined, name: string): ColumnFacts | undefined {
  return table?.columns.find((c) => c.name === name)
}

/** Fraction of rows that one equality value selects, from pg_stats (n_distinct < 0 is a fraction of rows). */
function equalitySelectivity(table: TableFacts | undefined, col: string): number {
  const c = column(table, col)
  if (!table || !c || c.nDistinct === null || c.nDistinct === 0) return 0.005
  const distinct = c.nDistinct < 0 ? -c.nDistinct * Math.max(1, table.rows) : c.nDistinct
  return 1 / Math.max(1, distinct)
}

/** Selectivity of "col = literal" from the most common values, for deciding whether a partial index pays. */
function literalSelectivity(table: TableFacts | undefined, col: string, literal: string | undefined): number {
  const c = column(table, col)
  if (!c || !literal) return 1
  const bare = literal.startsWith("'") ? literal.slice(1, -1).replace(/''/g, "'") : literal
  const i = c.mcv?.indexOf(bare) ?? -1
  if (i >= 0 && c.mcf) return c.mcf[i]
  return equalitySelectivity(table, col)
}

/**
 * A predicate's constant for a partial index's WHERE, which the remedy prints. The parser hands strings over as
 * '...' with quotes doubled; quoteLiteral re-writes one with a backslash as E'...', so the index predicate holds
 * the same text whatever standard_conforming_strings is where the remedy is pasted.
 */
function constantSql(literal: string): string {
  return literal.length >= 2 && literal.startsWith("'") && literal.endsWith("'") ? quoteLiteral(literal.slice(1, -1).replace(/''/g, "'")) : literal
}

function keyWidth(table: TableFacts | undefined, keys: IndexKey[], include: string[] = []): number {
  return [...keys.map((k) => k.column), ...include].reduce((sum, name) => sum + (column(table, name)?.avgWidth ?? 8), 0)
}

/** A btree tuple costs about 8 bytes of header plus its line pointer plus the aligned key, at 90% leaf fill. */
export function estimateIndexBytes(table: TableFacts | undefined, keys: IndexKey[], include: string[] = [], fraction = 1, method = 'btree'): number {
  const rows = Math.max(1, (table?.rows ?? 1000) * fraction)
  const width = keyWidth(table, keys, include)
  const perTuple = method === 'gin' ? Math.max(8, width) * 1.5 : 12 + Math.ceil(width / 8) * 8
  return Math.max(8192, Math.ceil((rows * perTuple) / 0.9 / 8192) * 8192 + 8192)
}

export function candidateId(c: Pick<Candidate, 'table' | 'method' | 'keys' | 'where' | 'include'>): string {
  const keys = c.keys.map((k) => `${k.sql}${k.opclass ? ` ${k.opclass}` : ''}${k.desc ? ' DESC' : ''}`).join(', ')
  return `${c.table} ${c.method} (${keys})${c.include?.length ? ` INCLUDE (${c.include.join(', ')})` : ''}${c.where ? ` WHERE ${c.where}` : ''}`
}

/** The CREATE INDEX text (hypopg takes it as is; the remedy adds CONCURRENTLY and a name). */
export function indexDefinition(c: Candidate, catalog?: CatalogFacts, options: {concurrently?: boolean; name?: string} = {}): string {
  const keys = c.keys.map((k) => `${k.sql.startsWith('"') ? k.sql : `(${k.sql})`}${k.opclass ? ` ${k.opclass}` : ''}${k.desc ? ' DESC' : ''}`).join(', ')
  const include = c.include?.length ? ` INCLUDE (${c.include.map(quoteIdent).join(', ')})` : ''
  const where = c.where ? ` WHERE ${c.where}` : ''
  const name = options.name ? ` ${quoteIdent(options.name)}` : ''
  return `CREATE INDEX${options.concurrently ? ' CONCURRENTLY' : ''}${name} ON ${quoteQualifiedTable(c.table, catalog)} USING ${c.method} (${keys})${include}${where}`
}

/** A readable, unique-enough index name within PostgreSQL's 63-byte limit. */
export function indexName(c: Candidate, catalog?: CatalogFacts): string {
  const table = catalog?.tables[c.table]?.name ?? c.table.slice(c.table.indexOf('.') + 1)
  const cols = c.keys.map((k) => (k.sql.startsWith('"') ? k.column : `${k.sql.slice(0, k.sql.indexOf('('))}_${k.column}`)).join('_')
  let base = `${table}_${cols}${c.where ? '_partial' : ''}_${c.method === 'gin' ? 'gin' : 'idx'}`.replace(/[^A-Za-z0-9_ ]/g, '_')
  while (Buffer.byteLength(base, 'utf8') > 63) base = base.slice(0, -1)
  return base
}

type AstNode = Record<string, any>

function stripNoise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripNoise)
  if (!node || typeof node !== 'object') return node
  const n = node as AstNode
  if (n.TypeCast) return stripNoise(n.TypeCast.arg)
  const out: AstNode = {}
  for (const [k, v] of Object.entries(n)) if (k !== 'location' && k !== 'funcformat') out[k] = stripNoise(v)
  return out
}

const exprKeyCache = new Map<string, string>()
/**
 * A comparable form of an index key or predicate: its parse tree without locations and casts, so that
 * pg_get_indexdef's lower((email)::text) equals our lower("email"). Falls back to the text if it does not parse.
 */
export function expressionKey(text: string): string {
  let key = exprKeyCache.get(text)
  if (key === undefined) {
    try {
      key = JSON.stringify(stripNoise(parseSync(`SELECT ${text}`).stmts?.[0]?.stmt))
    } catch {
      key = text
    }
    exprKeyCache.set(text, key)
  }
  return key
}

/**
 * Whether an existing index makes the candidate pointless: valid, same method, same predicate, and the candidate's
 * keys are a prefix of its keys (and its INCLUDE columns are among the index's columns).
 */
export function coveringIndex(c: Candidate, existing: ExistingIndex[]): ExistingIndex | undefined {
  return existing.find((e) => {
    if (!e.valid || e.table !== c.table || e.method !== c.method) return false
    if ((e.predicate ? expressionKey(e.predicate) : null) !== (c.where ? expressionKey(c.where) : null)) return false
    if (c.keys.length > e.keys.length) return false
    if (c.method === 'gin' && c.keys[0].opclass && !e.keys[0].includes(c.keys[0].opclass)) return false
    for (let i = 0; i < c.keys.length; i++) if (expressionKey(c.keys[i].sql) !== expressionKey(e.keys[i].replace(/ (gin_trgm_ops|jsonb_path_ops)$/, ''))) return false
    const all = [...e.keys, ...e.include].map(expressionKey)
    return (c.include ?? []).every((col) => all.includes(expressionKey(quoteIdent(col))))
  })
}

const MAX_EQUALITY_KEYS = 3
/** A covering index holds at most this many columns, of at most this many bytes together (pg_stats avg_width). */
const MAX_COVERING_COLUMNS = 8
const MAX_COVERING_WIDTH = 256

function key(term: ColumnTerm, desc = false): IndexKey {
  return {sql: termSql(term), column: term.column, ...(desc ? {desc} : {})}
}

function uniqueTerms(terms: ColumnTerm[]): ColumnTerm[] {
  const seen = new Set<string>()
  return terms.filter((t) => (seen.has(termKey(t)) ? false : (seen.add(termKey(t)), true)))
}

const TEXT_TYPES = /^(text|character varying|varchar|character|citext)/

/** Candidate indexes for every statement of the workload, deduplicated, minus those an existing index covers. */
export function generateCandidates(shapes: Array<StatementShape | undefined>, catalog: CatalogFacts): CandidateSet {
  const byId = new Map<string, Candidate>()
  const covered: Record<string, string> = {}
  const notes: Record<number, string[]> = {}
  /** "statement|join term" -> ids of the candidates led by that join key (alone, or after the table's equalities). */
  const joinSides = new Map<string, string[]>()
  const hasTrgm = catalog.extensions.includes('pg_trgm')

  const add = (c: Omit<Candidate, 'id' | 'statements' | 'estimatedBytes'>, fraction = 1) => {
    if (c.keys.length === 0 || !catalog.tables[c.table]) return
    // A btree key repeated in one index is never useful.
    if (new Set(c.keys.map((k) => k.sql)).size !== c.keys.length) return
    const id = candidateId(c)
    if (byId.has(id) || covered[id]) return
    const full: Candidate = {...c, id, statements: [], estimatedBytes: estimateIndexBytes(catalog.tables[c.table], c.keys, c.include, fraction, c.method)}
    const cover = coveringIndex(full, catalog.indexes)
    if (cover) covered[id] = cover.name
    else byId.set(id, full)
  }

  shapes.forEach((shape, si) => {
    if (!shape) return
    for (const table of shape.tables) {
      const facts = catalog.tables[table]
      if (!facts) continue
      const preds = shape.predicates.filter((p) => p.term.table === table)
      const eq = uniqueTerms(preds.filter((p) => p.kind === 'eq' || p.kind === 'in' || p.kind === 'isnull').map((p) => p.term))
      const range = uniqueTerms(preds.filter((p) => p.kind === 'range').map((p) => p.term))
      const joins = uniqueTerms(shape.joins.flatMap((j) => [j.left, j.right]).filter((t) => t.table === table))
      const sortAll = shape.orderBy.length > 0 && shape.orderBy.every((s) => s.term.table === table)
      const mixed = new Set(shape.orderBy.map((s) => s.desc)).size > 1
      const sort = sortAll ? shape.orderBy.map((s) => key(s.term, mixed && s.desc)) : []
      const group = shape.groupBy.length > 0 && shape.groupBy.every((g) => g.table === table) ? shape.groupBy.map((g) => key(g)) : []
      // Most selective equality first: it narrows the scan fastest, and the order matters only among equalities.
      const eqSorted = [...eq].sort((a, b) => equalitySelectivity(facts, a.column) - equalitySelectivity(facts, b.column)).slice(0, MAX_EQUALITY_KEYS)
      const btree = (keys: IndexKey[], kind: CandidateKind, where?: string, fraction = 1, include?: string[]) =>
        add({table, method: 'btree', keys, kind: keys.some((k) => !k.sql.startsWith('"')) && kind === 'single' ? 'expression' : kind, where, include}, fraction)

      for (const t of [...eq, ...range]) btree([key(t)], 'single')
      for (const t of joins) btree([key(t)], 'join')
      const eqKeys = eqSorted.map((t) => key(t))
      if (eqKeys.length > 1) btree(eqKeys, 'composite')
      if (eqKeys.length > 0 && range.length > 0) for (const r of range.slice(0, 2)) btree([...eqKeys, key(r)], 'composite')
      if (sort.length > 0) {
        btree([...eqKeys, ...sort], eqKeys.length ? 'composite' : 'sort')
        if (range.length > 0 && eqKeys.length === 0 && termKey(shape.orderBy[0].term) !== termKey(range[0])) btree([key(range[0]), ...sort], 'composite')
      }
      if (group.length > 0) btree([...eqKeys, ...group], eqKeys.length ? 'composite' : 'sort')
      // The inner side of a nested loop probes by the join key: join key plus this table's equality filters.
      for (const j of joins) if (eqKeys.length) btree([...eqKeys, key(j)], 'composite')
      for (const j of joins) if (eqKeys.length) btree([key(j), ...eqKeys], 'composite')
      for (const j of joins) {
        const ids = [[key(j)], ...(eqKeys.length ? [[...eqKeys, key(j)]] : [])].map((keys) => candidateId({table, method: 'btree', keys}))
        joinSides.set(`${si}|${termKey(j)}`, ids)
      }

      // Partial: a selective constant equality moves into WHERE; the remaining keys order or narrow the rest.
      const constants = preds.filter((p): p is Predicate & {literal: string} => (p.kind === 'eq' && p.value === 'constant' && !!p.literal) || (p.kind === 'isnull' && p.operator === 'IS NULL'))
      if (constants.length > 0) {
        const where = constants.map((p) => (p.kind === 'isnull' ? `${termSql(p.term)} IS NULL` : `${termSql(p.term)} = ${constantSql(p.literal)}`)).join(' AND ')
        const fraction = constants.reduce((f, p) => f * (p.kind === 'isnull' ? (column(facts, p.term.column)?.nullFrac ?? 0.1) : literalSelectivity(facts, p.term.column, p.literal)), 1)
        const constKeys = new Set(constants.map((p) => termKey(p.term)))
        const rest = [...eqSorted.filter((t) => !constKeys.has(termKey(t))).map((t) => key(t)), ...(range[0] ? [key(range[0])] : []), ...sort]
        const restUnique = rest.filter((k, i) => rest.findIndex((x) => x.sql === k.sql) === i)
        if (fraction <= 0.2 && restUnique.length > 0) btree(restUnique, 'partial', where, fraction)
      }

      // Covering: every column the statement reads from the table (aggregates' arguments, filters, joins, grouping,
      // through views and subqueries) in the index, so the scan can be index-only. Each way the table is entered
      // (its filters, its sort or grouping, a join key) gets its covering variant; the what-if plans pick.
      const read = shape.read?.[table]
      if (shape.command === 'select' && read && read.length > 0 && !read.includes('*') && read.length <= MAX_COVERING_COLUMNS && keyWidth(facts, [], read) <= MAX_COVERING_WIDTH) {
        const leads: IndexKey[][] = []
        if (eqKeys.length || range.length) leads.push([...eqKeys, ...(range[0] ? [key(range[0])] : [])])
        if (sort.length) leads.push([...eqKeys, ...sort])
        if (group.length) leads.push([...eqKeys, ...group])
        for (const j of joins.slice(0, 2)) leads.push([...eqKeys, key(j)])
        for (const keys of leads) {
          const include = read.filter((c) => !keys.some((k) => k.column === c && k.sql.startsWith('"')))
          if (keys.length && include.length) btree(keys, 'covering', undefined, 1, include)
        }
      }

      for (const p of preds.filter((x) => x.kind === 'contains' && !x.term.expression)) {
        const type = column(facts, p.term.column)?.type ?? ''
        if (type === 'jsonb' || type.endsWith('[]')) add({table, method: 'gin', keys: [key(p.term)], kind: 'gin'})
      }
      for (const p of preds.filter((x) => x.kind.startsWith('like'))) {
        const type = column(facts, p.term.column)?.type ?? ''
        if (!TEXT_TYPES.test(type) && !p.term.expression) continue
        if (!hasTrgm) {
          (notes[si] ??= []).push(`${p.operator} on ${p.term.column} could use a trigram index: CREATE EXTENSION pg_trgm`)
          continue
        }
        add({table, method: 'gin', keys: [{...key(p.term), opclass: 'gin_trgm_ops'}], kind: 'trigram'})
      }
    }
  })

  // A candidate can only help statements that reference its leading key (or the table, for a GIN term).
  const termsByStatement = shapes.map((s) => new Set(s ? [
    ...s.predicates.map((p) => termKey(p.term)), ...s.joins.flatMap((j) => [termKey(j.left), termKey(j.right)]),
    ...s.orderBy.map((o) => termKey(o.term)), ...s.groupBy.map(termKey),
  ] : []))
  for (const c of byId.values()) {
    const lead = `${c.table}|${c.keys[0].sql}`
    termsByStatement.forEach((terms, si) => {
      if (terms.has(lead)) c.statements.push(si)
    })
  }
  const candidates = [...byId.values()].filter((c) => c.statements.length > 0)
  const live = new Set(candidates.map((c) => c.id))
  const pairs = new Map<string, [string, string]>()
  shapes.forEach((shape, si) => {
    for (const j of shape?.joins ?? []) {
      for (const a of joinSides.get(`${si}|${termKey(j.left)}`) ?? []) {
        for (const b of joinSides.get(`${si}|${termKey(j.right)}`) ?? []) {
          if (a !== b && live.has(a) && live.has(b)) pairs.set([a, b].sort().join('\u0001'), [a, b])
        }
      }
    }
  })
  return {candidates, covered, notes, pairs: [...pairs.values()]}
}
