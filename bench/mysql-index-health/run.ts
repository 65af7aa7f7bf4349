/**
 * MySQL index health at scale: the time indexHealth() (src/knowledge/mysql/index-health.ts) takes to judge a
 * catalog of N tables from its information_schema rows, and the round trips the mysql.index-health probe sends for
 * it (a session that answers from the same rows and counts what it is asked). The 10-table catalog is the baseline
 * of the same run: the issue asks that 1,000 tables cost no more round trips than 10 and stay well inside 1.5 s.
 *
 * Each table: PRIMARY KEY (id), KEY (a), KEY (a, b) (so (a) is a left-prefix), KEY (c, id) (the primary-key suffix),
 * UNIQUE (u), KEY (d); every tenth table has no primary key. Median of --repeats runs after one warm-up.
 *
 * Run: npx tsx bench/mysql-index-health/run.ts [--repeats R]   (no server needed). Writes bench/results/mysql-index-health.json.
 */
import {writeFileSync} from 'node:fs'
import os from 'node:os'
import type {StatisticsRow, TableRow} from '../../src/knowledge/mysql/catalog.js'
import {indexHealth} from '../../src/knowledge/mysql/index-health.js'
import {indexHealthProbe, type MysqlIndexSession} from '../../src/probes/mysql/index-health.js'
import type {ProbeContext} from '../../src/core/probe.js'

const args = process.argv.slice(2)
const REPEATS = (() => {
  const i = args.indexOf('--repeats')
  return i >= 0 ? Number(args[i + 1]) : 7
})()
const SIZES = [10, 1000, 10_000]

function catalog(tables: number): {statistics: StatisticsRow[]; tableRows: TableRow[]} {
  const statistics: StatisticsRow[] = []
  const tableRows: TableRow[] = []
  for (let t = 0; t < tables; t++) {
    const table = `t${t}`
    const row = (name: string, seq: number, col: string, nonUnique = 1) =>
      statistics.push({TABLE_SCHEMA: 'app', TABLE_NAME: table, NON_UNIQUE: nonUnique, INDEX_NAME: name, SEQ_IN_INDEX: seq, COLUMN_NAME: col, COLLATION: 'A', SUB_PART: null, NULLABLE: '', INDEX_TYPE: 'BTREE'})
    if (t % 10 !== 0) row('PRIMARY', 1, 'id', 0)
    row('k_a', 1, 'a')
    row('k_ab', 1, 'a')
    row('k_ab', 2, 'b')
    row('k_c_id', 1, 'c')
    row('k_c_id', 2, 'id')
    row('u_u', 1, 'u', 0)
    row('k_d', 1, 'd')
    tableRows.push({TABLE_SCHEMA: 'app', TABLE_NAME: table, ENGINE: 'InnoDB', TABLE_ROWS: 1000 + t, DATA_LENGTH: 16384 * (1 + (t % 50)), INDEX_LENGTH: 16384})
  }
  return {statistics, tableRows}
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function main(): Promise<void> {
  const results = []
  for (const n of SIZES) {
    const {statistics, tableRows} = catalog(n)
    const input = {flavour: 'mariadb' as const, statistics, tables: tableRows, uptimeSeconds: 30 * 86400, replicaCount: 0, isReplica: false,
      usage: {source: 'information_schema.INDEX_STATISTICS' as const, rows: [], userstat: true, userstatOrigin: 'CONFIG'}, flaggedLimit: 100}
    indexHealth(input)
    const ms: number[] = []
    let out = indexHealth(input)
    for (let r = 0; r < REPEATS; r++) {
      const started = process.hrtime.bigint()
      out = indexHealth(input)
      ms.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    let queries = 0
    const session: MysqlIndexSession = {
      flavour: 'mariadb', isReplica: false,
      async query(sql: string) {
        queries++
        if (sql.includes('information_schema.STATISTICS')) return statistics as any[]
        if (sql.includes('information_schema.TABLES')) return tableRows as any[]
        if (sql.includes('@@optimizer_switch')) return [{optimizer_switch: 'extended_keys=on', performance_schema: 0}]
        if (sql.includes("LIKE 'Uptime'")) return [{Variable_name: 'Uptime', Value: String(30 * 86400)}]
        if (sql.includes('SYSTEM_VARIABLES')) return [{value: 'ON', origin: 'CONFIG'}]
        return []
      },
    }
    await indexHealthProbe.collect(session, {options: {}, windowSeconds: 0, log: () => {}} as unknown as ProbeContext, undefined)
    const found = {duplicate: out.data.duplicate.length + out.data.notShown.duplicate, noPrimaryKey: out.data.noPrimaryKey.length + out.data.notShown.noPrimaryKey}
    results.push({tables: n, statisticsRows: statistics.length, medianMs: Math.round(median(ms) * 100) / 100, maxMs: Math.round(Math.max(...ms) * 100) / 100, roundTrips: queries, found, metrics: out.metrics.length})
    console.error(`${String(n).padStart(6)} tables: ${median(ms).toFixed(2)} ms median (max ${Math.max(...ms).toFixed(2)}), ${queries} round trips, ${found.duplicate} redundant, ${found.noPrimaryKey} without a primary key, ${out.metrics.length} metrics (capped)`)
  }
  const baseline = results[0]
  const summary = {
    benchmark: 'mysql-index-health', when: new Date().toISOString(), node: process.version, cpus: os.cpus().length, repeats: REPEATS,
    results, baseline: {tables: baseline.tables, medianMs: baseline.medianMs, roundTrips: baseline.roundTrips},
    roundTripsIndependentOfTables: results.every((r) => r.roundTrips === baseline.roundTrips),
  }
  writeFileSync(new URL('../results/mysql-index-health.json', import.meta.url), `${JSON.stringify(summary, null, 2)}\n`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
