/**
 * What the scaling advisors (issue 12: read replicas, cache-aside, shard keys, N+1) and the probes they brought add
 * to an audit of 1,000 tables and 2,000 statements; results in bench/results/scaling-advisors.json.
 *
 * The database is bench/core's `cp_bench_core` (bench/core/databases.ts: 1,000 tables of 50 rows with two secondary
 * indexes each, 2,000 distinct statements in pg_stat_statements), created or completed first. Each round audits it
 * live with window 0, in-process (dist/), twice in alternating order:
 *   - with: the built-in registry as shipped;
 *   - without (the baseline of the same run): the same registry without the scaling advisors, and with their
 *     probes skipped.
 * Every advisor is timed around its advise() call (a wrapped loader), every probe from its reading's durationMs.
 * Reported: medians of the audit wall time with and without, their difference, and the medians of each scaling
 * advisor's and probe's own time. Budget (issue 12): the advisors add under 0.5 s. The machine has 2 shared cores:
 * the per-part timings are the steadier figure; the wall-time difference swings with other load.
 *
 * A second case lists every statement to the advisors (statementsLimit 2,000; the default lists 50) and asks for the
 * shard plan (--shard-plan 32), so the 2,000 statements all reach them: `everyStatement`.
 *
 * Run: npm run build && npx tsx bench/scaling-advisors/run.ts [--rounds N]
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {PRIMARY_URL} from '../../test/helpers/pg.js'
import {prepareDatabase, query} from '../core/databases.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RESULTS = join(ROOT, 'bench', 'results', 'scaling-advisors.json')
const SERVER_URL = process.env.CP_BENCH_PG ?? PRIMARY_URL
const DB = process.env.CP_BENCH_DB_PREFIX ?? 'cp_bench_core'
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const ROUNDS = Number(arg('rounds', '7'))
const BUDGET_MS = 500

/** The parts issue 12 added: its advisors, and the probes that feed only them. */
export const SCALING_ADVISORS = ['read-replica', 'cache-aside', 'shard-key', 'n-plus-one']
export const SCALING_PROBES: string[] = ['postgres.column-stats', 'postgres.wal']

const log = (message: string) => process.stderr.write(`[bench/scaling-advisors] ${message}\n`)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

type Dist = typeof import('../../src/index.js')
type Plugin = Dist['builtinPlugin']

/** The built-in plugin with each advisor's advise() timed into `times`, and without the scaling parts when `scaling` is false. */
function variant(dist: Dist, scaling: boolean, times: Map<string, number[]>): Plugin {
  const plugin = dist.builtinPlugin
  const advisors = (plugin.advisors ?? [])
    .filter((a) => scaling || !SCALING_ADVISORS.includes(a.id))
    .map((a) => ({...a, load: async () => {
      const advisor = await a.load()
      return {...advisor, advise: async (ctx: Parameters<typeof advisor.advise>[0]) => {
        const started = performance.now()
        try {
          return await advisor.advise(ctx)
        } finally {
          const list = times.get(a.id) ?? []
          list.push(performance.now() - started)
          times.set(a.id, list)
        }
      }}
    }}))
  return {...plugin, advisors}
}

/**
 * The target options of a case: as shipped (50 statements listed), or `every` statement listed (statementsLimit
 * 2,000, so the advisors see the whole workload) with the shard plan asked for (--shard-plan 32: the shard-key
 * advisor's full path, parsing and scoring every table, whatever the verdict).
 */
const CASE_OPTIONS = {shipped: {}, every: {statementsLimit: 2000, shardPlan: 32}} as const

async function audit(dist: Dist, url: string, scaling: boolean, advisorMs: Map<string, number[]>, probeMs: Map<string, number[]>, options: Record<string, unknown> = CASE_OPTIONS.shipped) {
  const registry = new dist.Registry([variant(dist, scaling, advisorMs)])
  const started = performance.now()
  const {report, snapshot} = await dist.runAudit({
    targets: [{name: 'bench', kind: 'postgres', url, options}], windowSeconds: 0, failOn: 'never', registry,
    config: scaling ? {} : {skipProbes: SCALING_PROBES},
  })
  const wallMs = performance.now() - started
  for (const r of snapshot.readings) {
    const list = probeMs.get(r.probe) ?? []
    list.push(r.durationMs)
    probeMs.set(r.probe, list)
  }
  const failed = report.skipped.filter((s) => s.status === 'error').map((s) => `${s.probe}: ${s.reason}`)
  return {wallMs, findings: report.findings.length, failed, verdict: report.verdict?.path}
}

async function main(): Promise<void> {
  try {
    await query(SERVER_URL, 'SELECT 1')
  } catch (error) {
    log(`the test primary is not reachable (${(error as Error).message}): run bash scripts/test-env.sh up`)
    process.exit(1)
  }
  const db = await prepareDatabase(SERVER_URL, log, DB, 1000)
  log(`${db.name}: ${db.tables} tables, ${db.statements} statements in pg_stat_statements`)
  const dist = (await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)) as Dist
  const missing = SCALING_ADVISORS.filter((id) => !(dist.builtinPlugin.advisors ?? []).some((a) => a.id === id))
  if (missing.length) log(`not registered in this build: ${missing.join(', ')}`)

  const withAdvisorMs = new Map<string, number[]>(), withProbeMs = new Map<string, number[]>()
  const withoutAdvisorMs = new Map<string, number[]>(), withoutProbeMs = new Map<string, number[]>()
  const wall = {with: [] as number[], without: [] as number[], everyWith: [] as number[], everyWithout: [] as number[]}
  const everyAdvisorMs = new Map<string, number[]>(), everyProbeMs = new Map<string, number[]>()
  let last: Awaited<ReturnType<typeof audit>> | undefined
  // One warm-up of each, not counted: module loading and the server's caches.
  await audit(dist, db.url, true, new Map(), new Map())
  await audit(dist, db.url, false, new Map(), new Map())
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? [true, false] : [false, true]
    for (const scaling of order) {
      const run = await audit(dist, db.url, scaling, scaling ? withAdvisorMs : withoutAdvisorMs, scaling ? withProbeMs : withoutProbeMs)
      wall[scaling ? 'with' : 'without'].push(run.wallMs)
      if (scaling) last = run
      const every = await audit(dist, db.url, scaling, scaling ? everyAdvisorMs : new Map(), scaling ? everyProbeMs : new Map(), CASE_OPTIONS.every)
      wall[scaling ? 'everyWith' : 'everyWithout'].push(every.wallMs)
    }
    log(`round ${i + 1}/${ROUNDS}: with ${round(wall.with.at(-1)!)} ms, without ${round(wall.without.at(-1)!)} ms`)
  }
  const medians = (m: Map<string, number[]>, ids: string[]) => Object.fromEntries(ids.filter((id) => m.has(id)).map((id) => [id, round(median(m.get(id)!), 2)]))
  const advisorsMs = medians(withAdvisorMs, SCALING_ADVISORS)
  const probesMs = medians(withProbeMs, SCALING_PROBES)
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0)
  const partsMs = round(sum(advisorsMs) + sum(probesMs), 2)
  const everyAdvisorsMs = medians(everyAdvisorMs, SCALING_ADVISORS)
  const everyProbesMs = medians(everyProbeMs, SCALING_PROBES)
  const everyPartsMs = round(sum(everyAdvisorsMs) + sum(everyProbesMs), 2)
  const result = {
    benchmark: 'scaling-advisors',
    date: new Date().toISOString(),
    machine: {cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map((x) => round(x, 2)), node: process.version},
    method: 'live in-process audits (window 0) of a 1,000-table, 2,000-statement database, with and without the scaling advisors and probes, alternating, medians',
    database: {name: db.name, tables: db.tables, statements: db.statements},
    rounds: ROUNDS,
    auditMs: {with: round(median(wall.with)), without: round(median(wall.without)), added: round(median(wall.with) - median(wall.without))},
    scalingAdvisorsMs: advisorsMs,
    scalingProbesMs: probesMs,
    scalingPartsMs: partsMs,
    everyStatement: {
      options: CASE_OPTIONS.every,
      auditMs: {with: round(median(wall.everyWith)), without: round(median(wall.everyWithout)), added: round(median(wall.everyWith) - median(wall.everyWithout))},
      scalingAdvisorsMs: everyAdvisorsMs,
      scalingProbesMs: everyProbesMs,
      scalingPartsMs: everyPartsMs,
      withinBudget: everyPartsMs < BUDGET_MS,
    },
    otherAdvisorsMs: medians(withAdvisorMs, [...withAdvisorMs.keys()].filter((id) => !SCALING_ADVISORS.includes(id))),
    budgetMs: BUDGET_MS,
    withinBudget: partsMs < BUDGET_MS,
    lastRun: last ? {findings: last.findings, verdict: last.verdict, failed: last.failed} : null,
  }
  mkdirSync(dirname(RESULTS), {recursive: true})
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`)
  log(`scaling advisors + probes: ${partsMs} ms as shipped, ${everyPartsMs} ms with every statement listed and --shard-plan 32 (budget ${BUDGET_MS}); audit ${result.auditMs.with} ms with, ${result.auditMs.without} ms without`)
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}

await main()
