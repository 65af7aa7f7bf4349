/**
 * Read-replica advisor benchmark; results in bench/results/read-replica.json.
 *
 * Issue 12 asks that the scaling advisors together add under 0.5 s to an audit of 1,000 tables and 2,000
 * statements. This advisor makes no round trip: it parses the statements the postgres.statements reading lists
 * (50 by default, statementsLimit up to 10,000) and walks the snapshot's other readings once. The case is a
 * snapshot built in memory with N statements over 1,000 tables (reads with joins and CTEs, point reads that read
 * back the inserts of their table, writes, locking reads), advised after one warm-up (the parser's load is
 * measured apart, as `parserLoadMs`). Baseline of the same run: libpg-query's parseSync over the same texts, the
 * floor of any classification. Budget: 2,000 statements under 150 ms, under a third of the whole budget.
 *
 * Run: npx tsx bench/read-replica/run.ts [--rounds N]
 */
import {writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseSync} from 'libpg-query'
import {readReplicaAdvisor} from '../../src/advisors/read-replica.js'
import type {AdvisorContext} from '../../src/core/advisor.js'
import {rulesByTarget} from '../../src/core/audit.js'
import type {Reading, Snapshot} from '../../src/core/types.js'
import {builtinRegistry} from '../../src/builtin.js'
import {ensureParser} from '../../src/knowledge/postgres/workload.js'
import type {StatementRow, StatementsData} from '../../src/readings/postgres.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RESULTS = join(ROOT, 'bench', 'results', 'read-replica.json')
const BUDGET_MS = 150
const SIZES = [50, 500, 2000]
const TABLES = 1000

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const ROUNDS = Number(arg('rounds', '9'))
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

function statementText(i: number): string {
  const t = `t${i % TABLES}`
  const u = `t${(i * 7 + 3) % TABLES}`
  switch (i % 6) {
    case 0: return `SELECT a.id, a.name, b.total FROM ${t} a JOIN ${u} b ON b.${t}_id = a.id WHERE a.category = $1 ORDER BY b.total DESC LIMIT $2`
    case 1: return `SELECT id, payload FROM ${t} WHERE id = $1`
    case 2: return `INSERT INTO ${t} (name, payload) VALUES ($1, $2) RETURNING id`
    case 3: return `SELECT ${t}_id, sum(total) FROM ${u} WHERE created_at > $1 GROUP BY ${t}_id`
    case 4: return `SELECT * FROM ${t} WHERE id = $1 FOR UPDATE`
    default: return `WITH recent AS (SELECT id FROM ${t} WHERE created_at > now() - $1::interval) SELECT count(*) FROM recent JOIN ${u} USING (id)`
  }
}

function snapshotWith(n: number): {snapshot: Snapshot; readings: Reading[]} {
  const statements: StatementRow[] = Array.from({length: n}, (_, i) => ({
    // Reads (shapes 0, 1, 3, 5) take most of the time, as on a read-heavy primary, so the whole path runs: a proposal.
    queryid: String(1_000_000 + i), query: statementText(i), calls: 100 + (i % 50) * 10, totalMs: [0, 1, 3, 5].includes(i % 6) ? 150 : 30, meanMs: 0.5,
    stddevMs: 0.1, maxMs: 5 + (i % 9), rows: 100, sharedBlksHit: 0, sharedBlksRead: 0, sharedBlksDirtied: 0, sharedBlksWritten: 0,
    tempBlksRead: 0, tempBlksWritten: 0, share: 1 / n, toplevel: true, database: 'shop', user: 'app',
  }))
  const totalMs = statements.reduce((x, s) => x + s.totalMs, 0)
  const data: StatementsData = {database: 'shop', windowSeconds: 5, since: null, statements, statementsActive: n, totalMs, hiddenStatements: 0, deallocations: 0}
  const at = new Date().toISOString()
  const reading = (probe: string, d: unknown, metrics: Reading['metrics'] = []): Reading =>
    ({target: 'pg', probe, status: 'ok', data: d, metrics, startedAt: at, durationMs: 1} as unknown as Reading)
  const readings = [
    reading('postgres.statements', data),
    reading('postgres.connections', {}, [{name: 'pool.utilization', value: 0.2, subject: 'max_connections', evidence: {active: 4}}]),
    reading('postgres.replication', {role: 'primary', standbys: [], slots: []}),
    reading('postgres.wal', {inRecovery: false, walBytesPerSecond: 1e5, walRecordsPerSecond: 1e3, walFpiPerSecond: 0, walBytes: 5e5, seconds: 5,
      basis: 'window', maxStandbyStreamingDelayMs: 30_000, hotStandbyFeedback: false}),
  ]
  const snapshot = {schemaVersion: 1, capturedAt: at, windowSeconds: 5, targets: [{name: 'pg', kind: 'postgres', url: 'postgres://db.example/shop', status: 'ok', facts: {role: 'primary'}}],
    readings} as unknown as Snapshot
  return {snapshot, readings}
}

async function main() {
  const parserStart = performance.now()
  await ensureParser()
  const parserLoadMs = performance.now() - parserStart
  const registry = builtinRegistry()
  // As the audit gives advisors their rules: compiled once per target.
  const rules = rulesByTarget({}, registry)
  const cases = []
  // Warm the JIT on the largest case first, so the smallest is not measured on cold code.
  {
    const {snapshot, readings} = snapshotWith(SIZES[SIZES.length - 1])
    await readReplicaAdvisor.advise({snapshot, target: snapshot.targets[0], readings, live: new Map(), rules, options: {readReplica: {cpuCores: 4}}, log: () => {}})
  }
  for (const n of SIZES) {
    const {snapshot, readings} = snapshotWith(n)
    const ctx: AdvisorContext = {snapshot, target: snapshot.targets[0], readings, live: new Map(), rules,
      options: {readReplica: {cpuCores: 4}}, log: () => {}}
    const findings = await readReplicaAdvisor.advise(ctx)
    const advise: number[] = []
    const floor: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      let t0 = performance.now()
      await readReplicaAdvisor.advise(ctx)
      advise.push(performance.now() - t0)
      t0 = performance.now()
      for (const s of (readings[0].data as StatementsData).statements) parseSync(s.query)
      floor.push(performance.now() - t0)
    }
    const ms = median(advise)
    cases.push({statements: n, tables: TABLES, ms: round(ms), parseFloorMs: round(median(floor)), overFloor: round(ms / median(floor)),
      findings: findings.map((f) => `${f.rule} ${f.severity}`), withinBudget: ms < BUDGET_MS})
    process.stderr.write(`[bench/read-replica] ${n} statements: ${round(ms)} ms (parse floor ${round(median(floor))} ms)\n`)
  }
  const result = {
    benchmark: 'read-replica',
    date: new Date().toISOString(),
    machine: {cpus: cpus().length, model: cpus()[0]?.model.split(' ').slice(0, 2).join(' '), loadavg: loadavg().map((x) => round(x)), node: process.version},
    method: `readReplicaAdvisor.advise on an in-memory snapshot of N statements over ${TABLES} tables (six shapes), median of ${ROUNDS} rounds after a warm-up (and one of the largest case before any); parseFloorMs: libpg-query parseSync over the same texts in the same round. Budget: ${BUDGET_MS} ms at 2000 statements.`,
    budgetMs: BUDGET_MS,
    parserLoadMs: round(parserLoadMs),
    allWithinBudget: cases.every((c) => c.withinBudget),
    cases,
  }
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`)
  if (!result.allWithinBudget) process.exitCode = 1
}

await main()
