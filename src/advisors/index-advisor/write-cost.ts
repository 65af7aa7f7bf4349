/**
 * The index advisor's write costs: what an index adds to its table's writes, from what is really written per
 * second, and the per-row figure measured on this machine (bench/index-maintenance, docs/index-advisor.md).
 *
 * - In a window (`--window` > 0): the postgres.tables reading's window deltas (rows inserted, updated, deleted in
 *   the window, per second).
 * - At window 0: per statement, from pg_stat_statements (INSERT, UPDATE, DELETE, MERGE, COPY FROM: rows over the
 *   period the statements' counters cover, the same period as the read weights), with one-off bulk statements left
 *   out (isBulk). Reads and writes are then both counts over one period divided by it: the verdict does not move
 *   as the period grows, and a table that was loaded once and is only read since has no write cost.
 * - Never a table's since-reset counters (pg_stat_user_tables n_tup_ins ...) divided by uptime: a bulk load or a
 *   restore would read as thousands of writes per second for as long as the statistics live.
 */
import {formatNumber as num} from '../../core/numbers.js'
import type {Reading} from '../../core/types.js'
import {dataOf} from '../../core/readings.js'
import {tablesReading, type PlansData} from '../../readings/postgres.js'
import type {CatalogFacts} from '../../knowledge/postgres/catalog.js'
import type {StatementWrite, StatementWrites} from '../../knowledge/postgres/statement-writes.js'
import type {Candidate} from './candidates.js'

/**
 * Measured with bench/index-maintenance/run.ts (results in bench/results/index-maintenance.json, method in
 * docs/index-advisor.md), two runs on this shared 2-core machine: one b-tree index costs 4.0 and 4.6 µs per row
 * written (medians over int, 3-int and three-index layouts; single samples 0.9 to 19 µs), and one planner cost unit
 * of a cached filtered sequential scan (the plan an index replaces) takes 3.0 and 4.2 µs. The figures below are the
 * two runs' means; their ratio is the write penalty in the planner's units, in which the read gains are counted.
 */
export const CALIBRATION = {usPerRowPerIndex: 4.3, usPerCostUnit: 3.6} as const
/** Planner cost units one row write spends maintaining one b-tree (CALIBRATION's ratio; it was a guessed 10 before). */
export const INDEX_WRITE_COST_PER_ROW = Math.round((CALIBRATION.usPerRowPerIndex / CALIBRATION.usPerCostUnit) * 100) / 100

/** A statement is a one-off bulk write when it ran at most this many times ... */
export const BULK_MAX_CALLS = 10
/** ... and each call wrote at least this share of the table's current rows ... */
export const BULK_MIN_SHARE = 0.1
/** ... and at least this many rows. */
export const BULK_MIN_ROWS = 1000

/** How a table's write rate was found. */
export type WriteBasis = 'window' | 'statements' | 'unknown'

export interface TableWriteRate {
  /** Row writes per second that maintain indexes (inserts, updates, deletes). */
  rowsPerSecond: number
  basis: WriteBasis
  /** The period the rate covers, in seconds (the window, or the statements' counters). */
  seconds?: number
  /** Writing statements counted (basis statements). */
  statements?: number
  /** One-off bulk statements left out (basis statements), largest first, at most five. */
  bulkLeftOut?: Array<{queryid: string; kind: StatementWrite['kind']; calls: number; rows: number}>
  /** Why no rate is known (basis unknown). */
  note?: string
}

/**
 * A one-off bulk write: a few calls (at most BULK_MAX_CALLS) each writing a large share of the table (at least
 * BULK_MIN_SHARE of its rows now, and at least BULK_MIN_ROWS rows): a load, a restore, a backfill, a purge. Spread
 * over the statistics' period such a statement would be a steady write rate that nobody is paying.
 */
export function isBulk(w: Pick<StatementWrite, 'calls' | 'rows'>, tableRows: number): boolean {
  if (w.calls <= 0 || w.calls > BULK_MAX_CALLS) return false
  return w.rows / w.calls >= Math.max(BULK_MIN_ROWS, BULK_MIN_SHARE * Math.max(0, tableRows))
}

/**
 * The catalog key ("schema.table") a writing statement's target names, by the catalog's search_path, else the one
 * table of that name. (Snapshots taken before catalog.ts cast current_schemas to text[] hold the path as the
 * array's text, "{public}"; node-postgres does not parse name[].)
 */
function tableOf(w: StatementWrite, catalog: CatalogFacts): string | undefined {
  if (w.schema) return catalog.tables[`${w.schema}.${w.name}`] ? `${w.schema}.${w.name}` : undefined
  const raw = catalog.searchPath as unknown
  const path = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.replace(/^\{|\}$/g, '').split(',').filter(Boolean) : []
  for (const schema of path) if (catalog.tables[`${schema}.${w.name}`]) return `${schema}.${w.name}`
  const named = Object.values(catalog.tables).filter((t) => t.name === w.name)
  return named.length === 1 ? named[0].key : undefined
}

/** Per table: the writing statements' rows per second over their period, bulk statements left out. */
export function statementWriteRates(writes: StatementWrites, catalog: CatalogFacts): Map<string, TableWriteRate> {
  const byTable = new Map<string, StatementWrite[]>()
  for (const w of writes.statements) {
    const table = tableOf(w, catalog)
    if (table) byTable.set(table, [...(byTable.get(table) ?? []), w])
  }
  const out = new Map<string, TableWriteRate>()
  const seconds = Math.max(1, writes.seconds)
  for (const [table, list] of byTable) {
    const rows = catalog.tables[table]?.rows ?? 0
    const bulk = list.filter((w) => isBulk(w, rows)).sort((a, b) => b.rows - a.rows)
    const steady = list.filter((w) => !bulk.includes(w))
    out.set(table, {
      rowsPerSecond: steady.reduce((s, w) => s + w.rows, 0) / seconds, basis: 'statements', seconds, statements: steady.length,
      ...(bulk.length ? {bulkLeftOut: bulk.slice(0, 5).map((w) => ({queryid: w.queryid, kind: w.kind, calls: w.calls, rows: w.rows}))} : {}),
    })
  }
  return out
}

/** How many tables the tables probe lists in writeRates by default (its `tablesWriteRates` option). */
const TABLES_WRITE_RATES_LIMIT = 200

/**
 * The write rate of each table, as the advisor charges it (see the module comment). The tables reading's
 * `writeRates` lists only tables written to in the window, most written first, up to its limit: a table missing
 * from a list shorter than the limit had no writes in the window (0); past the limit, the statements' rate stands in.
 */
export function writeRates(readings: Reading[], plans: PlansData, options: Record<string, unknown>): (table: string) => TableWriteRate {
  const tables = dataOf(readings, tablesReading)
  const windowed = tables?.rateBasis === 'window' && tables.writeRates ? tables.writeRates : undefined
  const windowSeconds = Number(tables?.rateSeconds) || undefined
  const limit = Number(options.tablesWriteRates) > 0 ? Math.floor(Number(options.tablesWriteRates)) : TABLES_WRITE_RATES_LIMIT
  // Counted once: the function below runs for every table of every statement an advisor weighs.
  const listed = windowed ? Object.keys(windowed).length : 0
  const writes = plans.writes && 'statements' in plans.writes ? plans.writes : undefined
  const byStatements = writes ? statementWriteRates(writes, plans.catalog) : undefined
  const fromStatements = (table: string): TableWriteRate => {
    if (byStatements) return byStatements.get(table) ?? {rowsPerSecond: 0, basis: 'statements', seconds: Math.max(1, writes!.seconds), statements: 0}
    const why = plans.writes && 'error' in plans.writes ? `pg_stat_statements could not be read (${plans.writes.error})` : 'pg_stat_statements is not installed'
    return {rowsPerSecond: 0, basis: 'unknown', note: `write rate unknown: ${why} and no --window was measured; write costs not counted (audit with --window for measured rates)`}
  }
  return (table) => {
    if (windowed) {
      const rates = windowed[table]
      if (rates) return {rowsPerSecond: Object.values(rates).reduce((s: number, v) => s + (Number(v) || 0), 0), basis: 'window', seconds: windowSeconds}
      if (listed < limit) return {rowsPerSecond: 0, basis: 'window', seconds: windowSeconds}
    }
    return fromStatements(table)
  }
}

/** Cost units per second an index adds to its table's writes; a partial index only for the rows it holds. */
export function writePenalty(c: Candidate, rate: number, rows: number): number {
  const fraction = c.where && rows > 0 ? Math.min(1, c.estimatedBytes / Math.max(1, rows * 16)) : 1
  return rate * INDEX_WRITE_COST_PER_ROW * (c.method === 'gin' ? 3 : 1) * fraction
}

/** Planner cost units per second as milliseconds of server time per second, by the calibration. */
export const costToMs = (units: number) => (units * CALIBRATION.usPerCostUnit) / 1000

/**
 * The trade-off behind a declined index, both sides per second: "read gain 12 vs index maintenance 1,300 cost
 * units/s (about 0.04 vs 4.3 ms/s; 1,000 row writes/s x 1.19 per row, over the window)".
 */
export function tradeOffText(benefit: number, penalty: number, rate: TableWriteRate): string {
  const over = rate.basis === 'window' ? 'over the window' : rate.basis === 'statements' ? 'from pg_stat_statements' : 'rate unknown'
  return `read gain ${num(benefit)} vs index maintenance ${num(penalty)} cost units/s (about ${num(costToMs(benefit))} vs ${num(costToMs(penalty))} ms/s;`
    + ` ${num(rate.rowsPerSecond)} row writes/s x ${INDEX_WRITE_COST_PER_ROW} per row, ${over})`
}
