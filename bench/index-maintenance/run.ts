/**
 * Index maintenance calibration: what one b-tree index costs per row written, on this machine, and what one
 * planner cost unit takes, so the index advisor's write penalty (src/advisors/index-advisor/write-cost.ts) is a
 * measured figure in the planner's units rather than a guess.
 *
 * Method. For each index layout (none; one int key; one 3-int key; one 32-byte text key; three int indexes) a fresh
 * table is preloaded with PRELOAD rows (so the b-trees have their working depth), then N rows with random keys are
 * inserted with one INSERT ... SELECT inside a transaction that is rolled back; the INSERT's server-side duration
 * (clock_timestamp() around it, in a DO block) is the sample. Layouts are interleaved per repeat, so drift on the
 * shared machine hits every layout alike. Per-row per-index cost = (median with - median without) / N / indexes.
 * The planner's time per cost unit: EXPLAIN ANALYZE of a cached sequential scan with a filter (the plan an index
 * replaces) and of a nested loop of index lookups: actual total time / estimated total cost, median of repeats.
 *
 * Run: npx tsx bench/index-maintenance/run.ts [--rows N] [--repeats R]   (needs scripts/test-env.sh up).
 * Writes bench/results/index-maintenance.json.
 */
import {writeFileSync} from 'node:fs'
import os from 'node:os'
import pg from 'pg'
import {PRIMARY_URL, withDatabase} from '../../test/helpers/pg.js'

const args = process.argv.slice(2)
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const N = flag('rows', 100_000)
const REPEATS = flag('repeats', 7)
const PRELOAD = flag('preload', 200_000)
const DB = process.env.CP_BENCH_MAINT_DB ?? 'cp_bench_index_maintenance'

const LAYOUTS: Array<{name: string; indexes: string[]}> = [
  {name: 'none', indexes: []},
  {name: 'int', indexes: ['(a)']},
  {name: 'int3', indexes: ['(a, b, c)']},
  {name: 'text32', indexes: ['(s)']},
  {name: 'three-int', indexes: ['(a)', '(b)', '(c)']},
]

const ROWS_SQL = (n: number) => `SELECT (random() * 1e9)::int, (random() * 1e9)::int, (random() * 1e9)::int, md5(random()::text) FROM generate_series(1, ${n})`

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo)
}
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d

async function main(): Promise<void> {
  const admin = new pg.Client({connectionString: PRIMARY_URL, application_name: 'chokepoint-bench'})
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${DB}`)
  await admin.end()
  const db = new pg.Client({connectionString: withDatabase(PRIMARY_URL, DB), application_name: 'chokepoint-bench'})
  await db.connect()
  // The bench's own statements need not fill pg_stat_statements of a shared server.
  await db.query(`SET pg_stat_statements.track = 'none'`).catch(() => {})
  const samples: Record<string, number[]> = Object.fromEntries(LAYOUTS.map((l) => [l.name, []]))
  try {
    for (const layout of LAYOUTS) {
      await db.query(`CREATE TABLE "t_${layout.name.replace('-', '_')}" (id bigserial PRIMARY KEY, a int, b int, c int, s text)`)
    }
    for (const layout of LAYOUTS) {
      const table = `"t_${layout.name.replace('-', '_')}"`
      await db.query(`INSERT INTO ${table} (a, b, c, s) ${ROWS_SQL(PRELOAD)}`)
      for (const [i, cols] of layout.indexes.entries()) await db.query(`CREATE INDEX "${layout.name.replace('-', '_')}_${i}" ON ${table} ${cols}`)
      await db.query(`VACUUM ANALYZE ${table}`)
    }
    for (let r = 0; r < REPEATS + 1; r++) {
      for (const layout of LAYOUTS) {
        const table = `"t_${layout.name.replace('-', '_')}"`
        await db.query('BEGIN')
        await db.query(`CREATE TEMP TABLE IF NOT EXISTS bench_timing (ms float8) ON COMMIT DROP`)
        await db.query(`DO $$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
            INSERT INTO ${table} (a, b, c, s) ${ROWS_SQL(N)};
            INSERT INTO bench_timing VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000); END $$`)
        const [{ms}] = (await db.query('SELECT ms FROM bench_timing')).rows
        await db.query('ROLLBACK')
        if (r > 0) samples[layout.name].push(Number(ms)) // the first round warms the caches
      }
    }
    // Rolled-back inserts leave dead tuples and index entries: later layouts' samples stay comparable because
    // every layout had the same number of rounds; VACUUM before the planner part.
    for (const layout of LAYOUTS) await db.query(`VACUUM ANALYZE "t_${layout.name.replace('-', '_')}"`)

    const none = median(samples.none)
    const perRow = (name: string, indexes: number) => samples[name].map((ms) => ((ms - none) * 1000) / N / indexes)
    const layouts = LAYOUTS.map((l) => {
      const perIndex = l.indexes.length ? perRow(l.name, l.indexes.length) : []
      return {
        layout: l.name, indexes: l.indexes, samplesMs: samples[l.name].map((x) => round(x, 1)), medianMs: round(median(samples[l.name]), 1),
        ...(perIndex.length ? {usPerRowPerIndex: {median: round(median(perIndex)), p25: round(quantile(perIndex, 0.25)), p75: round(quantile(perIndex, 0.75)), min: round(Math.min(...perIndex)), max: round(Math.max(...perIndex))}} : {}),
      }
    })

    // Planner time per cost unit on cached data: plans that indexes replace (seq scan + filter) and what they
    // become (index lookups).
    const planQueries = [
      {name: 'seq scan with filter', sql: `SELECT count(*) FROM "t_int" WHERE c = 42`, setup: 'SET enable_indexscan = off; SET enable_bitmapscan = off; SET max_parallel_workers_per_gather = 0'},
      {name: 'index lookups (nested loop)', sql: `SELECT count(*) FROM generate_series(1, 20000) g JOIN "t_int" t ON t.a = g * 50000`, setup: 'SET enable_hashjoin = off; SET enable_mergejoin = off; SET max_parallel_workers_per_gather = 0'},
    ]
    const planner = []
    for (const q of planQueries) {
      await db.query('BEGIN')
      await db.query(q.setup.split('; ').map((s) => s.replace('SET ', 'SET LOCAL ')).join('; '))
      const ratios: number[] = []
      for (let r = 0; r < REPEATS + 1; r++) {
        const [row] = (await db.query(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${q.sql}`)).rows
        const plan = row['QUERY PLAN'][0]
        const ms = Number(plan['Execution Time'])
        const cost = Number(plan.Plan['Total Cost'])
        if (r > 0) ratios.push((ms * 1000) / cost)
      }
      await db.query('ROLLBACK')
      planner.push({plan: q.name, sql: q.sql, usPerCostUnit: {median: round(median(ratios)), min: round(Math.min(...ratios)), max: round(Math.max(...ratios))}})
    }

    const btree = layouts.filter((l) => l.usPerRowPerIndex && l.layout !== 'text32').map((l) => l.usPerRowPerIndex!.median)
    const usPerRow = median(btree)
    const usPerCost = planner[0].usPerCostUnit.median
    const result = {
      benchmark: 'index-maintenance',
      date: new Date().toISOString(),
      machine: {cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, server: (await db.query('SHOW server_version')).rows[0].server_version},
      method: 'per layout: fresh table preloaded with PRELOAD random rows, then INSERT ... SELECT of N random rows timed server-side and rolled back; layouts interleaved; first round discarded; per-row per-index = (median - median without indexes) / N / indexes. Planner: EXPLAIN ANALYZE (TIMING OFF) execution time / total cost on cached data.',
      rows: N, repeats: REPEATS, preload: PRELOAD,
      layouts,
      planner,
      figure: {
        usPerRowPerIndex: round(usPerRow),
        usPerCostUnit: round(usPerCost),
        costUnitsPerRowPerIndex: round(usPerRow / usPerCost, 2),
        note: 'usPerRowPerIndex: median over the int, int3 and three-int layouts; usPerCostUnit: the seq-scan plan',
      },
    }
    writeFileSync(new URL('../results/index-maintenance.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
    console.log(JSON.stringify({layouts: layouts.map((l) => ({layout: l.layout, medianMs: l.medianMs, usPerRowPerIndex: l.usPerRowPerIndex})), planner, figure: result.figure}, null, 2))
  } finally {
    await db.end()
    const drop = new pg.Client({connectionString: PRIMARY_URL, application_name: 'chokepoint-bench'})
    await drop.connect()
    await drop.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await drop.end()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
