/**
 * Fleet benchmark; results in bench/results/fleet.json.
 * A 100-target fleet: 50 PostgreSQL databases created for the run on the harness primary (:25432) and 50 Redis
 * targets on the harness Redis (127.0.0.1:6379, logical databases 0..15 in turn), audited through runAudit (the
 * CLI's path: capture, rules, advisors) with --concurrency 8 and 1, alternated in the same run (8, 1, 8, 1, ...), the
 * medians compared. Then one audit at each of 2, 4 and 16 for where the gain flattens (the default's argument:
 * defaultConcurrency in src/core/limiter.ts). Twice: with window 0 (counters since the last reset: the wall time is
 * the targets' connects, probes and the advisors, CPU-bound on a small machine) and with a 1 s window (each target
 * sleeps it once in its turn, as every audit does: waiting, which concurrency overlaps). The peak of simultaneous connections to the PostgreSQL server from this
 * benchmark is read from pg_stat_activity every 50 ms. The databases are dropped at the end, on failure too.
 * Run: npx tsx bench/fleet/run.ts   (BENCH_ROUNDS: rounds per concurrency, default 3; BENCH_WINDOWS: default 0,1)
 */
import {writeFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import pg from 'pg'
import {runAudit} from '../../src/index.js'
import {builtinRegistry} from '../../src/builtin.js'
import {newSecrets} from '../../src/cli/context.js'
import {defaultConcurrency} from '../../src/core/limiter.js'
import type {TargetSpec} from '../../src/core/types.js'
import {PRIMARY_URL, withDatabase} from '../../test/helpers/pg.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RESULTS = join(ROOT, 'bench', 'results', 'fleet.json')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
/** 0: the connects, probes and advisors alone; 1 s: each target also sleeps a (short) window in its turn, as audits do. */
const WINDOWS = (process.env.BENCH_WINDOWS ?? '0,1').split(',').map(Number)
const PG_DATABASES = 50
const REDIS_TARGETS = 50
const REDIS_URL = 'redis://127.0.0.1:6379'
const PREFIX = 'chokepoint_bench_fleet_'

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({connectionString: PRIMARY_URL})
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

async function dropDatabases(): Promise<void> {
  await admin(async (c) => {
    const {rows} = await c.query<{datname: string}>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${PREFIX}%`])
    for (const {datname} of rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`)
  })
}

async function createDatabases(): Promise<string[]> {
  const names = Array.from({length: PG_DATABASES}, (_, i) => `${PREFIX}${String(i).padStart(2, '0')}`)
  await admin(async (c) => {
    for (const name of names) {
      await c.query(`CREATE DATABASE "${name}"`)
    }
  })
  // A table with an index and some rows in each, so the probes and advisors have something to read.
  for (const name of names) {
    const client = new pg.Client({connectionString: withDatabase(PRIMARY_URL, name)})
    await client.connect()
    await client.query('CREATE TABLE orders (id bigserial PRIMARY KEY, customer int, note text); CREATE INDEX orders_customer ON orders (customer);'
      + "INSERT INTO orders (customer, note) SELECT g % 100, 'n' FROM generate_series(1, 2000) g; ANALYZE orders;")
    await client.end()
  }
  return names
}

/** The most connections chokepoint held to the server at once while `work` ran (its driver's application_name). */
async function peakConnections<T>(work: () => Promise<T>): Promise<{result: T; peak: number}> {
  const watcher = new pg.Client({connectionString: PRIMARY_URL})
  await watcher.connect()
  let peak = 0
  let running = true
  const polling = (async () => {
    while (running) {
      const {rows} = await watcher.query<{n: string}>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname LIKE $1 AND backend_type = 'client backend'", [`${PREFIX}%`])
      peak = Math.max(peak, Number(rows[0].n))
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  try {
    return {result: await work(), peak}
  } finally {
    running = false
    await polling
    await watcher.end()
  }
}

async function main(): Promise<void> {
  await dropDatabases()
  const databases = await createDatabases()
  try {
    const targets: TargetSpec[] = [
      ...databases.map((db, i): TargetSpec => ({name: `pg-${String(i).padStart(2, '0')}`, kind: 'postgres', url: withDatabase(PRIMARY_URL, db), group: 'postgres'})),
      ...Array.from({length: REDIS_TARGETS}, (_, i): TargetSpec => ({name: `redis-${String(i).padStart(2, '0')}`, kind: 'redis', url: `${REDIS_URL}/${i % 16}`, group: 'redis'})),
    ]
    const registry = builtinRegistry()
    const audit = async (concurrency: number, windowSeconds: number) => {
      const started = performance.now()
      const {result, peak} = await peakConnections(() => runAudit({registry, secrets: newSecrets(), targets, windowSeconds, failOn: 'never', concurrency}))
      const wallMs = performance.now() - started
      const unread = result.report.targets.filter((t) => t.status !== 'ok').map((t) => `${t.name}: ${t.error}`)
      if (unread.length > 0) throw new Error(`targets not read at concurrency ${concurrency}: ${unread.slice(0, 3).join('; ')}`)
      process.stderr.write(`window ${windowSeconds}s, concurrency ${concurrency}: ${(wallMs / 1000).toFixed(2)} s, peak ${peak} PostgreSQL connections, fleet: ${result.report.fleet ? `${result.report.fleet.ok} ok` : 'none'}\n`)
      return {wallMs, peak}
    }
    const byWindow: Record<string, unknown> = {}
    for (const windowSeconds of WINDOWS) {
      // A warm-up audit, not counted: the first loads the drivers, probes and rules.
      await audit(8, windowSeconds)
      const runs: Record<'8' | '1', Array<{wallMs: number; peak: number}>> = {8: [], 1: []}
      for (let round = 0; round < ROUNDS; round++) {
        runs[8].push(await audit(8, windowSeconds))
        runs[1].push(await audit(1, windowSeconds))
      }
      const sweep: Record<string, {wallMs: number; peak: number}> = {}
      for (const c of [2, 4, 16]) sweep[c] = await audit(c, windowSeconds)
      const m8 = median(runs[8].map((r) => r.wallMs))
      const m1 = median(runs[1].map((r) => r.wallMs))
      byWindow[`window${windowSeconds}s`] = {
        windowSeconds,
        concurrency8: {medianWallMs: Math.round(m8), allWallMs: runs[8].map((r) => Math.round(r.wallMs)), peakPostgresConnections: Math.max(...runs[8].map((r) => r.peak))},
        concurrency1: {medianWallMs: Math.round(m1), allWallMs: runs[1].map((r) => Math.round(r.wallMs)), peakPostgresConnections: Math.max(...runs[1].map((r) => r.peak))},
        speedup8vs1: Math.round((m1 / m8) * 100) / 100,
        sweep: Object.fromEntries(Object.entries(sweep).map(([c, r]) => [c, {wallMs: Math.round(r.wallMs), peakPostgresConnections: r.peak}])),
      }
    }
    const results = {
      benchmark: 'fleet',
      measuredAt: new Date().toISOString(),
      machine: {cpus: availableParallelism(), node: process.version, defaultConcurrency: defaultConcurrency()},
      fleet: {targets: targets.length, postgresDatabases: PG_DATABASES, redisTargets: REDIS_TARGETS},
      rounds: ROUNDS,
      ...byWindow,
    }
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`)
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  } finally {
    await dropDatabases()
  }
}

await main()
