import type {Metric, ReadingGap} from '../../core/types.js'
import {quoteMysqlIdent, quoteMysqlQualified} from '../../core/sql.js'
import {clusteredIndex, indexesFromStatistics, isInnodb, keyPartText, tableKey, tablesFromRows, type MysqlIndex, type StatisticsRow, type TableRow} from './catalog.js'
import {createIndexSql, findRedundantIndexes, indexText, onlineOptions, redundancyDdl, type RedundantIndex} from './index-redundancy.js'

/**
 * Index health of a MySQL or MariaDB server from the rows a probe selects (information_schema.STATISTICS and TABLES,
 * mysql.innodb_index_stats, the index usage source of the flavour): duplicate and redundant indexes, unused indexes
 * and tables without a primary key, as metrics the shared rules read (db.index.duplicate_bytes,
 * db.index.unused_bytes: the same evidence fields as postgres.indexes) and mysql.table.no_primary_key.
 *
 * How old are the usage counts? Both sources count from the server's start and cannot say when they were last
 * cleared, so the age is the server's Uptime, and only where the source counted from the start:
 *  - MySQL, sys.schema_unused_indexes (performance_schema.table_io_waits_summary_by_index_usage): from the start
 *    while performance_schema is ON (it cannot be switched on at runtime). A TRUNCATE of that table restarts the
 *    counts unseen: the age then errs older.
 *  - MariaDB, information_schema.INDEX_STATISTICS (userstat): counted only while userstat is ON, and it can be set
 *    at runtime. When information_schema.SYSTEM_VARIABLES says userstat's GLOBAL_VALUE_ORIGIN is CONFIG or
 *    COMMAND-LINE it was on from the start; set by SQL (SET GLOBAL), when is unknown, and no index is judged. A
 *    FLUSH INDEX_STATISTICS restarts the counts unseen, as TRUNCATE does on MySQL.
 * The database/unused-index rule judges only counts 7 days old or more (statsAgeSeconds), as for PostgreSQL.
 */

/** A row of sys.schema_unused_indexes (MySQL 5.7+; MariaDB ships the sys schema too, but over performance_schema). */
export interface UnusedIndexRow {
  object_schema: string
  object_name: string
  index_name: string
}

/** A row of MariaDB's information_schema.INDEX_STATISTICS: an index read at least once since the counts started. */
export interface IndexStatisticsRow {
  TABLE_SCHEMA: string
  TABLE_NAME: string
  INDEX_NAME: string
  ROWS_READ: number | string
}

/** A row of mysql.innodb_index_stats WHERE stat_name = 'size', times @@innodb_page_size. */
export interface IndexSizeRow {
  database_name: string
  table_name: string
  index_name: string
  size_bytes: number | string
}

export type IndexUsage =
  | {source: 'sys.schema_unused_indexes'; rows: UnusedIndexRow[]}
  | {source: 'information_schema.INDEX_STATISTICS'; rows: IndexStatisticsRow[]; userstat: boolean; userstatOrigin: string | null}
  /** Neither source is available: unused indexes are not judged, and the gap says why and the fix. */
  | {source: 'none'; reason: string; fix: string}

export interface IndexHealthInput {
  flavour: 'mysql' | 'mariadb'
  statistics: readonly StatisticsRow[]
  tables: readonly TableRow[]
  indexSizes?: readonly IndexSizeRow[]
  usage: IndexUsage
  uptimeSeconds: number
  /** Replicas attached to this server, and whether it is one: each node counts only the reads it serves. */
  replicaCount: number
  isReplica: boolean
  /** @@optimizer_switch use_index_extensions (MySQL) / extended_keys (MariaDB); default on. */
  extendedKeys?: boolean
  /** Indexes of each kind listed (the largest first); the rest are counted in notShown. Default 100, as postgres.indexes. */
  flaggedLimit?: number
}

export interface FlaggedMysqlIndex {
  /** `db`.`table`.`index` is not MySQL syntax; `db`.`table` and the index name are kept apart. */
  index: string
  table: string
  reason: string
  sizeBytes: number
  definition: string
  dropSql: string
  recreateSql: string
}

export interface TableWithoutPrimaryKey {
  table: string
  engine: string
  rows: number
  dataBytes: number
  /** The UNIQUE NOT NULL index InnoDB clusters on instead, or null: a hidden 6-byte row id. */
  clusteredBy: string | null
  /** The ALTER TABLE that promotes clusteredBy to the primary key, when there is one. */
  primaryKeySql: string | null
}

export interface IndexHealthData {
  flavour: 'mysql' | 'mariadb'
  usageSource: IndexUsage['source']
  statsAgeSeconds: number | null
  statsSinceSource: string
  indexCount: number
  duplicate: Array<FlaggedMysqlIndex & {duplicateOf: string; kind: RedundantIndex['kind']}>
  unused: FlaggedMysqlIndex[]
  noPrimaryKey: TableWithoutPrimaryKey[]
  flaggedLimit: number
  notShown: {duplicate: number; unused: number; noPrimaryKey: number}
}

const SYSTEM_SCHEMAS = new Set(['mysql', 'sys', 'information_schema', 'performance_schema'])
const DEFAULT_FLAGGED_LIMIT = 100

/** The index name in messages: `db`.`table` `index`, each part quoted so that no name can be misread. */
const indexSubject = (i: MysqlIndex) => `${quoteMysqlQualified(i.schema, i.table)} ${quoteMysqlIdent(i.name)}`

/** Tables without a PRIMARY KEY, and what InnoDB clusters each on instead. */
export function tablesWithoutPrimaryKey(tables: readonly TableRow[], indexes: readonly MysqlIndex[]): TableWithoutPrimaryKey[] {
  const byTable = new Map<string, MysqlIndex[]>()
  for (const i of indexes) {
    const key = tableKey(i.schema, i.table)
    byTable.set(key, [...(byTable.get(key) ?? []), i])
  }
  return tablesFromRows(tables).filter((t) => !SYSTEM_SCHEMAS.has(t.schema.toLowerCase())).flatMap((t) => {
    const list = byTable.get(tableKey(t.schema, t.table)) ?? []
    if (list.some((i) => i.primary)) return []
    const stand = isInnodb(t.engine) ? clusteredIndex(list) : undefined
    const table = quoteMysqlQualified(t.schema, t.table)
    // Promoting the index InnoDB clusters on keeps the rows where they are; the UNIQUE goes, the key enforces it.
    const primaryKeySql = stand
      ? `ALTER TABLE ${table} ADD PRIMARY KEY (${stand.columns.map((c) => quoteMysqlIdent(c.name!)).join(', ')}), DROP INDEX ${quoteMysqlIdent(stand.name)}, ALGORITHM=INPLACE, LOCK=NONE;`
      : null
    return [{table, engine: t.engine, rows: t.rows, dataBytes: t.dataBytes, clusteredBy: stand ? stand.name : null, primaryKeySql}]
  })
}

function usageAge(input: IndexHealthInput): {age: number | null; source: string; gap?: ReadingGap} {
  const u = input.usage
  if (u.source === 'none') return {age: null, source: `unknown: ${u.reason}`, gap: {what: 'unused indexes not judged', missing: 0, reason: u.reason, fix: u.fix}}
  if (u.source === 'sys.schema_unused_indexes') return {age: input.uptimeSeconds, source: 'server start (performance_schema counts index reads from the start; a TRUNCATE of table_io_waits_summary_by_index_usage would restart them unseen)'}
  if (!u.userstat) {
    return {age: null, source: 'unknown: userstat is OFF, so INDEX_STATISTICS counts nothing', gap: {what: 'unused indexes not judged', missing: 0,
      reason: 'userstat is OFF: information_schema.INDEX_STATISTICS counts no index reads',
      fix: 'add userstat=1 to the [mariadb] section of the server configuration and restart (set at runtime, the counts have no known start)'}}
  }
  const origin = (u.userstatOrigin ?? '').toUpperCase()
  if (origin === 'CONFIG' || origin === 'COMMAND-LINE') {
    return {age: input.uptimeSeconds, source: `server start (userstat set by ${origin === 'CONFIG' ? 'the configuration file' : 'the command line'}; a FLUSH INDEX_STATISTICS would restart the counts unseen)`}
  }
  return {age: null, source: `unknown: userstat was switched on at runtime (GLOBAL_VALUE_ORIGIN ${origin || 'unknown'}), so INDEX_STATISTICS has no known start`,
    gap: {what: 'unused indexes not judged', missing: 0, reason: 'userstat was switched on at runtime: INDEX_STATISTICS counts from an unknown time',
      fix: 'add userstat=1 to the [mariadb] section of the server configuration; after the next restart the counts start with the server'}}
}

/** Whether an index had no reads, per the flavour's source (undefined when the source cannot say). */
function unusedTest(usage: IndexUsage): ((i: MysqlIndex) => boolean) | undefined {
  if (usage.source === 'none') return undefined
  if (usage.source === 'sys.schema_unused_indexes') {
    const unused = new Set(usage.rows.map((r) => `${tableKey(r.object_schema, r.object_name)}\u0000${r.index_name}`))
    return (i) => unused.has(`${tableKey(i.schema, i.table)}\u0000${i.name}`)
  }
  // An index never read is absent from INDEX_STATISTICS; one listed with 0 rows read was not read either.
  const read = new Set(usage.rows.filter((r) => Number(r.ROWS_READ) > 0).map((r) => `${tableKey(r.TABLE_SCHEMA, r.TABLE_NAME)}\u0000${r.INDEX_NAME}`))
  return (i) => !read.has(`${tableKey(i.schema, i.table)}\u0000${i.name}`)
}

export function indexHealth(input: IndexHealthInput): {data: IndexHealthData; metrics: Metric[]; notRead?: ReadingGap[]} {
  const limit = input.flaggedLimit ?? DEFAULT_FLAGGED_LIMIT
  const indexes = indexesFromStatistics(input.statistics).filter((i) => !SYSTEM_SCHEMAS.has(i.schema.toLowerCase()))
  const tables = tablesFromRows(input.tables)
  const engines = new Map(tables.map((t) => [tableKey(t.schema, t.table), t.engine]))
  const sizes = new Map((input.indexSizes ?? []).map((r) => [`${tableKey(r.database_name, r.table_name)}\u0000${r.index_name}`, Number(r.size_bytes)]))
  const sizeOf = (i: MysqlIndex) => sizes.get(`${tableKey(i.schema, i.table)}\u0000${i.name}`) ?? 0
  const engineOf = (i: MysqlIndex) => engines.get(tableKey(i.schema, i.table))
  const bySize = (a: {sizeBytes: number; index: string}, b: {sizeBytes: number; index: string}) => b.sizeBytes - a.sizeBytes || (a.index < b.index ? -1 : 1)

  const checkReplicas = input.isReplica || input.replicaCount > 0
  const scansCountedOn = input.isReplica
    ? 'counted on this replica only: the source and other replicas count their own reads'
    : input.replicaCount > 0 ? `counted on this source only: its ${input.replicaCount} replica(s) count their own reads` : 'counted on this server (no replicas attached)'
  const common = {vendor: input.flavour, checkReplicas, replicaCount: input.replicaCount, scansCountedOn, onReplica: input.isReplica}

  const flag = (i: MysqlIndex, reason: string, dropSql: string, recreateSql: string): FlaggedMysqlIndex => ({
    index: indexSubject(i), table: quoteMysqlQualified(i.schema, i.table), reason, sizeBytes: sizeOf(i), definition: indexText(i), dropSql, recreateSql,
  })

  const redundant = findRedundantIndexes(indexes, {engines, extendedKeys: input.extendedKeys})
  const duplicate = redundant.map((r) => {
    const ddl = redundancyDdl(r, engineOf(r.index))
    // A clustered duplicate is served by itself without the primary key's columns: name that index, and why.
    const clustered = r.kind === 'clustered' && r.shortened
    return {...flag(r.index, r.reason, ddl.sql, ddl.rollbackSql), kind: r.kind,
      duplicateOf: clustered ? `KEY ${quoteMysqlIdent(r.index.name)} (${r.shortened!.map(keyPartText).join(', ')})` : indexSubject(r.coveredBy),
      duplicateOfDefinition: clustered ? r.reason : indexText(r.coveredBy)}
  }).sort(bySize)

  const {age, source, gap} = usageAge(input)
  const isUnused = unusedTest(input.usage)
  const redundantSet = new Set(redundant.map((r) => r.index))
  const drop = (i: MysqlIndex) => `ALTER TABLE ${quoteMysqlQualified(i.schema, i.table)} DROP INDEX ${quoteMysqlIdent(i.name)}${onlineOptions(isInnodb(engineOf(i)), undefined).map((o) => `, ${o}`).join('')};`
  // A unique index enforces a constraint whether or not it is read; a redundant one is reported as such already.
  const unused = isUnused
    ? indexes.filter((i) => !i.primary && !i.unique && !redundantSet.has(i) && isUnused(i))
      .map((i) => flag(i, 'unused', drop(i), createIndexSql(i, engineOf(i)))).sort(bySize)
    : []
  const noPrimaryKey = tablesWithoutPrimaryKey(input.tables, indexes).sort((a, b) => b.rows - a.rows || (a.table < b.table ? -1 : 1))

  const metrics: Metric[] = []
  for (const d of duplicate.slice(0, limit)) {
    metrics.push({name: 'db.index.duplicate_bytes', value: d.sizeBytes, subject: d.index, evidence: {...common, ...d}})
  }
  for (const u of unused.slice(0, limit)) {
    metrics.push({name: 'db.index.unused_bytes', value: u.sizeBytes, subject: u.index,
      evidence: {...common, ...u, statsAgeSeconds: age, statsSince: null, statsSinceSource: source, usageSource: input.usage.source}})
  }
  for (const t of noPrimaryKey.slice(0, limit)) {
    metrics.push({name: 'mysql.table.no_primary_key', value: 1, subject: t.table, evidence: {
      vendor: input.flavour, ...t, innodb: isInnodb(t.engine), promotable: t.clusteredBy !== null ? 1 : 0,
      clusteredOn: t.clusteredBy !== null
        ? `InnoDB clusters it on its first UNIQUE NOT NULL index, ${quoteMysqlIdent(t.clusteredBy)}`
        : isInnodb(t.engine) ? 'InnoDB clusters it on a hidden 6-byte row id that no query can use' : `${t.engine || 'its engine'} does not cluster rows`,
    }})
  }

  const notRead: ReadingGap[] = []
  if (gap) notRead.push({...gap, missing: indexes.filter((i) => !i.primary && !i.unique).length})
  return {
    data: {
      flavour: input.flavour, usageSource: input.usage.source, statsAgeSeconds: age, statsSinceSource: source, indexCount: indexes.length,
      duplicate: duplicate.slice(0, limit), unused: unused.slice(0, limit), noPrimaryKey: noPrimaryKey.slice(0, limit), flaggedLimit: limit,
      notShown: {duplicate: Math.max(0, duplicate.length - limit), unused: Math.max(0, unused.length - limit), noPrimaryKey: Math.max(0, noPrimaryKey.length - limit)},
    },
    metrics,
    ...(notRead.length ? {notRead} : {}),
  }
}
