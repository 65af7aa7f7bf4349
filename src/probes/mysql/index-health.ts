import {errorMessage} from '../../core/errors.js'
import type {Probe} from '../../core/probe.js'
import type {StatisticsRow, TableRow} from '../../knowledge/mysql/catalog.js'
import {indexHealth, type IndexSizeRow, type IndexStatisticsRow, type IndexUsage, type UnusedIndexRow} from '../../knowledge/mysql/index-health.js'
import {intOption} from '../postgres/skip.js'

/**
 * mysql.index-health: duplicate, redundant and unused indexes and tables without a primary key
 * (src/knowledge/mysql/index-health.ts decides; docs/mysql-index.md). Set-based: at most eight round trips whatever
 * the number of tables, every one a SELECT or SHOW (bench/mysql-index-health).
 *
 * Written against the least a MySQL session offers (query, flavour, whether it is a replica), so the driver
 * (src/drivers/mysql.ts) satisfies it as it is; registering it in the mysql kind's probe list and probeMetrics
 * (db.index.duplicate_bytes, db.index.unused_bytes, mysql.table.no_primary_key) is the wiring left to do.
 */
export interface MysqlIndexSession {
  flavour: 'mysql' | 'mariadb'
  isReplica?: boolean | null
  query<T extends Record<string, unknown> = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]>
}

const SYSTEM = `('mysql', 'sys', 'information_schema', 'performance_schema')`

/** The columns each flavour has beyond the common ones: MySQL 8 invisible and functional key parts, MariaDB ignored indexes. */
export function statisticsSql(flavour: 'mysql' | 'mariadb'): string {
  const extra = flavour === 'mysql' ? ', IS_VISIBLE, EXPRESSION' : ', IGNORED'
  return `SELECT TABLE_SCHEMA, TABLE_NAME, NON_UNIQUE, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, COLLATION, SUB_PART, NULLABLE, INDEX_TYPE${extra}
    FROM information_schema.STATISTICS WHERE TABLE_SCHEMA NOT IN ${SYSTEM}`
}

export const TABLES_SQL = `SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH
  FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ${SYSTEM}`
export const SIZES_SQL = `SELECT database_name, table_name, index_name, stat_value * @@innodb_page_size AS size_bytes
  FROM mysql.innodb_index_stats WHERE stat_name = 'size' AND database_name NOT IN ${SYSTEM}`
const SERVER_SQL = 'SELECT @@optimizer_switch AS optimizer_switch, @@performance_schema AS performance_schema'
const UPTIME_SQL = "SHOW GLOBAL STATUS LIKE 'Uptime'"
/* Replicas attached to this server: their dump threads (needs PROCESS to see them; 0 without). */
const REPLICAS_SQL = "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')"
const USERSTAT_SQL = "SELECT GLOBAL_VALUE AS value, GLOBAL_VALUE_ORIGIN AS origin FROM information_schema.SYSTEM_VARIABLES WHERE VARIABLE_NAME = 'USERSTAT'"
const INDEX_STATISTICS_SQL = `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, ROWS_READ FROM information_schema.INDEX_STATISTICS WHERE TABLE_SCHEMA NOT IN ${SYSTEM}`
const UNUSED_SQL = `SELECT object_schema, object_name, index_name FROM sys.schema_unused_indexes WHERE object_schema NOT IN ${SYSTEM}`

/** Whether the optimizer uses InnoDB's implicit primary-key suffix (use_index_extensions / extended_keys). */
export function extendedKeysOn(optimizerSwitch: unknown): boolean {
  const flags = new Map(String(optimizerSwitch ?? '').split(',').map((kv) => kv.split('=') as [string, string]))
  return (flags.get('use_index_extensions') ?? flags.get('extended_keys') ?? 'on') !== 'off'
}

async function usageOf(session: MysqlIndexSession, performanceSchema: boolean): Promise<IndexUsage> {
  if (session.flavour === 'mariadb') {
    const [userstat] = await session.query<{value: string; origin: string}>(USERSTAT_SQL).catch(() => [] as Array<{value: string; origin: string}>)
    const on = String(userstat?.value ?? '').toUpperCase() === 'ON'
    if (on || !performanceSchema) {
      const rows = on ? await session.query<IndexStatisticsRow & Record<string, unknown>>(INDEX_STATISTICS_SQL) : []
      return {source: 'information_schema.INDEX_STATISTICS', rows, userstat: on, userstatOrigin: userstat?.origin ?? null}
    }
  }
  if (!performanceSchema) {
    return {source: 'none', reason: 'performance_schema is OFF: no per-index read counts', fix: 'set performance_schema=ON in the server configuration and restart'}
  }
  try {
    return {source: 'sys.schema_unused_indexes', rows: await session.query<UnusedIndexRow & Record<string, unknown>>(UNUSED_SQL)}
  } catch (error) {
    return {source: 'none', reason: `sys.schema_unused_indexes could not be read (${errorMessage(error).split('\n')[0]})`,
      fix: "GRANT SELECT ON sys.* TO '<user>'@'%'; GRANT SELECT ON performance_schema.* TO '<user>'@'%';"}
  }
}

export const indexHealthProbe: Probe<MysqlIndexSession> = {
  id: 'mysql.index-health',
  kind: 'mysql',
  description: 'Duplicate, redundant (InnoDB primary-key suffix included) and unused indexes, and tables without a primary key',

  async collect(session, ctx) {
    const [statistics, tables, server, uptime, replicas] = await Promise.all([
      session.query<StatisticsRow & Record<string, unknown>>(statisticsSql(session.flavour)),
      session.query<TableRow & Record<string, unknown>>(TABLES_SQL),
      session.query<{optimizer_switch: string; performance_schema: number | string}>(SERVER_SQL),
      session.query<{Variable_name: string; Value: string}>(UPTIME_SQL),
      session.query<{n: number}>(REPLICAS_SQL).catch(() => [{n: 0}]),
    ])
    // Index sizes need SELECT on mysql.innodb_index_stats; without it the sizes read 0 and the gap says so.
    let sizesGap: string | undefined
    const indexSizes = await session.query<IndexSizeRow & Record<string, unknown>>(SIZES_SQL).catch((error) => {
      sizesGap = errorMessage(error).split('\n')[0]
      return [] as IndexSizeRow[]
    })
    const performanceSchema = Number(server[0]?.performance_schema ?? 0) === 1 || String(server[0]?.performance_schema).toUpperCase() === 'ON'
    const usage = await usageOf(session, performanceSchema)
    const out = indexHealth({
      flavour: session.flavour, statistics, tables, indexSizes, usage,
      uptimeSeconds: Number(uptime[0]?.Value ?? 0), replicaCount: Number(replicas[0]?.n ?? 0), isReplica: session.isReplica === true,
      extendedKeys: extendedKeysOn(server[0]?.optimizer_switch), flaggedLimit: intOption(ctx.options, 'indexesFlaggedLimit', 100),
    })
    const notRead = [...(out.notRead ?? [])]
    // information_schema lists only tables the user holds some privilege on: none at all is a user without grants, not a clean server.
    if (tables.length === 0) {
      notRead.push({what: 'tables', reason: 'information_schema shows this user no tables outside the system schemas: it lists only tables the user holds a privilege on',
        fix: "GRANT SELECT ON `<database>`.* TO '<user>'@'%';"})
    }
    if (sizesGap) notRead.push({what: 'index sizes', reason: `mysql.innodb_index_stats could not be read (${sizesGap}): sizes read 0`, fix: "GRANT SELECT ON mysql.innodb_index_stats TO '<user>'@'%';"})
    return {data: out.data, metrics: out.metrics, ...(notRead.length ? {notRead} : {})}
  },
}
