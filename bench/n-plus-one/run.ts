/**
 * N+1 advisor benchmark; results in bench/results/n-plus-one.json.
 *
 * Issue 12 asks that the scaling advisors together add under 0.5 s to an audit of 1,000 tables and 2,000
 * statements. The N+1 advisor runs no query: its cost is parsing the statements of the postgres.statements reading
 * and pairing each foreign-key lookup with the readers of its parent table. Each case is a hand-built reading (the
 * advisor sees only readings) of T tables in a chain of foreign keys (t_i.parent_id -> t_{i-1}.id) with two
 * statements per table: a lookup by the foreign key and a listing. `few`: one lookup in T/5 follows its parent's rows
 * (4 findings); `all`: every one does (T - 1 findings, the worst case: a finding and a rewrite per table); `none`: the
 * lookups are as hot, but no listing returns rows near their calls (a healthy database: nothing is parsed).
 *
 * Baseline of the same run: `parseOnlyMs`, extractShapeSync over the same statements and catalog, what parsing alone
 * costs on this machine now (the index advisor pays it too). Scaling: time(2,000 statements) / time(200) near 10 is
 * linear. Run: npx tsx bench/n-plus-one/run.ts [--rounds N]
 */
import {writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {nPlusOneAdvisor} from '../../src/advisors/n-plus-one.js'
import type {AdvisorContext} from '../../src/core/advisor.js'
import {SNAPSHOT_SCHEMA_VERSION, type Reading, type Snapshot} from '../../src/core/types.js'
import {columnsOf, type CatalogFacts, type TableFacts} from '../../src/knowledge/postgres/catalog.js'
import {extractShapeSync} from '../../src/knowledge/postgres/parse.js'
import {ensureParser} from '../../src/knowledge/postgres/workload.js'
import type {StatementRow, StatementsData} from '../../src/readings/postgres.js'
import {builtinRegistry} from '../../src/builtin.js'
import {effectiveRules} from '../../src/core/config.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RESULTS = join(ROOT, 'bench', 'results', 'n-plus-one.json')
const BUDGET_MS = 500
const WINDOW = 10

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const ROUNDS = Number(arg('rounds', '7'))
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
const log = (message: string) => process.stderr.write(`[bench/n-plus-one] ${message}\n`)

function row(queryid: string, query: string, calls: number, rows: number, totalMs: number): StatementRow {
  return {queryid, query, calls, rows, totalMs, meanMs: totalMs / calls, stddevMs: 0, maxMs: 0, sharedBlksHit: 0, sharedBlksRead: 0, sharedBlksDirtied: 0,
    sharedBlksWritten: 0, tempBlksRead: 0, tempBlksWritten: 0, share: 0, toplevel: true, database: 'bench', user: 'app'}
}

/** T tables chained by foreign keys, two statements each; `paired` lookups follow their parent listing's rows. */
function workload(tables: number, paired: (i: number) => boolean): {catalog: CatalogFacts; statements: StatementRow[]} {
  const facts: Record<string, TableFacts> = {}
  const statements: StatementRow[] = []
  for (let i = 0; i < tables; i++) {
    const name = `t${i}`
    facts[`public.${name}`] = {key: `public.${name}`, schema: 'public', name, rows: 1000, pages: 10, sizeBytes: 81920, writes: 0, writeRate: 0, partitioned: false,
      columns: ['id', 'parent_id', 'a'].map((c) => ({name: c, type: 'bigint', nDistinct: null, nullFrac: null, avgWidth: 8})),
      foreignKeys: i > 0 ? [{name: `fk${i}`, columns: ['parent_id'], references: `public.t${i - 1}`, referencedSchema: 'public', referencedTable: `t${i - 1}`, referencedColumns: ['id']}] : []}
    statements.push(row(`c${i}`, `SELECT * FROM t${i} WHERE parent_id = $1`, 5000, 5000, 100))
    // The listing of t_i is the parent of t_{i+1}'s lookup: its rows match those calls only where paired.
    statements.push(row(`p${i}`, `SELECT id, a FROM t${i} WHERE a > $1 ORDER BY id LIMIT 50`, 100, paired(i + 1) ? 5000 : 500, 10))
  }
  return {catalog: {tables: facts, indexes: [], extensions: [], searchPath: ['public'], statsSeconds: 3600,
    settings: {workMemBytes: 4 << 20, randomPageCost: 4, seqPageCost: 1, blockSize: 8192}}, statements}
}

function context(catalog: CatalogFacts, statements: StatementRow[]): AdvisorContext {
  const totalMs = statements.reduce((s, r) => s + r.totalMs, 0)
  const data: StatementsData = {database: 'bench', windowSeconds: WINDOW, since: null, statements, frequent: [], statementsActive: statements.length, totalMs,
    hiddenStatements: 0, deallocations: null}
  const reading = (probe: string, d: unknown): Reading => ({target: 'pg', probe, takenAt: '', durationMs: 0, status: 'ok', windowSeconds: WINDOW, data: d, metrics: []})
  const readings = [reading('postgres.statements', data), reading('postgres.plans', {source: 'pg_stat_statements', serverVersionNum: 150000, statements: [], catalog, explainMs: 0})]
  const snapshot: Snapshot = {schemaVersion: SNAPSHOT_SCHEMA_VERSION, tool: {name: 'chokepoint', version: 'bench'}, capturedAt: new Date().toISOString(),
    windowSeconds: WINDOW, targets: [{name: 'pg', kind: 'postgres', url: 'postgres://bench', status: 'ok'}], readings}
  const rules = builtinRegistry().rules()
  return {snapshot, target: snapshot.targets[0], readings, live: new Map(), rules: (t) => effectiveRules({}, t, rules), options: {}, log: () => {}}
}

async function timed(fn: () => unknown | Promise<unknown>): Promise<number> {
  await fn()  // warm-up
  const times: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const started = performance.now()
    await fn()
    times.push(performance.now() - started)
  }
  return median(times)
}

await ensureParser()
const cases: Array<{tables: number; statements: number; pairing: string; findings: number; ms: number; parseOnlyMs: number; withinBudget: boolean}> = []
for (const tables of [25, 100, 1000]) {
  const pairings = [['none', () => false], ['few', (i: number) => i % Math.floor(tables / 5) === 0 && i < tables], ['all', (i: number) => i < tables]] as const
  for (const [pairing, paired] of pairings) {
    const {catalog, statements} = workload(tables, paired)
    const ctx = context(catalog, statements)
    let findings = 0
    const ms = await timed(async () => {
      findings = (await nPlusOneAdvisor.advise(ctx)).length
    })
    const columns = columnsOf(catalog)
    const parseOnlyMs = await timed(() => statements.map((s) => extractShapeSync(s.query, columns)))
    cases.push({tables, statements: statements.length, pairing, findings, ms: round(ms), parseOnlyMs: round(parseOnlyMs), withinBudget: ms < BUDGET_MS})
    log(`${tables} tables, ${statements.length} statements, ${pairing}: ${findings} findings in ${round(ms)} ms (parsing alone ${round(parseOnlyMs)} ms)`)
  }
}
const at = (statements: number, pairing: string) => cases.find((c) => c.statements === statements && c.pairing === pairing)!.ms
const result = {
  benchmark: 'n-plus-one',
  date: new Date().toISOString(),
  machine: {cpus: cpus().length, model: cpus()[0]?.model.split(' ').slice(0, 2).join(' '), loadavg: loadavg().map((x) => round(x, 2)), node: process.version},
  method: `nPlusOneAdvisor.advise on hand-built readings (T tables chained by foreign keys, 2 statements per table; none: no lookup follows a parent, few: 4 do, all: every one does), median of ${ROUNDS} rounds after a warm-up. parseOnlyMs: extractShapeSync over the same statements, same run. scaling: time(2000 statements) / time(200). Budget: ${BUDGET_MS} ms, all of issue 12's advisors together.`,
  budgetMs: BUDGET_MS,
  scaling: {none: round(at(2000, 'none') / at(200, 'none')), few: round(at(2000, 'few') / at(200, 'few')), all: round(at(2000, 'all') / at(200, 'all'))},
  cases,
}
writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`)
log(`results in ${RESULTS}`)
