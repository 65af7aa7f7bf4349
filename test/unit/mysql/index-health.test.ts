import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import type {StatisticsRow, TableRow} from '../../../src/knowledge/mysql/catalog.js'
import {indexHealth, type IndexHealthInput, type IndexSizeRow} from '../../../src/knowledge/mysql/index-health.js'
import {compileRule, loadRules} from '../../../src/core/rules.js'
import {evaluateMetric} from '../../../src/core/engine.js'

const fixture = <T>(name: string): T[] => (JSON.parse(readFileSync(new URL(`fixtures/mariadb-10.11/${name}.json`, import.meta.url), 'utf8')) as {rows: T[]}).rows
const statistics = fixture<StatisticsRow>('statistics')
const tables = fixture<TableRow>('tables')
const indexSizes = fixture<IndexSizeRow>('index-sizes')
const DB = 'chokepoint_fixture_scratch'
const WEEK = 7 * 86400

const base = (over: Partial<IndexHealthInput> = {}): IndexHealthInput => ({
  flavour: 'mariadb', statistics, tables, indexSizes, uptimeSeconds: 30 * 86400, replicaCount: 0, isReplica: false,
  usage: {source: 'information_schema.INDEX_STATISTICS', userstat: true, userstatOrigin: 'CONFIG', rows: [
    {TABLE_SCHEMA: DB, TABLE_NAME: 'orders', INDEX_NAME: 'idx_status_created', ROWS_READ: 120},
    {TABLE_SCHEMA: DB, TABLE_NAME: 'orders', INDEX_NAME: 'idx_note_prefix', ROWS_READ: 0},
  ]},
  ...over,
})

describe('indexHealth on the MariaDB 10.11 fixture', () => {
  it('duplicates carry the shared rule evidence: size, cover, online drop and the statement that puts it back', () => {
    const {metrics} = indexHealth(base())
    const dup = metrics.filter((m) => m.name === 'db.index.duplicate_bytes')
    expect(dup.map((m) => m.subject).sort()).toEqual([
      '`chokepoint_fixture_scratch`.`events` `idx_b_a`', '`chokepoint_fixture_scratch`.`orders` `idx_customer`',
      '`chokepoint_fixture_scratch`.`orders` `idx_customer_id`', '`chokepoint_fixture_scratch`.`orders` `idx_status`',
      '`chokepoint_fixture_scratch`.`orders` `idx_status_dup`',
    ].sort())
    const status = dup.find((m) => m.subject!.endsWith('`idx_status`'))!
    expect(status.value).toBeGreaterThan(0)
    expect(status.evidence).toMatchObject({
      vendor: 'mariadb', duplicateOf: '`chokepoint_fixture_scratch`.`orders` `idx_status_created`',
      dropSql: 'ALTER TABLE `chokepoint_fixture_scratch`.`orders` DROP INDEX `idx_status`, ALGORITHM=INPLACE, LOCK=NONE;',
      recreateSql: 'CREATE INDEX `idx_status` ON `chokepoint_fixture_scratch`.`orders` (`status`) ALGORITHM=INPLACE LOCK=NONE;',
    })
  })

  it('unused: absent from INDEX_STATISTICS or read 0 rows; never unique, primary or already redundant; aged by uptime', () => {
    const {metrics, data, notRead} = indexHealth(base())
    const unused = metrics.filter((m) => m.name === 'db.index.unused_bytes')
    // idx_at (logs) and idx_note_prefix are unread; ft_note too; the redundant ones are reported as duplicates only.
    expect(unused.map((m) => m.subject!.split(' ')[1]).sort()).toEqual(['`ft_note`', '`idx_at`', '`idx_note_prefix`'])
    expect(unused[0].evidence).toMatchObject({statsAgeSeconds: 30 * 86400, checkReplicas: false})
    expect(data.statsSinceSource).toMatch(/^server start/)
    expect(notRead).toBeUndefined()
  })

  it('userstat set at runtime or OFF: the age is unknown, nothing is judged, and the gap names the fix', () => {
    for (const usage of [
      {source: 'information_schema.INDEX_STATISTICS' as const, userstat: true, userstatOrigin: 'SQL', rows: []},
      {source: 'information_schema.INDEX_STATISTICS' as const, userstat: false, userstatOrigin: 'COMPILE-TIME', rows: []},
    ]) {
      const {metrics, notRead} = indexHealth(base({usage}))
      expect(metrics.filter((m) => m.name === 'db.index.unused_bytes').every((m) => m.evidence!.statsAgeSeconds === null)).toBe(true)
      expect(notRead?.[0]).toMatchObject({what: 'unused indexes not judged'})
      expect(notRead?.[0].fix).toMatch(/userstat=1/)
    }
  })

  it('MySQL sys.schema_unused_indexes: listed indexes are unused, aged by uptime; a replica says to check the others', () => {
    const {metrics} = indexHealth(base({flavour: 'mysql', isReplica: true, usage: {source: 'sys.schema_unused_indexes', rows: [
      {object_schema: DB, object_name: 'logs', index_name: 'idx_at'}, {object_schema: DB, object_name: 'customers', index_name: 'uq_email'},
    ]}}))
    const unused = metrics.filter((m) => m.name === 'db.index.unused_bytes')
    expect(unused.map((m) => m.subject)).toEqual(['`chokepoint_fixture_scratch`.`logs` `idx_at`'])
    expect(unused[0].evidence).toMatchObject({checkReplicas: true, vendor: 'mysql'})
  })

  it('tables without a primary key: events clusters on uq_a, which the remedy promotes', () => {
    const {metrics} = indexHealth(base())
    const nopk = metrics.filter((m) => m.name === 'mysql.table.no_primary_key')
    // Largest first; these two have as many rows, so by name.
    expect(nopk.map((m) => [m.subject, m.evidence!.clusteredBy])).toEqual([
      ['`chokepoint_fixture_scratch`.`events`', 'uq_a'], ['`chokepoint_fixture_scratch`.`logs`', null],
    ])
    expect(nopk[0].evidence!.primaryKeySql).toBe('ALTER TABLE `chokepoint_fixture_scratch`.`events` ADD PRIMARY KEY (`a`), DROP INDEX `uq_a`, ALGORITHM=INPLACE, LOCK=NONE;')
    expect(nopk[1].evidence!.clusteredOn).toMatch(/hidden 6-byte row id/)
  })

  it('the shared rules fire on these readings as they do on PostgreSQL\'s', () => {
    const rules = loadRules()
    const rule = (id: string) => compileRule(rules.find((r) => r.id === id)!, {})
    const {metrics} = indexHealth(base())
    const judge = (id: string, name: string) => metrics.filter((m) => m.name === name).map((m) => evaluateMetric(rule(id), 'maria', m))
    const dup = judge('database/duplicate-index', 'db.index.duplicate_bytes').find((f) => f?.subject.endsWith('`idx_status`'))!
    expect(dup.severity).toBe('warning')
    expect(dup.remedies[0]).toMatchObject({kind: 'drop-index', sql: expect.stringContaining('DROP INDEX `idx_status`'), recreateSql: expect.stringContaining('CREATE INDEX `idx_status`')})
    expect(judge('database/unused-index', 'db.index.unused_bytes').filter(Boolean)).toHaveLength(3)
    // Young statistics: the info rule speaks, the drop rule does not.
    const young = indexHealth(base({uptimeSeconds: WEEK - 60})).metrics
    expect(young.filter((m) => m.name === 'db.index.unused_bytes').map((m) => evaluateMetric(rule('database/unused-index'), 'maria', m)).filter(Boolean)).toHaveLength(0)
    const pk = judge('database/mysql-no-primary-key', 'mysql.table.no_primary_key')
    expect(pk.map((f) => f?.severity)).toEqual(['warning', 'warning'])
    expect(pk[0]!.remedies.map((r) => r.sql)).toEqual(['ALTER TABLE `chokepoint_fixture_scratch`.`events` ADD PRIMARY KEY (`a`), DROP INDEX `uq_a`, ALGORITHM=INPLACE, LOCK=NONE;'])
    expect(pk[1]!.remedies.map((r) => r.sql)).toEqual([undefined])
  })

  it('bounded: at most flaggedLimit of each kind become metrics, the rest are counted', () => {
    const {metrics, data} = indexHealth(base({flaggedLimit: 1}))
    expect(metrics.filter((m) => m.name === 'db.index.duplicate_bytes')).toHaveLength(1)
    expect(data.notShown.duplicate).toBe(4)
  })
})

describe('unused-index remedies by target kind', () => {
  it('a MySQL replica is told to check the MySQL views, a PostgreSQL standby pg_stat_user_indexes', () => {
    const rules = loadRules()
    const rule = compileRule(rules.find((r) => r.id === 'database/unused-index')!, {})
    const metric = indexHealth(base({isReplica: true})).metrics.find((m) => m.name === 'db.index.unused_bytes')!
    const mysql = evaluateMetric(rule, 'maria', metric, () => null, 'mysql')!
    expect(mysql.remedies.map((r) => r.summary)).toEqual([expect.stringMatching(/sys\.schema_unused_indexes \(MySQL\) or information_schema\.INDEX_STATISTICS/)])
    const pg = evaluateMetric(rule, 'pg', metric, () => null, 'postgres')!
    expect(pg.remedies.map((r) => r.summary)).toEqual([expect.stringMatching(/pg_stat_user_indexes/)])
  })
})
