import type {IndexRemedy, Proposed} from '../../core/remedies.js'
import {shellWord} from '../../core/shell.js'
import {quoteMysqlIdent, quoteMysqlQualified} from '../../core/sql.js'
import {clusteredIndex, isInnodb, tableKey, type MysqlIndex, type MysqlTable} from '../../knowledge/mysql/catalog.js'
import type {ExplainSummary} from '../../knowledge/mysql/explain.js'
import type {StatementShape, TableShape} from '../../knowledge/mysql/statement-shape.js'

/**
 * Candidate indexes for one MySQL/MariaDB statement, as the PostgreSQL advisor builds them (equality columns, then
 * one range column, or the sort or grouping columns after the equalities; covering when few columns are read), per
 * base table, minus those an existing index already serves:
 *  - after a range column no further key part narrows the lookup, so a candidate has at most one, last;
 *  - ORDER BY / GROUP BY columns follow the equalities only when there is no range column (or the range column is
 *    the first sort column): that is when the index gives the order and the filesort goes;
 *  - covering: when the statement reads few columns of the table (MAX_COVERING_COLUMNS), the rest of them are
 *    appended so the read is index-only (Using index), the InnoDB primary key columns left out (every secondary index
 *    holds them already). Proposed when the EXPLAIN shows a full scan, or a lookup that is not index-only;
 *  - an existing visible BTREE index whose leading key parts are the candidate's (with InnoDB's implicit
 *    primary-key suffix) already serves it: no candidate. An existing index that is a prefix of the candidate is
 *    made redundant by it (`replaces`).
 * Neither flavour has hypothetical indexes (no hypopg): every proposal is unverified, with that reason.
 */

/** Tables this large get the online schema change tools' commands as well (MySQL manual: an in-place ADD INDEX still copies every row into the new index and holds a metadata lock at its start and end). */
export const LARGE_TABLE_BYTES = 1024 ** 3
export const LARGE_TABLE_ROWS = 10_000_000
const MAX_EQUALITY_COLUMNS = 3
const MAX_COVERING_COLUMNS = 6
/** MySQL and MariaDB identifiers are at most 64 characters. */
const MAX_NAME = 64

export const NOT_VERIFIED = 'not verified: neither MySQL nor MariaDB has hypothetical indexes; --verify-real against a scratch database (build with ALGORITHM=INPLACE, LOCK=NONE, re-EXPLAIN, drop) is not wired for MySQL yet'

export interface MysqlCandidate {
  schema: string
  table: string
  columns: string[]
  /** DESC per column (only when the ORDER BY mixes directions). */
  desc: boolean[]
  kind: 'lookup' | 'sort' | 'group' | 'join' | 'covering'
  why: string
  /** Existing indexes whose key parts are a leading prefix of this candidate's: redundant once it exists. */
  replaces: string[]
}

export interface CandidateResult {
  candidates: MysqlCandidate[]
  /** Candidates an existing index already serves: candidate columns -> the index. */
  covered: Array<{table: string; columns: string[]; by: string}>
  notes: string[]
}

export interface CatalogFacts {
  tables: readonly MysqlTable[]
  indexes: readonly MysqlIndex[]
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
const uniq = (cols: string[]) => cols.filter((c, i) => cols.findIndex((x) => same(x, c)) === i)

/**
 * The existing index that already serves a candidate: visible, BTREE, its leading key parts the candidate's columns,
 * whole. (InnoDB's implicit primary-key suffix is taken off the candidate before: trimPrimaryKeySuffix.)
 */
function servedBy(columns: string[], indexes: MysqlIndex[]): MysqlIndex | undefined {
  return indexes.find((i) => i.visible && i.type === 'BTREE' && columns.every((c, k) => {
    const part = i.columns[k]
    return part !== undefined && part.subPart === null && part.name !== null && same(part.name, c)
  }))
}

export function candidatesFor(shape: StatementShape, catalog: CatalogFacts, explain?: ExplainSummary): CandidateResult {
  const out: CandidateResult = {candidates: [], covered: [], notes: [...shape.notes]}
  const tables = new Map(catalog.tables.map((t) => [tableKey(t.schema, t.table), t]))
  for (const ts of shape.tables) {
    const key = tableKey(ts.schema, ts.table)
    const table = tables.get(key)
    if (!table) {
      out.notes.push(`${quoteMysqlQualified(ts.schema, ts.table)} is not in the catalog read (a view, a temporary table, or another database)`)
      continue
    }
    const indexes = catalog.indexes.filter((i) => i.schema === ts.schema && i.table === ts.table)
    const innodb = isInnodb(table.engine)
    const pkColumns = (innodb ? clusteredIndex(indexes)?.columns.map((c) => c.name ?? '') : []) ?? []
    const access = explain?.accesses.find((a) => !a.intermediate && ts.aliases.includes(a.table))
    for (const raw of tableCandidates(ts, pkColumns, access)) {
      const c = trimPrimaryKeySuffix(raw, pkColumns)
      const cover = servedBy(c.columns, indexes)
      if (cover) {
        out.covered.push({table: quoteMysqlQualified(ts.schema, ts.table), columns: c.columns, by: cover.name})
        continue
      }
      const replaces = indexes.filter((i) => !i.primary && !i.unique && i.type === 'BTREE' && i.columns.length < c.columns.length
        && i.columns.every((col, k) => col.subPart === null && col.name !== null && same(col.name, c.columns[k]))).map((i) => i.name)
      if (!out.candidates.some((x) => x.schema === c.schema && x.table === c.table && x.columns.join('\u0000') === c.columns.join('\u0000'))) {
        out.candidates.push({...c, replaces})
      }
    }
  }
  return out
}

/**
 * InnoDB appends the primary key to every secondary index (pt-duplicate-key-checker's clustered rule): a candidate
 * ending with a leftmost prefix of it is the same index without those columns.
 */
function trimPrimaryKeySuffix<C extends Omit<MysqlCandidate, 'replaces'>>(c: C, pk: string[]): C {
  for (let k = Math.min(pk.length, c.columns.length - 1); k >= 1; k--) {
    const tail = c.columns.slice(c.columns.length - k)
    if (tail.every((col, i) => same(col, pk[i]) && !c.desc[c.columns.length - k + i])) {
      return {...c, columns: c.columns.slice(0, c.columns.length - k), desc: c.desc.slice(0, c.columns.length - k)}
    }
  }
  return c
}

function tableCandidates(ts: TableShape, pk: string[], access: ExplainSummary['accesses'][number] | undefined): Array<Omit<MysqlCandidate, 'replaces'>> {
  const base = {schema: ts.schema, table: ts.table}
  const eq = uniq(ts.equality).slice(0, MAX_EQUALITY_COLUMNS)
  const range = uniq(ts.range).filter((c) => !eq.some((e) => same(e, c)))
  const join = uniq(ts.join).filter((c) => !eq.some((e) => same(e, c)))
  const found: Array<Omit<MysqlCandidate, 'replaces'>> = []
  const add = (columns: string[], kind: MysqlCandidate['kind'], why: string, desc?: boolean[]) => {
    const cols = uniq(columns)
    if (cols.length === 0) return
    found.push({...base, columns: cols, desc: desc && desc.some(Boolean) && !desc.every(Boolean) ? desc.slice(0, cols.length) : cols.map(() => false), kind, why})
  }

  if (eq.length || range.length) {
    add([...eq, ...range.slice(0, 1)], 'lookup', `equality on ${eq.join(', ') || 'nothing'}${range.length ? `, then the range on ${range[0]}` : ''}`)
  }
  // The inner side of a nested-loop join is looked up by the join key, after its own equalities.
  for (const j of join.slice(0, 2)) add([...eq, j], 'join', `join key ${j}${eq.length ? ` after the equalities on ${eq.join(', ')}` : ''}`)
  const sortable = range.length === 0 || (ts.orderBy[0] && same(ts.orderBy[0].column, range[0]))
  if (ts.orderBy.length && sortable) {
    add([...eq, ...ts.orderBy.map((o) => o.column)], 'sort', `ORDER BY ${ts.orderBy.map((o) => o.column + (o.desc ? ' DESC' : '')).join(', ')} read in index order, no filesort`,
      [...eq.map(() => false), ...ts.orderBy.map((o) => o.desc)])
  }
  const groupable = range.length === 0 || (ts.groupBy[0] && same(ts.groupBy[0], range[0]))
  if (ts.groupBy.length && groupable) add([...eq, ...ts.groupBy], 'group', `GROUP BY ${ts.groupBy.join(', ')} in index order, no temporary table`)

  // Covering: the leading candidate plus the other columns read, when that is few and the plan is not index-only.
  const read = ts.read
  const scanNotIndexOnly = !access || access.fullScan || access.fullIndexScan || !access.usingIndex
  if (found.length && read !== '*' && read.length > 0 && scanNotIndexOnly) {
    const lead = found[0]
    const rest = read.filter((c) => !lead.columns.some((k) => same(k, c)) && !pk.some((p) => same(p, c)))
    if (rest.length > 0 && lead.columns.length + rest.length <= MAX_COVERING_COLUMNS) {
      found.push({...lead, columns: [...lead.columns, ...rest], desc: [...lead.desc, ...rest.map(() => false)], kind: 'covering',
        why: `${lead.why}, holding ${rest.join(', ')} too so the read is index-only`})
    }
  }
  return found
}

/** idx_<table>_<columns>, cut to 64 characters, with a number when an index of the table already has the name. */
export function candidateName(c: MysqlCandidate, existing: readonly MysqlIndex[]): string {
  const taken = new Set(existing.filter((i) => i.schema === c.schema && i.table === c.table).map((i) => i.name.toLowerCase()))
  const stem = `idx_${c.table}_${c.columns.join('_')}`.replace(/[^A-Za-z0-9_$]/g, '_')
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? '' : `_${n}`
    const name = stem.slice(0, MAX_NAME - suffix.length) + suffix
    if (!taken.has(name.toLowerCase())) return name
  }
}

const keyParts = (c: MysqlCandidate) => c.columns.map((col, i) => `${quoteMysqlIdent(col)}${c.desc[i] ? ' DESC' : ''}`).join(', ')

export interface OnlineSchemaChange {
  why: string
  /** pt-online-schema-change (Percona Toolkit): copies the table in chunks with triggers; run with --dry-run first. */
  ptOnlineSchemaChange?: string
  /** gh-ost (GitHub): copies the table in chunks from the binary log; add its connection flags (--host, --user, ...). */
  ghOst: string
  /** Why there is no pt-online-schema-change command (a name its DSN cannot carry). */
  ptOnlineSchemaChangeRefused?: string
}

/**
 * The CREATE INDEX, and for a table above LARGE_TABLE_BYTES or LARGE_TABLE_ROWS the two tools' commands, every name
 * quoted with backticks and every shell argument one word.
 */
export function candidateDdl(c: MysqlCandidate, table: MysqlTable, existing: readonly MysqlIndex[]): {name: string; sql: string; online?: OnlineSchemaChange} {
  const name = candidateName(c, existing)
  const innodb = isInnodb(table.engine)
  const sql = `CREATE INDEX ${quoteMysqlIdent(name)} ON ${quoteMysqlQualified(c.schema, c.table)} (${keyParts(c)})${innodb ? ' ALGORITHM=INPLACE LOCK=NONE' : ''};`
  const large = table.dataBytes >= LARGE_TABLE_BYTES || table.rows >= LARGE_TABLE_ROWS
  if (!large) return {name, sql}
  const alter = `ADD INDEX ${quoteMysqlIdent(name)} (${keyParts(c)})`
  const why = `${quoteMysqlQualified(c.schema, c.table)} holds about ${table.rows} rows in ${table.dataBytes} bytes: an online ALTER builds the index in one long operation that replicas replay serially (lag), where these tools copy in throttled chunks`
  const ghOst = `gh-ost ${[`--database=${c.schema}`, `--table=${c.table}`, `--alter=${alter}`].map(shellWord).join(' ')} --execute`
  // pt-online-schema-change's DSN splits on commas and equals signs, which no quoting escapes.
  if (/[,=]/.test(c.schema) || /[,=]/.test(c.table)) {
    return {name, sql, online: {why, ghOst, ptOnlineSchemaChangeRefused: 'the database or table name holds a comma or an equals sign, which a pt-online-schema-change DSN cannot carry'}}
  }
  const pt = `pt-online-schema-change ${shellWord(`--alter=${alter}`)} ${shellWord(`D=${c.schema},t=${c.table}`)} --execute`
  return {name, sql, online: {why, ptOnlineSchemaChange: pt, ghOst}}
}

/** A rough InnoDB secondary index size: rows x (key parts and primary key, 8 bytes each, plus 14 bytes of record overhead) at 70% page fill. */
export function estimateIndexBytes(rows: number, keyParts: number, pkParts: number): number {
  return Math.max(16384, Math.ceil((rows * (14 + 8 * (keyParts + pkParts))) / 0.7 / 16384) * 16384)
}

/** The index remedy of a candidate: unverified (no hypothetical indexes), with the tools' commands for a large table. */
export function candidateRemedy(c: MysqlCandidate, table: MysqlTable, existing: readonly MysqlIndex[], statements: string[]): Proposed<IndexRemedy> & {onlineSchemaChange?: OnlineSchemaChange; replaces: string[]} {
  const {name, sql, online} = candidateDdl(c, table, existing)
  const pkParts = clusteredIndex(existing.filter((i) => i.schema === c.schema && i.table === c.table))?.columns.length ?? 1
  return {
    kind: 'index',
    summary: `index ${quoteMysqlQualified(c.schema, c.table)} (${c.columns.join(', ')}) ${name}: ${c.why}${c.replaces.length ? `; makes ${c.replaces.join(', ')} redundant` : ''}${online ? '; large table: pt-online-schema-change or gh-ost' : ''}`,
    sql,
    ...(online ? {command: online.ptOnlineSchemaChange ?? online.ghOst, onlineSchemaChange: online} : {}),
    table: quoteMysqlQualified(c.schema, c.table),
    columns: c.columns.map((col, i) => col + (c.desc[i] ? ' DESC' : '')),
    method: 'btree',
    where: null,
    include: [],
    statements,
    verified: false,
    notVerified: NOT_VERIFIED,
    estimate: {costBefore: 0, costAfter: 0, queriesImproved: statements.length, sizeBytes: estimateIndexBytes(table.rows, c.columns.length, pkParts)},
    replaces: c.replaces,
  }
}
