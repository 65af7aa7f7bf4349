import type {AdvisorFinding} from '../../core/advisor.js'
import {tableKey} from '../../knowledge/mysql/catalog.js'
import {parseExplain, type ExplainSummary, type TableAccess} from '../../knowledge/mysql/explain.js'
import {statementShape} from '../../knowledge/mysql/statement-shape.js'
import {quoteMysqlQualified} from '../../core/sql.js'
import {candidateRemedy, candidatesFor, NOT_VERIFIED, type CatalogFacts, type MysqlCandidate} from './candidates.js'

/**
 * Index advice for MySQL/MariaDB statements from their EXPLAIN FORMAT=JSON plans, without a live server: the input
 * a plans probe gathers (statement texts, their plans, the catalog), the findings database/missing-index reads (the
 * same rule as for PostgreSQL; vendor in the evidence). Per statement, the tables its plan reads in full (ALL), end
 * to end through an index, or sorts or groups in a temporary table get one candidate each (candidates.ts): the sort
 * or grouping one where the plan sorts, else the lookup, join, sort or grouping one, and the covering variant instead
 * where the plan scans the whole table and few columns are read. Candidates shared by statements are one finding.
 * Every one is unverified (no hypothetical indexes): a warning when a plan it serves reads at least
 * WARN_FULL_SCAN_ROWS rows of a table in full, else info.
 */

export interface MysqlPlannedStatement {
  /** The digest (or the --queries file's statement id). */
  id: string
  sql: string
  /** EXPLAIN FORMAT=JSON output, parsed or as text; absent when it could not be taken (the statement is still parsed). */
  explain?: unknown
  calls?: number
  totalSeconds?: number
}

export interface MysqlAdviceInput {
  target: string
  flavour: 'mysql' | 'mariadb'
  /** The database unqualified table names are in. */
  defaultSchema: string
  statements: readonly MysqlPlannedStatement[]
  catalog: CatalogFacts
  /** information_schema.COLUMNS per table (tableKey), to resolve unqualified columns in joins. */
  columns?: Map<string, string[]>
}

/** Tables smaller than this are read in full cheaply: no index is proposed for a scan of them. */
export const SMALL_TABLE_ROWS = 1000
/** A full scan this large in a plan makes the proposal a warning. */
export const WARN_FULL_SCAN_ROWS = 100_000

interface Chosen {
  candidate: MysqlCandidate
  statements: string[]
  largestScan: number
  reasons: string[]
}

function needsHelp(access: TableAccess | undefined, plan: ExplainSummary | undefined, rows: number): string | undefined {
  if (!plan) return rows >= SMALL_TABLE_ROWS ? 'no plan taken: proposed from the statement alone' : undefined
  if (!access) return undefined
  const examined = access.rowsExamined ?? rows
  if (access.fullScan && examined >= SMALL_TABLE_ROWS) return `reads all ${examined} rows of the table (access type ALL)`
  if (access.fullIndexScan && examined >= SMALL_TABLE_ROWS) return `reads the whole index ${access.key} (${examined} entries)`
  if ((access.filesort || access.temporary) && examined >= SMALL_TABLE_ROWS) return `sorts ${examined} rows${access.temporary ? ' in a temporary table' : ''}`
  return undefined
}

function pick(candidates: MysqlCandidate[], access: TableAccess | undefined): MysqlCandidate | undefined {
  const of = (kind: MysqlCandidate['kind']) => candidates.find((c) => c.kind === kind)
  const sorted = access && (access.filesort || access.temporary) ? of('sort') ?? of('group') : undefined
  const lead = sorted ?? of('lookup') ?? of('join') ?? of('sort') ?? of('group')
  const covering = of('covering')
  // The covering variant only where it turns a read of the whole table into an index-only one.
  return covering && access?.fullScan && lead && covering.columns.slice(0, lead.columns.length).join('\u0000') === lead.columns.join('\u0000') ? covering : lead
}

export function adviseMysqlIndexes(input: MysqlAdviceInput): {findings: AdvisorFinding[]; notes: Record<string, string[]>} {
  const chosen = new Map<string, Chosen>()
  const notes: Record<string, string[]> = {}
  const tables = new Map(input.catalog.tables.map((t) => [tableKey(t.schema, t.table), t]))
  for (const s of input.statements) {
    let plan: ExplainSummary | undefined
    try {
      const shape = statementShape(s.sql, {flavour: input.flavour, defaultSchema: input.defaultSchema, columns: input.columns})
      plan = s.explain === undefined ? undefined : parseExplain(s.explain, input.flavour)
      const result = candidatesFor(shape, input.catalog, plan)
      if (result.notes.length) notes[s.id] = result.notes
      for (const ts of shape.tables) {
        const table = tables.get(tableKey(ts.schema, ts.table))
        if (!table) continue
        const access = plan?.accesses.find((a) => !a.intermediate && ts.aliases.includes(a.table))
        const why = needsHelp(access, plan, table.rows)
        if (!why) continue
        const mine = result.candidates.filter((c) => c.schema === ts.schema && c.table === ts.table)
        const c = pick(mine, access)
        if (!c) continue
        const key = `${tableKey(c.schema, c.table)}\u0000${c.columns.join('\u0000')}`
        const entry = chosen.get(key) ?? {candidate: c, statements: [], largestScan: 0, reasons: []}
        entry.statements.push(s.id)
        entry.reasons.push(`statement ${s.id} ${why}`)
        if (access?.fullScan) entry.largestScan = Math.max(entry.largestScan, access.rowsExamined ?? table.rows)
        chosen.set(key, entry)
      }
    } catch (error) {
      (notes[s.id] ??= []).push((error as Error).message.split('\n')[0])
    }
  }

  const findings: AdvisorFinding[] = []
  for (const {candidate: c, statements, largestScan, reasons} of chosen.values()) {
    const table = tables.get(tableKey(c.schema, c.table))!
    const remedy = candidateRemedy(c, table, input.catalog.indexes, statements)
    const subject = `${quoteMysqlQualified(c.schema, c.table)} ${c.columns.join(', ')}`
    findings.push({
      rule: 'database/missing-index',
      severity: largestScan >= WARN_FULL_SCAN_ROWS ? 'warning' : 'info',
      target: input.target,
      subject,
      metric: 'mysql.index.candidate_statements',
      value: statements.length,
      message: `likely missing index on ${quoteMysqlQualified(c.schema, c.table)} (${NOT_VERIFIED}): ${c.why}; ${reasons[0]}${statements.length > 1 ? ` and ${statements.length - 1} more statement(s)` : ''}`,
      evidence: {
        vendor: input.flavour, definition: remedy.sql, statements, kind: c.kind, verified: false, notVerified: NOT_VERIFIED, reasons,
        largestFullScanRows: largestScan, sizeBytes: remedy.estimate.sizeBytes, replaces: c.replaces,
        ...(remedy.onlineSchemaChange ? {onlineSchemaChange: remedy.onlineSchemaChange} : {}),
      },
      remedies: [remedy],
    })
  }
  return {findings, notes}
}
