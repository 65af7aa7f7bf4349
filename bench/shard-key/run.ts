/**
 * Shard-key advisor benchmark: what the advisor adds to an audit of 1,000 tables and 2,000 statements (issue 12's
 * budget for the scaling advisors together: 0.5 s). In process, on readings built here (no server): a column-stats
 * reading of 1,000 tables (each with a tenant key, a foreign key to the previous table and 6 columns) and a statements
 * reading of 2,000 statements over them (filters by tenant, joins, one-row inserts, range scans). Baseline of the same
 * run: parsing the 2,000 statements alone (extractShapeSync, the floor of any routing analysis), and the advisor on
 * 100 tables and 200 statements (the scaling ratio; 10 is linear).
 * Run: npx tsx bench/shard-key/run.ts [--rounds N]. Writes bench/results/shard-key.json.
 */
import {writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {shardKeyAdvisor} from '../../src/advisors/shard-key.js'
import type {AdvisorContext} from '../../src/core/advisor.js'
import {compileRule, loadRules} from '../../src/core/rules.js'
import type {Reading, Snapshot} from '../../src/core/types.js'
import {extractShapeSync} from '../../src/knowledge/postgres/parse.js'
import {ensureParser} from '../../src/knowledge/postgres/workload.js'
import type {ColumnStatsData, ShardTable} from '../../src/probes/postgres/column-stats.js'
import type {StatementRow} from '../../src/probes/postgres/statements.js'

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 7
const BUDGET_MS = 500

function tables(n: number): ShardTable[] {
  return Array.from({length: n}, (_, i) => ({
    key: `public.t${i}`, schema: 'public', name: `t${i}`, rows: 100_000 - i, sizeBytes: 1e9 - i, large: true,
    columns: [
      {name: 'id', type: 'bigint', notNull: true, nDistinct: -1, nullFrac: 0, correlation: 1, maxCommonFreq: null},
      {name: 'tenant_id', type: 'integer', notNull: true, nDistinct: 5000, nullFrac: 0, correlation: 0.01, maxCommonFreq: 0.0004},
      {name: 'parent_id', type: 'bigint', notNull: true, nDistinct: -0.5, nullFrac: 0, correlation: 0.2, maxCommonFreq: null},
      {name: 'created_at', type: 'timestamp with time zone', notNull: true, nDistinct: -1, nullFrac: 0, correlation: 0.99, maxCommonFreq: null},
      {name: 'status', type: 'text', notNull: true, nDistinct: 4, nullFrac: 0, correlation: 0.3, maxCommonFreq: 0.6},
      {name: 'note', type: 'text', notNull: false, nDistinct: -0.9, nullFrac: 0.2, correlation: 0, maxCommonFreq: null},
    ],
    constraints: [{name: `t${i}_pkey`, kind: 'primary', columns: ['id']}],
    foreignKeys: i > 0 ? [{name: `t${i}_parent_fkey`, columns: ['parent_id'], references: `public.t${i - 1}`, referencedSchema: 'public', referencedTable: `t${i - 1}`, referencedColumns: ['id']}] : [],
    samples: [{column: 'tenant_id', rows: 10_000, nulls: 0, shardRows: Array.from({length: 32}, () => 312)}],
    samplePercent: 1,
  }))
}

function statements(nTables: number, n: number): StatementRow[] {
  const shapes = [
    (t: number) => `SELECT id, status FROM t${t} WHERE tenant_id = $1 AND created_at > $2 ORDER BY created_at DESC LIMIT $3`,
    (t: number) => `SELECT a.id FROM t${t} a JOIN t${(t + 1) % nTables} b ON b.parent_id = a.id AND b.tenant_id = a.tenant_id WHERE a.tenant_id = $1`,
    (t: number) => `INSERT INTO t${t} (tenant_id, parent_id, created_at, status) VALUES ($1, $2, now(), $3)`,
    (t: number) => `SELECT count(*) FROM t${t} WHERE created_at > $1`,
  ]
  return Array.from({length: n}, (_, i) => ({
    queryid: String(i + 1), query: shapes[i % shapes.length](Math.floor(i / 2) % nTables), calls: 100, totalMs: 1000 - (i % 1000), meanMs: 10, stddevMs: 0,
    maxMs: 20, rows: 100, sharedBlksHit: 0, sharedBlksRead: 0, sharedBlksDirtied: 0, sharedBlksWritten: 0, tempBlksRead: 0, tempBlksWritten: 0,
    share: 0, toplevel: true, database: 'bench', user: 'bench',
  }))
}

function context(nTables: number, nStatements: number, shardPlan?: number, readTables = nTables): AdvisorContext {
  const stats: ColumnStatsData = {database: 'bench', shards: 32, databaseBytes: 1e12, sharedBuffersBytes: 1e9, tables: tables(readTables)}
  const rows = statements(nTables, nStatements)
  const totalMs = rows.reduce((a, s) => a + s.totalMs, 0)
  const reading = (probe: string, data: unknown): Reading => ({target: 'pg', probe, takenAt: new Date().toISOString(), durationMs: 0, status: 'ok', data, metrics: []})
  const readings = [reading('postgres.column-stats', stats),
    reading('postgres.statements', {database: 'bench', windowSeconds: 0, since: null, statements: rows, statementsActive: rows.length, totalMs, hiddenStatements: 0, deallocations: null})]
  const rule = loadRules().find((r) => r.id === 'database/shard-key')!
  const effective = {...compileRule(rule, {}), enabled: true}
  const snapshot = {readings, targets: []} as unknown as Snapshot
  return {snapshot, target: {name: 'pg', kind: 'postgres'} as AdvisorContext['target'], readings, live: new Map(), rules: () => [effective],
    options: shardPlan ? {shardPlan} : {}, log: () => {}}
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  await fn()
  const times: number[] = []
  for (let i = 0; i < rounds; i++) {
    const started = performance.now()
    await fn()
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  return Math.round(times[Math.floor(times.length / 2)] * 10) / 10
}

await ensureParser()
const large = context(1000, 2000, 32)
const small = context(100, 200, 32)
const quiet = context(1000, 2000)
// What an audit of 1,000 tables gives the advisor: the probe reads the 20 largest (shardTables), the statements span all.
const bounded = context(1000, 2000, 32, 20)
const parseFloor = statements(1000, 2000).map((s) => s.query)
const catalog = {columns: Object.fromEntries(tables(1000).map((t) => [t.key, t.columns.map((c) => c.name)])), searchPath: ['public']}
const findings = await shardKeyAdvisor.advise(large)
const result = {
  benchmark: 'shard-key',
  date: new Date().toISOString(),
  machine: {cpus: cpus().length, model: cpus()[0]?.model.split(' ').slice(0, 2).join(' '), loadavg: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version},
  method: `shardKeyAdvisor.advise in process on built readings (column-stats of N tables, postgres.statements of M statements); median of ${rounds} rounds after a warm-up. planned: --shard-plan 32 with all 1000 tables in the reading (the plan is built and emitted: a stress case, the probe reads 20 by default); probeBoundedPlanned: the same 2000 statements with the 20 tables the probe reads by default (an audit of 1000 tables); quiet: no plan and no saturation (no CPU or working-set pressure): the advisor returns before parsing anything. parseFloorMs: extractShapeSync of the same 2000 statements alone. scaling: 1000/2000 over 100/200 (10 is linear). Budget: ${BUDGET_MS} ms for the scaling advisors together.`,
  budgetMs: BUDGET_MS,
  plannedMs: await median(() => shardKeyAdvisor.advise(large)),
  quietMs: await median(() => shardKeyAdvisor.advise(quiet)),
  probeBoundedPlannedMs: await median(() => shardKeyAdvisor.advise(bounded)),
  smallPlannedMs: await median(() => shardKeyAdvisor.advise(small)),
  parseFloorMs: await median(async () => parseFloor.forEach((q) => extractShapeSync(q, catalog))),
  remedies: findings[0]?.remedies.length ?? 0,
}
// The budget is for an audit of 1,000 tables: the probe's bounded reading. The stress case is reported beside it.
const out = {...result, scaling: Math.round((result.plannedMs / result.smallPlannedMs) * 10) / 10, withinBudget: result.probeBoundedPlannedMs < BUDGET_MS,
  stressWithinBudget: result.plannedMs < BUDGET_MS}
writeFileSync(new URL('../results/shard-key.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`)
console.log(JSON.stringify(out, null, 2))
