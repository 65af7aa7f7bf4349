/**
 * Core benchmarks; results in bench/results/core.json.
 *
 * (a) Audit at scale. Databases on the test primary (scripts/test-env.sh, PRIMARY_URL of test/helpers/pg.ts), named after
 *     CP_BENCH_DB_PREFIX (default cp_bench_core): <prefix> (1,000 small tables with two secondary indexes each,
 *     2,000 distinct statements in pg_stat_statements), <prefix>_medium (100 tables) and <prefix>_small (10 tables)
 *     as baselines of the same run, and <prefix>_huge (20,000 tables; 50,000 statements asked for, as many as
 *     pg_stat_statements.max leaves room for). The large and huge databases are also audited as <prefix>_monitor,
 *     a pg_monitor role that may read no table (how monitoring is often granted). Audited with window 0,
 *     alternately, ROUNDS times each:
 *       - in-process with runAudit (dist/core/audit.js): wall time and SQL round trips (report.overhead, the
 *         CommandLog), which must not grow with the number of tables;
 *       - as a user runs it, `node bin/run.js audit --pg URL --window 0 --format json` in a child process:
 *         wall time and peak RSS (maxrss.mjs, preloaded, records process.resourceUsage().maxRSS at exit).
 *     With --compare DIR, the build in DIR (a checkout with dist/ and bin/, e.g. the commit before a change) is
 *     audited in the same rounds, and `beforeAfter` sets the two side by side.
 *     Budgets: CLI wall < 1.5 s and peak RSS < 200 MB on the 1,000-table database.
 * (b) Startup. `chokepoint --version` and `--help` against a bare oclif hello-world CLI configured the same
 *     way (bench/core/hello-oclif: ESM, manifest, no plugins or hooks, the repository's @oclif/core), and bare
 *     `node -e 0`; each run STARTUP_RUNS times, interleaved so that machine noise hits all alike; medians.
 *     Budget: chokepoint within 1.2x of hello-oclif.
 *
 * Run: npm run build && npx tsx bench/core/run.ts [--rounds N] [--startup-runs N] [--only audit|startup|prepare]
 *      [--compare DIR] [--huge-tables N] [--huge-statements N]
 * The audit part needs the test primary (bash scripts/test-env.sh up); without it, it is skipped with a message.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {prepareDatabase as prepareOn, query, withDatabase, type PreparedDatabase} from './databases.js'
import {PRIMARY_URL} from '../../test/helpers/pg.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const HELLO = join(ROOT, 'bench', 'core', 'hello-oclif')
const MAXRSS_PRELOAD = pathToFileURL(join(ROOT, 'bench', 'core', 'maxrss.mjs')).href
const SERVER_URL = process.env.CP_BENCH_PG ?? PRIMARY_URL
const RESULTS = join(ROOT, 'bench', 'results', 'core.json')

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const ROUNDS = Number(arg('rounds', '5'))
const STARTUP_RUNS = Number(arg('startup-runs', '30'))
const ONLY = arg('only', 'all')
/** Another build (a checkout with dist/ and bin/, e.g. of the commit before a change) audited in the same rounds. */
const COMPARE = process.argv.includes('--compare') ? resolve(arg('compare', '')) : undefined
/** Database names: the default is shared by everyone who runs the benchmark on this server; set it to keep your own. */
const DB_PREFIX = process.env.CP_BENCH_DB_PREFIX ?? 'cp_bench_core'
/** The huge case asks for 50,000 statements; pg_stat_statements.max on the test primary (10,000) holds fewer. */
const HUGE = {tables: Number(arg('huge-tables', '20000')), statements: Number(arg('huge-statements', '50000'))}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
const log = (message: string) => process.stderr.write(`[bench/core] ${message}\n`)
const prepareDatabase = (name: string, tables: number, statements?: number) => prepareOn(SERVER_URL, log, name, tables, statements)

interface InProcessRun {
  wallMs: number
  roundTrips: number
  roundTripsByProbe: Record<string, number>
  probeMs: Record<string, number>
  readings: number
  findings: number
  probeErrors: number
}

async function auditInProcess(url: string, build = ROOT): Promise<InProcessRun> {
  const {runAudit} = (await import(pathToFileURL(join(build, 'dist', 'index.js')).href)) as typeof import('../../src/index.js')
  const started = performance.now()
  const {report, snapshot} = await runAudit({targets: [{name: 'bench', kind: 'postgres', url}], windowSeconds: 0, failOn: 'never'})
  const wallMs = performance.now() - started
  const overhead = report.overhead?.find((o) => o.target === 'bench')
  const roundTripsByProbe: Record<string, number> = {}
  for (const c of overhead?.commands ?? []) roundTripsByProbe[c.probe] = (roundTripsByProbe[c.probe] ?? 0) + c.count
  return {
    wallMs,
    roundTrips: overhead?.roundTrips ?? NaN,
    roundTripsByProbe,
    probeMs: Object.fromEntries(snapshot.readings.map((r) => [r.probe, r.durationMs])),
    readings: snapshot.readings.length,
    findings: report.findings.length,
    probeErrors: report.skipped.filter((s) => s.status === 'error').length,
  }
}

interface ChildRun {
  wallMs: number
  maxRssMB: number
  exitCode: number | null
  roundTrips?: number
}

/** Runs node with the peak-RSS preload; wall time from spawn to exit, as a user experiences it. */
function runNode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildRun & {stdout: string; stderr: string}> {
  const dir = mkdtempSync(join(tmpdir(), 'cp-bench-'))
  const rssFile = join(dir, 'maxrss')
  return new Promise((resolvePromise, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, ['--import', MAXRSS_PRELOAD, ...args], {
      cwd: ROOT,
      env: {...process.env, ...env, BENCH_MAXRSS_FILE: rssFile, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      const wallMs = performance.now() - started
      const maxRssKiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : NaN
      rmSync(dir, {recursive: true, force: true})
      resolvePromise({wallMs, maxRssMB: maxRssKiB / 1024, exitCode: code, stdout, stderr})
    })
  })
}

async function auditCli(url: string, build = ROOT): Promise<ChildRun> {
  const run = await runNode([join(build, 'bin', 'run.js'), 'audit', '--pg', url, '--window', '0', '--format', 'json'])
  let roundTrips: number | undefined
  try {
    roundTrips = (JSON.parse(run.stdout) as {overhead?: Array<{roundTrips: number}>}).overhead?.[0]?.roundTrips
  } catch {
    throw new Error(`audit CLI did not print a JSON report (exit ${run.exitCode}): ${run.stderr.slice(0, 500)}`)
  }
  return {wallMs: run.wallMs, maxRssMB: run.maxRssMB, exitCode: run.exitCode, roundTrips}
}

function sameExcept(a: Record<string, number>, b: Record<string, number>, except: string): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...keys].every((k) => k === except || a[k] === b[k])
}

function summarise<T extends Record<string, any>>(runs: T[], keys: Array<keyof T>): Record<string, number> {
  const out: Record<string, number> = {runs: runs.length}
  for (const key of keys) out[`median${String(key)[0].toUpperCase()}${String(key).slice(1)}`] = round(median(runs.map((r) => Number(r[key]))), 1)
  return out
}

type DbName = 'small' | 'medium' | 'large' | 'huge'
/** An audit case: a database, audited as the superuser, or (…Monitor) as a pg_monitor role that may read no table. */
type CaseName = DbName | 'largeMonitor' | 'hugeMonitor'
const CASES: Array<{name: CaseName; db: DbName; monitor?: true; cli?: true}> = [
  {name: 'small', db: 'small', cli: true},
  {name: 'medium', db: 'medium'},
  {name: 'large', db: 'large', cli: true},
  {name: 'huge', db: 'huge', cli: true},
  {name: 'largeMonitor', db: 'large', monitor: true},
  {name: 'hugeMonitor', db: 'huge', monitor: true, cli: true},
]
/** Cluster-wide: one monitoring role for all the databases of this prefix. */
const MONITOR_ROLE = `${DB_PREFIX}_monitor`

interface BuildRuns {
  inProcess: Record<CaseName, InProcessRun[]>
  cli: Partial<Record<CaseName, ChildRun[]>>
}

const emptyRuns = (): BuildRuns => ({
  inProcess: Object.fromEntries(CASES.map((c) => [c.name, []])) as unknown as Record<CaseName, InProcessRun[]>,
  cli: Object.fromEntries(CASES.filter((c) => c.cli).map((c) => [c.name, []])),
})

function inProcessSummary(runs: InProcessRun[]) {
  return {
    ...summarise(runs, ['wallMs']),
    roundTrips: [...new Set(runs.map((r) => r.roundTrips))],
    readings: runs[0].readings,
    findings: runs[0].findings,
    probeErrors: runs[0].probeErrors,
    roundTripsByProbe: runs[0].roundTripsByProbe,
    medianProbeMs: Object.fromEntries(Object.keys(runs[0].probeMs).map((p) => [p, median(runs.map((r) => r.probeMs[p]))])),
  }
}

function cliSummary(runs: ChildRun[]) {
  return {...summarise(runs, ['wallMs', 'maxRssMB']), roundTrips: [...new Set(runs.map((r) => r.roundTrips))], exitCodes: [...new Set(runs.map((r) => r.exitCode))]}
}

const sameRoundTrips = (a: InProcessRun[], b: InProcessRun[]) => {
  const x = new Set(a.map((r) => r.roundTrips))
  const y = new Set(b.map((r) => r.roundTrips))
  return x.size === 1 && y.size === 1 && [...x][0] === [...y][0]
}

const asRole = (url: string, role: string) => {
  const u = new URL(url)
  u.username = role
  u.password = ''
  return u.toString()
}

async function benchAudit(): Promise<Record<string, unknown>> {
  try {
    await query(SERVER_URL, 'SELECT 1')
  } catch (error) {
    log(`audit: skipped: the test primary at ${SERVER_URL} does not answer (${(error as Error).message}); start it with: bash scripts/test-env.sh up`)
    return {skipped: `test primary not reachable at ${SERVER_URL}`}
  }
  const builds: Array<{name: 'after' | 'before'; root: string}> = [{name: 'after', root: ROOT}]
  if (COMPARE) builds.push({name: 'before', root: COMPARE})
  for (const b of builds) {
    if (!existsSync(join(b.root, 'dist', 'core', 'audit.js'))) throw new Error(`${b.root}/dist is missing: run \`npm run build\` there first`)
  }
  const cliAvailable = builds.every((b) => existsSync(join(b.root, 'dist', 'commands', 'audit.js')))
  const dbs: Record<DbName, PreparedDatabase> = {
    large: await prepareDatabase(DB_PREFIX, 1000),
    small: await prepareDatabase(`${DB_PREFIX}_small`, 10),
    // 100 tables: past the plans probe's statement cap (100), so 100 -> 1,000 tables isolates growth with tables.
    medium: await prepareDatabase(`${DB_PREFIX}_medium`, 100),
    // Prepared last: what pg_stat_statements.max leaves after the others is what it may fill.
    huge: await prepareDatabase(`${DB_PREFIX}_huge`, HUGE.tables, HUGE.statements),
  }
  // How monitoring is often set up: pg_monitor (all the statistics views) and no SELECT on the application's tables.
  await query(SERVER_URL, `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${MONITOR_ROLE}') THEN
      CREATE ROLE ${MONITOR_ROLE} LOGIN IN ROLE pg_monitor; END IF; END $$`)
  log(`databases ready: ${Object.entries(dbs).map(([k, d]) => `${k} ${d.tables} tables, ${d.statements} statements (${d.setupSeconds} s)`).join('; ')}`)
  if (ONLY === 'prepare') return {prepared: Object.fromEntries(Object.entries(dbs).map(([k, d]) => [k, {...d, url: undefined}]))}

  const urlOf = (c: (typeof CASES)[number]) => (c.monitor ? asRole(dbs[c.db].url, MONITOR_ROLE) : dbs[c.db].url)
  // Warm-up (module loading, catalog caches on the server), not counted.
  for (const b of builds) for (const c of CASES) await auditInProcess(urlOf(c), b.root)
  const runs = {after: emptyRuns(), before: emptyRuns()}
  const bareNode: ChildRun[] = []
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    // Builds alternate inside each round, so that load on the shared machine hits both alike.
    for (const c of CASES) for (const b of builds) runs[b.name].inProcess[c.name].push(await auditInProcess(urlOf(c), b.root))
    if (cliAvailable) {
      const bare = await runNode(['-e', '0'])
      bareNode.push({wallMs: bare.wallMs, maxRssMB: bare.maxRssMB, exitCode: bare.exitCode})
      for (const c of CASES.filter((x) => x.cli)) for (const b of builds) runs[b.name].cli[c.name]!.push(await auditCli(urlOf(c), b.root))
    }
    const last = (b: 'after' | 'before', c: CaseName) => `${runs[b].inProcess[c].at(-1)!.roundTrips} rt ${Math.round(runs[b].inProcess[c].at(-1)!.wallMs)} ms`
    log(`audit round ${round_}/${ROUNDS}: ${builds.map((b) => `${b.name}: large ${last(b.name, 'large')}, huge ${last(b.name, 'huge')}, huge as monitor ${last(b.name, 'hugeMonitor')}`).join('; ')}`)
  }

  const report = (r: BuildRuns) => {
    const cliLarge = summarise(r.cli.large!, ['wallMs', 'maxRssMB'])
    return {
      inProcess: {
        ...Object.fromEntries(CASES.map((c) => [c.name, inProcessSummary(r.inProcess[c.name])])),
        // Every probe but postgres.plans issues a fixed number of queries; plans EXPLAINs each workload statement
        // up to its cap (maxStatements, 100), so it grows with the statements of a small workload, never with tables.
        roundTripsSame100To1000Tables: sameRoundTrips(r.inProcess.medium, r.inProcess.large),
        roundTripsSame1000To20000Tables: sameRoundTrips(r.inProcess.large, r.inProcess.huge),
        roundTripsSame10To1000TablesExceptPlans: sameExcept(r.inProcess.small[0].roundTripsByProbe, r.inProcess.large[0].roundTripsByProbe, 'postgres.plans'),
        allWallMs: Object.fromEntries(CASES.map((c) => [c.name, r.inProcess[c.name].map((x) => Math.round(x.wallMs))])),
      },
      cli: cliAvailable
        ? {
            command: 'node bin/run.js audit --pg <url> --window 0 --format json',
            ...Object.fromEntries(Object.entries(r.cli).map(([c, runs_]) => [c, cliSummary(runs_!)])),
            bareNode: summarise(bareNode, ['wallMs', 'maxRssMB']),
            allWallMs: {...Object.fromEntries(Object.entries(r.cli).map(([c, runs_]) => [c, runs_!.map((x) => Math.round(x.wallMs))])),
              bareNode: bareNode.map((x) => Math.round(x.wallMs))},
            budget: {wallMs: 1500, maxRssMB: 200, wallOk: cliLarge.medianWallMs < 1500, rssOk: cliLarge.medianMaxRssMB < 200},
          }
        : {skipped: 'dist/commands/audit.js not built yet'},
    }
  }
  const after = report(runs.after)
  const before = COMPARE ? report(runs.before) : undefined
  const medianOf = (xs: number[]) => round(median(xs), 1)
  const pick = (r: BuildRuns, c: CaseName) => ({
    roundTrips: [...new Set(r.inProcess[c].map((x) => x.roundTrips))],
    inProcessMedianWallMs: medianOf(r.inProcess[c].map((x) => x.wallMs)),
    ...(cliAvailable && r.cli[c] ? {cliMedianWallMs: medianOf(r.cli[c]!.map((x) => x.wallMs)), cliMedianMaxRssMB: medianOf(r.cli[c]!.map((x) => x.maxRssMB))} : {}),
  })
  return {
    databases: Object.fromEntries((['small', 'medium', 'large', 'huge'] as const).map((c) => [c, {
      name: dbs[c].name, tables: dbs[c].tables, indexes: 3 * dbs[c].tables, pgStatStatementsEntries: dbs[c].statements,
      ...(dbs[c].statementsRun < dbs[c].statementsRequested ? {statementsRequested: dbs[c].statementsRequested, statementsRun: dbs[c].statementsRun} : {}),
    }])),
    monitorRole: {name: MONITOR_ROLE, grants: 'pg_monitor only: no SELECT on the benchmark tables'},
    ...after,
    ...(before
      ? {
          before: {build: COMPARE, ...before},
          beforeAfter: {
            note: 'before = the build given with --compare, after = this checkout; both audited in the same rounds, alternately. Medians.',
            tables1000: {before: pick(runs.before, 'large'), after: pick(runs.after, 'large')},
            tables20000: {before: pick(runs.before, 'huge'), after: pick(runs.after, 'huge')},
            tables1000AsMonitor: {before: pick(runs.before, 'largeMonitor'), after: pick(runs.after, 'largeMonitor')},
            tables20000AsMonitor: {before: pick(runs.before, 'hugeMonitor'), after: pick(runs.after, 'hugeMonitor')},
          },
        }
      : {}),
  }
}

function timeOnce(args: string[]): number {
  const started = performance.now()
  const result = spawnSync(process.execPath, args, {cwd: ROOT, stdio: 'ignore', env: {...process.env, NO_COLOR: '1'}})
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}`)
  return performance.now() - started
}

async function benchStartup(): Promise<Record<string, unknown>> {
  if (!existsSync(join(ROOT, 'oclif.manifest.json'))) throw new Error('oclif.manifest.json is missing: run `npm run build` first')
  if (!existsSync(join(HELLO, 'oclif.manifest.json'))) {
    log('generating the hello-oclif manifest (npx oclif manifest)')
    execFileSync('npx', ['oclif', 'manifest'], {cwd: HELLO, stdio: 'ignore'})
  }
  const cases: Record<string, string[]> = {
    bareNode: ['-e', '0'],
    helloVersion: [join(HELLO, 'bin', 'run.js'), '--version'],
    chokepointVersion: [join(ROOT, 'bin', 'run.js'), '--version'],
    helloHelp: [join(HELLO, 'bin', 'run.js'), '--help'],
    chokepointHelp: [join(ROOT, 'bin', 'run.js'), '--help'],
    // The build given with --compare, in the same rotation: startup before and after a change.
    ...(COMPARE ? {beforeVersion: [join(COMPARE, 'bin', 'run.js'), '--version'], beforeHelp: [join(COMPARE, 'bin', 'run.js'), '--help']} : {}),
  }
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
  for (const args of Object.values(cases)) timeOnce(args) // warm the file cache
  const names = Object.keys(cases)
  for (let i = 0; i < STARTUP_RUNS; i++) {
    // Rotate the order every run, so no case always follows the same neighbour.
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j) % names.length]
      times[name].push(timeOnce(cases[name]))
    }
  }
  const medians = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, round(median(v))]))
  const ratio = (a: string, b: string) => round(medians[a] / medians[b], 2)
  const result = {
    runsEach: STARTUP_RUNS,
    medianMs: medians,
    ratio: {version: ratio('chokepointVersion', 'helloVersion'), help: ratio('chokepointHelp', 'helloHelp'),
      ...(COMPARE ? {versionAfterOverBefore: ratio('chokepointVersion', 'beforeVersion'), helpAfterOverBefore: ratio('chokepointHelp', 'beforeHelp')} : {})},
    overBareNodeMs: {
      hello: round(medians.helloVersion - medians.bareNode),
      chokepointVersion: round(medians.chokepointVersion - medians.bareNode),
      chokepointHelp: round(medians.chokepointHelp - medians.bareNode),
    },
    budget: {ratio: 1.2},
    allMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map((x) => Math.round(x))])),
  }
  log(`startup medians (ms): ${JSON.stringify(medians)}; ratios ${JSON.stringify(result.ratio)}`)
  return result
}

async function main(): Promise<void> {
  const startLoad = loadavg().map((x) => round(x, 2))
  let postgres: string | undefined
  try {
    postgres = (await query<{v: string}>(SERVER_URL, 'SELECT version() AS v'))[0].v
  } catch {
    postgres = undefined
  }
  const previous = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>) : {}
  const audit = ONLY === 'startup' ? previous.audit : await benchAudit()
  // Preparing the databases only (they take minutes to seed the first time): nothing measured, nothing written.
  if (ONLY === 'prepare') {
    process.stdout.write(`${JSON.stringify(audit, null, 2)}\n`)
    return
  }
  const startup = ONLY === 'audit' ? previous.startup : await benchStartup()
  const results = {
    generatedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      node: process.version,
      postgres,
      loadAverageAtStart: startLoad,
      loadAverageAtEnd: loadavg().map((x) => round(x, 2)),
      note: 'Two cores shared with other engineers\' test runs: compare numbers with the baselines of the same run, not across runs.',
    },
    method: [
      `Audit: window 0, one postgres target, every probe and advisor of the build. Large = 1,000 tables x (primary key + 2 indexes), 2,000 distinct statements run once each; medium = 100 tables, 200 statements; small = 10 tables, 20 statements (baselines in the same run); huge = ${HUGE.tables} tables, ${HUGE.statements} statements asked for, as many run as pg_stat_statements.max leaves room for (statementsRun). The setup DDL runs untracked (pg_stat_statements.track = none). *Monitor cases: the same database audited as a pg_monitor role with no SELECT on its tables.`,
      `In-process: runAudit from dist/core/audit.js, after one unmeasured warm-up each; ${ROUNDS} alternating rounds; medians. Round trips from report.overhead (the CommandLog).`,
      'CLI: node bin/run.js audit --pg <url> --window 0 --format json as a child process; wall from spawn to exit; peak RSS from process.resourceUsage().maxRSS at exit (bench/core/maxrss.mjs preloaded with --import). Bare `node -e 0` with the same preload is the floor.',
      `Startup: ${STARTUP_RUNS} runs of each case, interleaved with a rotating order, after one warm-up each; medians. hello-oclif is a bare @oclif/core 4 CLI with one command and a manifest, using the same node_modules.`,
    ],
    audit,
    startup,
  }
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`)
  log(`written ${RESULTS}`)
  process.stdout.write(`${JSON.stringify({audit: results.audit, startup: (results.startup as {medianMs?: unknown; ratio?: unknown})}, (k, v) => (k === 'allWallMs' || k === 'allMs' ? undefined : v), 2)}\n`)
}

await main()
