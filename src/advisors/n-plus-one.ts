/**
 * N+1 queries, seen from pg_stat_statements alone: an application reads N parent rows with one statement, then runs
 * one child lookup per row (`SELECT ... FROM child WHERE fk = $1`). Over the window the child statement has very
 * many calls, about one row per call and a small mean time, and its calls track the rows the parent statement
 * returned (child calls / parent rows near 1). The foreign key must be a real constraint of the child table (read
 * with the catalog of postgres.plans), so a lookup by any other column is not taken for one.
 *
 * Every number it decides by is the rule's `heuristic:` (rules/database/n-plus-one.yaml): the fewest child calls
 * per second, the most rows per call and mean time of the child, the fewest rows per call of the parent, and the ratio
 * band. A user's override of them (per rule and target) changes the detection.
 *
 * The pairing is statistical: that the child calls come from the same sessions as the parent's rows (pg_stat_activity
 * query_id per pid and xact_start) is not checked; the finding says so. The advisor runs no query. It reads the
 * statements of one reading (the top by time and the most frequent beside them, bounded by the probe), judges their
 * numbers by the rule before parsing any, parses only the possible children and the parents in their band (once
 * each), and pairs a child only with the readers of the table its foreign key references
 * (bench/n-plus-one: 2,000 statements).
 */
import {parseSync} from 'libpg-query'
import type {Advisor, AdvisorFinding} from '../core/advisor.js'
import type {EffectiveRule} from '../core/rules.js'
import {round} from '../core/numbers.js'
import {dataOf} from '../core/readings.js'
import type {Proposed, QueryRemedy} from '../core/remedies.js'
import {quoteIdent, quoteQualified} from '../core/sql.js'
import {formatValue} from '../core/units.js'
import {columnsOf, type CatalogFacts, type ForeignKeyFacts} from '../knowledge/postgres/catalog.js'
import {ShapeExtractor, type StatementShape} from '../knowledge/postgres/parse.js'
import {describeStatement} from '../knowledge/postgres/query-text.js'
import {ensureParser} from '../knowledge/postgres/workload.js'
import {plansReading, statementSeconds, statementsReading, type StatementRow, type StatementsData} from '../readings/postgres.js'

export const RULE_ID = 'database/n-plus-one'

const CONFIRMATION = 'not done: pg_stat_activity was not sampled per (pid, xact_start), so that the child calls follow the parent in the same sessions is inferred from the counts'

/** A per-row lookup: its table and the foreign key its `= $n` predicates cover. */
interface ChildLookup {
  statement: StatementRow
  shape: StatementShape
  table: string
  foreignKey: ForeignKeyFacts
}

/**
 * One row per queryid: pg_stat_statements keeps one per user and nesting level of the same statement, and an N+1 is
 * the statement's, whoever runs it. The top by time first, then the frequent ones (most calls, most rows) beside them.
 */
export function statementsByQueryid(data: StatementsData): StatementRow[] {
  const out = new Map<string, StatementRow>()
  for (const row of [...data.statements, ...(data.frequent ?? [])]) {
    const seen = out.get(row.queryid)
    if (!seen) {
      out.set(row.queryid, {...row})
      continue
    }
    seen.calls += row.calls
    seen.rows += row.rows
    seen.totalMs += row.totalMs
    seen.share += row.share
    seen.meanMs = seen.calls > 0 ? seen.totalMs / seen.calls : 0
  }
  return [...out.values()]
}

type ParseTree = ReturnType<typeof parseSync>

function parseQuietly(sql: string): ParseTree | undefined {
  try {
    return parseSync(sql)
  } catch {
    return undefined
  }
}

/** The statement's parse tree, once, and its shape from it: the batched rewrite reads the same tree. */
function parsed(sql: string, catalog: ReturnType<typeof columnsOf>): {tree: ParseTree; shape: StatementShape} | undefined {
  try {
    const tree = parseSync(sql)
    const stmt = tree.stmts?.[0]?.stmt
    return stmt ? {tree, shape: new ShapeExtractor(catalog).extract(stmt as Record<string, any>)} : undefined
  } catch {
    return undefined
  }
}

/** The foreign key of the statement's only table that its `column = $n` predicates cover in full, if any. */
function childLookup(statement: StatementRow, shape: StatementShape, catalog: CatalogFacts): ChildLookup | undefined {
  if (shape.command !== 'select' || shape.tables.length !== 1 || shape.joins.length > 0) return undefined
  const table = shape.tables[0]
  const byParam = new Set(shape.predicates
    .filter((p) => p.kind === 'eq' && p.value === 'param' && !p.term.expression && p.term.table === table)
    .map((p) => p.term.column))
  const foreignKey = (catalog.tables[table]?.foreignKeys ?? [])
    .filter((fk) => fk.columns.length > 0 && fk.columns.every((c) => byParam.has(c)))
    .sort((a, b) => a.columns.length - b.columns.length)[0]
  return foreignKey ? {statement, shape, table, foreignKey} : undefined
}

const isColumn = (node: any, column: string) => {
  const fields = node?.ColumnRef?.fields
  return Array.isArray(fields) && fields[fields.length - 1]?.String?.sval === column
}

/**
 * The child statement batched over all parent keys: its `column = $n` becomes `column = ANY($n)`, spliced at the
 * parameter's position in the parse tree (byte offsets), the rest of the text unchanged. Undefined when the
 * comparison is not `column = $n` with a bare parameter (a cast would need its array type), sits under OR or NOT,
 * or the statement has a LIMIT (one per parent row cannot be kept by a single LIMIT).
 */
export function batchedLookup(sql: string, column: string, tree: ParseTree | undefined = parseQuietly(sql)): string | undefined {
  if (!tree) return undefined
  const select = (tree.stmts?.[0]?.stmt as any)?.SelectStmt
  if (!select || tree.stmts!.length !== 1 || select.limitCount || select.limitOffset) return undefined
  const found: Array<{number: number; location: number}> = []
  const walk = (node: any) => {
    if (!node || typeof node !== 'object') return
    if (Array.isArray(node)) return node.forEach(walk)
    if (node.BoolExpr) {
      // Under OR or NOT the comparison does not select the parent's rows alone.
      if (node.BoolExpr.boolop === 'AND_EXPR') walk(node.BoolExpr.args)
      return
    }
    const e = node.A_Expr
    if (e?.kind !== 'AEXPR_OP' || e.name?.[0]?.String?.sval !== '=') return
    // `$n = column` is left alone: ANY must stand on the right, and the column's end is not in the tree.
    const param = isColumn(e.lexpr, column) ? e.rexpr?.ParamRef : undefined
    if (param && typeof param.location === 'number') found.push({number: param.number, location: param.location})
  }
  walk(select.whereClause)
  if (found.length !== 1) return undefined
  const bytes = Buffer.from(sql, 'utf8')
  const {number, location} = found[0]
  const param = `$${number}`
  if (bytes.subarray(location, location + param.length).toString('utf8') !== param) return undefined
  return Buffer.concat([bytes.subarray(0, location), Buffer.from(`ANY(${param})`), bytes.subarray(location + param.length)]).toString('utf8')
}

/** The join that folds the child into the parent statement, on the foreign key's columns. */
function joinClause(child: ChildLookup, catalog: CatalogFacts): string {
  const fk = child.foreignKey
  // The catalog's parts: a "schema.table" key cannot be split at a dot, which either part may contain.
  const facts = catalog.tables[child.table]
  const childName = quoteQualified(facts.schema, facts.name)
  const on = fk.columns.map((c, i) => `${quoteIdent('c')}.${quoteIdent(c)} = ${quoteIdent('p')}.${quoteIdent(fk.referencedColumns[i])}`).join(' AND ')
  return `LEFT JOIN ${childName} AS ${quoteIdent('c')} ON ${on}`
}

/** The numbers the advisor decides by: the rule file's `heuristic:` (rules/database/n-plus-one.yaml), as overridden. */
export interface Heuristic {
  minChildCallsPerSecond: number
  maxChildRowsPerCall: number
  maxChildMeanMs: number
  minParentRowsPerCall: number
  minRatio: number
  maxRatio: number
}
const HEURISTIC_KEYS = ['minChildCallsPerSecond', 'maxChildRowsPerCall', 'maxChildMeanMs', 'minParentRowsPerCall', 'minRatio', 'maxRatio'] as const

/** The rule's heuristic, or why it cannot be used (a rule file of a plugin or an older version lacking a number). */
function heuristicOf(rule: EffectiveRule): Heuristic | string {
  const missing = HEURISTIC_KEYS.filter((k) => typeof rule.heuristic?.[k] !== 'number')
  return missing.length === 0 ? rule.heuristic as unknown as Heuristic : `${rule.file} has no heuristic ${missing.join(', ')}`
}

const count = (n: number) => formatValue(round(n), 'count')

export const nPlusOneAdvisor: Advisor = {
  id: 'n-plus-one',
  scope: 'postgres',
  description: 'Per-row lookups by foreign key whose calls track the rows of a parent statement (N+1 queries)',
  async advise(ctx) {
    const target = ctx.target!.name
    const rule = ctx.rules(target).find((r) => r.id === RULE_ID)
    const data = dataOf(ctx.readings, statementsReading, target)
    const catalog = dataOf(ctx.readings, plansReading, target)?.catalog
    if (!rule?.enabled || !data || !catalog || data.statements.length === 0) return []
    const h = heuristicOf(rule)
    if (typeof h === 'string') throw new Error(h)
    await ensureParser()
    const seconds = statementSeconds(data, ctx.snapshot.capturedAt, catalog.statsSeconds)
    // The numbers first, the parser after: only statements that could be a child, and only parents whose rows fall
    // in the band of some child's calls, are parsed (on a healthy database, usually none).
    const all = statementsByQueryid(data).filter((s) => s.calls > 0)
    const children = all.filter((s) => s.calls / seconds >= h.minChildCallsPerSecond && s.rows / s.calls <= h.maxChildRowsPerCall && s.meanMs <= h.maxChildMeanMs)
    if (children.length === 0) return []
    const inBand = (c: StatementRow, p: StatementRow) => c.queryid !== p.queryid && c.calls / p.rows >= h.minRatio && c.calls / p.rows <= h.maxRatio
    const parents = all.filter((p) => p.rows > 0 && p.rows / p.calls >= h.minParentRowsPerCall && children.some((c) => inBand(c, p)))
    const columns = columnsOf(catalog)
    const trees = new Map([...children, ...parents].map((s) => [s.queryid, parsed(s.query, columns)]))
    // The reading statements of each table, once: pairing then costs what a table's readers are, not all statements.
    const readers = new Map<string, StatementRow[]>()
    for (const parent of parents) {
      const shape = trees.get(parent.queryid)?.shape
      if (shape?.command !== 'select') continue
      for (const table of new Set(shape.tables)) {
        const list = readers.get(table)
        if (list) list.push(parent)
        else readers.set(table, [parent])
      }
    }
    const findings: AdvisorFinding[] = []
    for (const statement of children) {
      const tree = trees.get(statement.queryid)
      const shape = tree?.shape
      const child = shape && childLookup(statement, shape, catalog)
      if (!child) continue
      const parentTable = child.foreignKey.references
      // Of the parent's table's readers in the band, the one nearest one child call per parent row.
      const parent = (readers.get(parentTable) ?? [])
        .filter((p) => inBand(statement, p))
        .sort((a, b) => Math.abs(Math.log(statement.calls / a.rows)) - Math.abs(Math.log(statement.calls / b.rows)))[0]
      if (!parent) continue
      const evidence = {childRowsPerCall: statement.rows / statement.calls, parentRowsPerCall: parent.rows / parent.calls, ratio: statement.calls / parent.rows}
      const callsPerSecond = statement.calls / seconds
      const msPerSecond = statement.totalMs / seconds
      const roundTripsSavedPerSecond = Math.max(0, statement.calls - parent.calls) / seconds
      const fk = child.foreignKey
      const join = joinClause(child, catalog)
      const batched = fk.columns.length === 1 ? batchedLookup(statement.query, fk.columns[0], tree!.tree) : undefined
      const ratioText = `ratio ${round(evidence.ratio, 2)}: child calls per parent row`
      const remedy: Proposed<QueryRemedy> = {
        kind: 'query',
        queryid: statement.queryid,
        query: statement.query,
        summary: `Stop running statement ${statement.queryid} once per row of statement ${parent.queryid} (${ratioText}; it costs ${round(msPerSecond, 1)} ms of statement time and ${count(callsPerSecond)} round trips per second): `
          + (batched
            ? `batch it over the parent keys with ${fk.columns.map(quoteIdent).join(', ')} = ANY($n), one call per parent statement (the SQL), `
            : '')
          + `or fold it into the parent statement as ${join} (the parent's ${quoteQualified(fk.referencedSchema, fk.referencedTable)} as "p"); `
          + `batching saves about ${count(roundTripsSavedPerSecond)} round trips per second (child calls less parent calls), the join all ${count(callsPerSecond)}`,
        ...(batched ? {sql: batched} : {}),
      }
      findings.push({
        rule: RULE_ID,
        severity: rule.severity ?? 'warning',
        target,
        subject: `queryid ${statement.queryid}`,
        metric: 'db.statement.n_plus_one.calls_per_second',
        value: round(callsPerSecond, 2),
        message: `N+1: ${describeStatement(statement.queryid, statement.query, {calls: statement.calls, share: statement.share}, [`mean ${round(statement.meanMs, 3)} ms`, `${round(evidence.childRowsPerCall, 2)} rows per call`])} `
          + `runs once per row of statement ${parent.queryid} on ${parentTable} (${ratioText}; ${count(callsPerSecond)} calls and ${round(msPerSecond, 1)} ms of statement time per second)`,
        evidence: {
          vendor: 'postgres',
          queryid: statement.queryid,
          query: statement.query,
          statements: [statement.queryid],
          table: child.table,
          tables: [child.table, parentTable],
          foreignKey: {name: fk.name, columns: fk.columns, references: parentTable, referencedColumns: fk.referencedColumns},
          // The join the summary proposes, every name quoted: the parent table aliased "p" joins it.
          join,
          parent: {queryid: parent.queryid, query: parent.query, calls: parent.calls, rows: parent.rows, meanMs: round(parent.meanMs, 3)},
          childCalls: statement.calls,
          childRows: statement.rows,
          childCallsPerSecond: round(callsPerSecond, 2),
          childRowsPerCall: round(evidence.childRowsPerCall, 3),
          childMeanMs: round(statement.meanMs, 4),
          childMsPerSecond: round(msPerSecond, 3),
          share: round(statement.share, 4),
          parentRowsPerCall: round(evidence.parentRowsPerCall, 2),
          ratio: round(evidence.ratio, 3),
          heuristic: h,
          roundTripsSavedPerSecond: round(roundTripsSavedPerSecond, 2),
          windowSeconds: data.windowSeconds,
          seconds: round(seconds, 1),
          confirmation: CONFIRMATION,
          diagnosisWeight: {basis: 'database-time', value: round(statement.totalMs), total: round(data.totalMs), unit: 'ms',
            measuredBy: `pg_stat_statements: the child statement's total_exec_time ${round(statement.totalMs)} ms of ${round(data.totalMs)} ms in this database (${data.windowSeconds > 0 ? `over a ${data.windowSeconds} s window` : 'since the statistics reset'})`},
        },
        remedies: [remedy],
      })
    }
    return findings
  },
}
