/** The PostgreSQL readings other parts consume, typed once here (probe ids and data shapes). */
import {readingKey} from '../core/readings.js'
import type {CacheHitData} from '../probes/postgres/cache-hit.js'
import type {ColumnStatsData} from '../probes/postgres/column-stats.js'
import type {PlansData} from '../probes/postgres/plans.js'
import type {PreparedXactsData} from '../probes/postgres/prepared-xacts.js'
import type {ReplicationData} from '../probes/postgres/replication.js'
import type {WalData} from '../probes/postgres/wal.js'
import type {StatementsData} from '../probes/postgres/statements.js'

export type {PlansData, PlannedStatement} from '../probes/postgres/plans.js'
export type {CacheHitData, CacheLevel} from '../probes/postgres/cache-hit.js'
export type {ColumnStatsData, ShardTable, ColumnStats, HashSample} from '../probes/postgres/column-stats.js'
export type {PreparedXact, PreparedXactsData} from '../probes/postgres/prepared-xacts.js'
export type {ReplicationData, StandbyLag} from '../probes/postgres/replication.js'
export type {StatementsData, StatementRow} from '../probes/postgres/statements.js'
export type {WalData} from '../probes/postgres/wal.js'

export interface TablesData {
  /** The most-written tables' per-second write rates, keyed by unquoted schema.table. */
  writeRates?: Record<string, {insertsPerSecond: number; updatesPerSecond: number; deletesPerSecond: number}>
  [field: string]: unknown
}

const hasArray = (field: string) => (d: unknown) => !!d && typeof d === 'object' && Array.isArray((d as Record<string, unknown>)[field])

export const plansReading = readingKey<PlansData>('postgres.plans', (d) => hasArray('statements')(d) && typeof (d as {catalog?: unknown}).catalog === 'object')
/**
 * The seconds a statements reading's counters cover, to turn them into rates: its window; at window 0, from
 * pg_stat_statements' reset to the capture; else `fallbackSeconds` (the catalog's statistics age). At least 1.
 */
export function statementSeconds(data: Pick<StatementsData, 'windowSeconds' | 'since'>, capturedAt: string, fallbackSeconds: number): number {
  return Math.max(1, measuredStatementSeconds(data, capturedAt) ?? fallbackSeconds)
}

/** The seconds a statements reading's counters cover: its window, at window 0 from pg_stat_statements' reset; null when neither is known. */
export function measuredStatementSeconds(data: Pick<StatementsData, 'windowSeconds' | 'since'>, capturedAt: string): number | null {
  if (data.windowSeconds > 0) return data.windowSeconds
  const fromReset = data.since ? (Date.parse(capturedAt) - Date.parse(data.since)) / 1000 : NaN
  return Number.isFinite(fromReset) && fromReset > 0 ? fromReset : null
}

/** pg_stat_statements' top statements over the window, with each one's share of this database's statement time. */
export const statementsReading = readingKey<StatementsData>('postgres.statements', hasArray('statements'))
export const tablesReading = readingKey<TablesData>('postgres.tables')
/** Connection counts; consumers read its pool.utilization metric. */
export const connectionsReading = readingKey<Record<string, unknown>>('postgres.connections')
/** Buffer cache hits and misses of the database, its tables and indexes, with what the misses cost in read time. */
export const cacheHitReading = readingKey<CacheHitData>('postgres.cache-hit', (d) => hasArray('levels')(d) && hasArray('worstTables')(d))
/** Prepared transactions, oldest first, each with whether it holds back the xmin horizon (a cause of xid age). */
export const preparedXactsReading = readingKey<PreparedXactsData>('postgres.prepared-xacts', hasArray('preparedXacts'))
/** The largest tables' column statistics, keys, foreign keys and sampled hash distributions (the shard-key advisor's input). */
export const columnStatsReading = readingKey<ColumnStatsData>('postgres.column-stats', (d) => hasArray('tables')(d) && typeof (d as {shards?: unknown}).shards === 'number')
/** Replication seen from this server: its standbys' lag (a primary) or its own (a standby). */
export const replicationReading = readingKey<ReplicationData>('postgres.replication', (d) => !!d && typeof d === 'object' && ((d as {role?: unknown}).role === 'primary' || (d as {role?: unknown}).role === 'standby'))
/** WAL written per second, the cluster's system identifier and the standby conflict settings. */
export const walReading = readingKey<WalData>('postgres.wal', (d) => !!d && typeof d === 'object' && typeof (d as {inRecovery?: unknown}).inRecovery === 'boolean')
