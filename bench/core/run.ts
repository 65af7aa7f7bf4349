/**
 * Core benchmarks; results in bench/results/core.json.
 *
 * (a) Audit at scale. Two databases on the test primary (scripts/test-env.sh, PRIMARY_URL of test/helpers/pg.ts):
 *     cp_bench_core (1,000 small tables with two secondary indexes each, 2,000 distinct statements in
 *     pg_stat_statements) and cp_bench_core_small (10 tables, 20 statements: the baseline of the same run).
 *     Audited with window 0, alternately, ROUNDS times each:
 *       - in-process with runAudit (dist/core/audit.js): wall time and SQL round trips (report.overhead, the
 *         CommandLog), which must not grow with the number of tables;
 *       - as a user runs it, `node bin/run.js audit --pg URL --window 0 --format json` in a child process:
 *         wall time and peak RSS (maxrss.mjs, preloaded, records process.resourceUsage().maxRSS at exit).
 *     Budgets: CLI wall < 1.5 s and peak RSS < 200 MB on the 1,000-table database.
 * (b) Startup. `chokepoint --version` and `--help` against a bare oclif hello-world CLI configured the same
 *     way (bench/core/hello-oclif: ESM, manifest, no plugins or hooks, the repository's @oclif/core), and bare
 *     `node -e 0`; each run STARTUP_RUNS times, interleaved so that machine noise hits all alike; medians.
 *     Budget: chokepoint within 1.2x of hello-oclif.
 *
 * Run: npm run build && npx tsx bench/core/run.ts [--rounds N] [--startup-runs N] [--only audit|startup]
 * The audit part needs the test primary (bash scripts/test-env.sh up); without it, it is skipped with a message.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import pg from 'pg'
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
const log = (message: string) => process.stderr.write(`[bench/core] ${message}\n`)

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

async function query<T extends Record<string, any> = Record<string, any>>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({connectionString: url, application_name: 'chokepoint-bench'})
  await client.connect()
  try {
    return (await client.query<T>(text)).rows
  } finally {
    await client.end()
  }
}

const tableName = (i: number) => `bench_t${String(i).padStart(4, '0')}`

/**
 * Creates (or reuses, when it already has the right shape) a database of `tables` small tables, then runs
 * two distinct statements per table so that pg_stat_statements holds 2 x tables entries for it. Statements
 * run every time: on a shared server other databases' entries may have evicted ours.
 */
async function prepareDatabase(name: string, tables: number): Promise<{url: string; statements: number; setupSeconds: number}> {
  const started = Date.now()
  const url = withDatabase(SERVER_URL, name)
  const exists = (await query(SERVER_URL, `SELECT 1 FROM pg_database WHERE datname = '${name}'`)).length > 0
  let shaped = false
  if (exists) {
    const [row] = await query<{n: string}>(url, "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'bench_t%'")
    shaped = Number(row.n) === tables
  }
  if (!shaped) {
    log(`creating database ${name} with ${tables} tables`)
    await query(SERVER_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await query(SERVER_URL, `CREATE DATABASE ${name}`)
    await query(url, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
    // Batches of 100 tables per transaction: 3 relations a table, each locked until commit, must fit the lock table.
    for (let from = 1; from <= tables; from += 100) {
      const to = Math.min(from + 99, tables)
      await query(url, `DO $$ BEGIN FOR i IN ${from}..${to} LOOP
        EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, c text NOT NULL)', 'bench_t' || lpad(i::text, 4, '0'));
        EXECUTE format('CREATE INDEX ON %I (a)', 'bench_t' || lpad(i::text, 4, '0'));
        EXECUTE format('CREATE INDEX ON %I (b, c)', 'bench_t' || lpad(i::text, 4, '0'));
        EXECUTE format('INSERT INTO %I SELECT g, g %% 7, g %% 13, md5(g::text) FROM generate_series(1, 50) g', 'bench_t' || lpad(i::text, 4, '0'));
      END LOOP; END $$`)
    }
    await query(url, 'ANALYZE')
  }
  const statements: string[] = []
  for (let i = 1; i <= tables; i++) {
    statements.push(`SELECT id, c FROM ${tableName(i)} WHERE a = 3`, `SELECT count(*) FROM ${tableName(i)} WHERE b BETWEEN 2 AND 5`)
  }
  const client = new pg.Client({connectionString: url, application_name: 'chokepoint-bench'})
  await client.connect()
  try {
    // 100 statements a round trip (simple protocol): pg_stat_statements still records each one separately.
    for (let i = 0; i < statements.length; i += 100) await client.query(statements.slice(i, i + 100).join(';\n'))
    const [row] = (await client.query<{n: string}>(
      'SELECT count(*) AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())')).rows
    return {url, statements: Number(row.n), setupSeconds: round((Date.now() - started) / 1000)}
  } finally {
    await client.end()
  }
}

interface InProcessRun {
  wallMs: number
  roundTrips: number
  roundTripsByProbe: Record<string, number>
  probeMs: Record<string, number>
  readings: number
  findings: number
  probeErrors: number
}

async function auditInProcess(url: string): Promise<InProcessRun> {
  const {runAudit} = (await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)) as typeof import('../../src/index.js')
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

async function auditCli(url: string): Promise<ChildRun> {
  const run = await runNode([join(ROOT, 'bin', 'run.js'), 'audit', '--pg', url, '--window', '0', '--format', 'json'])
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

async function benchAudit(): Promise<Record<string, unknown>> {
  try {
    await query(SERVER_URL, 'SELECT 1')
  } catch (error) {
    log(`audit: skipped: the test primary at ${SERVER_URL} does not answer (${(error as Error).message}); start it with: bash scripts/test-env.sh up`)
    return {skipped: `test primary not reachable at ${SERVER_URL}`}
  }
  if (!existsSync(join(ROOT, 'dist', 'core', 'audit.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  const cliAvailable = existsSync(join(ROOT, 'dist', 'commands', 'audit.js'))
  const large = await prepareDatabase('cp_bench_core', 1000)
  const small = await prepareDatabase('cp_bench_core_small', 10)
  // 100 tables: past the plans probe's statement cap (100), so 100 -> 1,000 tables isolates growth with tables.
  const medium = await prepareDatabase('cp_bench_core_medium', 100)
  log(`databases ready: large ${large.statements} statements (${large.setupSeconds} s), small ${small.statements} statements`)

  // Warm-up (module loading, catalog caches on the server), not counted.
  await auditInProcess(small.url)
  await auditInProcess(large.url)
  const inProcess = {small: [] as InProcessRun[], medium: [] as InProcessRun[], large: [] as InProcessRun[]}
  const cli = {small: [] as ChildRun[], large: [] as ChildRun[]}
  const bareNode: ChildRun[] = []
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    inProcess.small.push(await auditInProcess(small.url))
    inProcess.medium.push(await auditInProcess(medium.url))
    inProcess.large.push(await auditInProcess(large.url))
    if (cliAvailable) {
      const bare = await runNode(['-e', '0'])
      bareNode.push({wallMs: bare.wallMs, maxRssMB: bare.maxRssMB, exitCode: bare.exitCode})
      cli.small.push(await auditCli(small.url))
      cli.large.push(await auditCli(large.url))
    }
    log(`audit round ${round_}/${ROUNDS}: in-process large ${Math.round(inProcess.large.at(-1)!.wallMs)} ms`
      + (cliAvailable ? `, CLI large ${Math.round(cli.large.at(-1)!.wallMs)} ms ${Math.round(cli.large.at(-1)!.maxRssMB)} MB` : ''))
  }
  const largeRoundTrips = [...new Set(inProcess.large.map((r) => r.roundTrips))]
  const mediumRoundTrips = [...new Set(inProcess.medium.map((r) => r.roundTrips))]
  const smallRoundTrips = [...new Set(inProcess.small.map((r) => r.roundTrips))]
  const detail = (runs: InProcessRun[]) => ({
    readings: runs[0].readings, findings: runs[0].findings, probeErrors: runs[0].probeErrors, roundTripsByProbe: runs[0].roundTripsByProbe,
    medianProbeMs: Object.fromEntries(Object.keys(runs[0].probeMs).map((p) => [p, median(runs.map((r) => r.probeMs[p]))])),
  })
  const cliLarge = summarise(cli.large, ['wallMs', 'maxRssMB'])
  return {
    databases: {
      large: {name: 'cp_bench_core', tables: 1000, indexes: 3000, pgStatStatementsEntries: large.statements},
      medium: {name: 'cp_bench_core_medium', tables: 100, indexes: 300, pgStatStatementsEntries: medium.statements},
      small: {name: 'cp_bench_core_small', tables: 10, indexes: 30, pgStatStatementsEntries: small.statements},
    },
    inProcess: {
      large: {...summarise(inProcess.large, ['wallMs']), roundTrips: largeRoundTrips, ...detail(inProcess.large)},
      medium: {...summarise(inProcess.medium, ['wallMs']), roundTrips: mediumRoundTrips, ...detail(inProcess.medium)},
      small: {...summarise(inProcess.small, ['wallMs']), roundTrips: smallRoundTrips, ...detail(inProcess.small)},
      // Every probe but postgres.plans issues a fixed number of queries; plans EXPLAINs each workload statement
      // up to its cap (maxStatements, 100), so it grows with the statements of a small workload, never with tables.
      roundTripsSame100To1000Tables: largeRoundTrips.length === 1 && mediumRoundTrips.length === 1 && largeRoundTrips[0] === mediumRoundTrips[0],
      roundTripsSame10To1000TablesExceptPlans: sameExcept(inProcess.small[0].roundTripsByProbe, inProcess.large[0].roundTripsByProbe, 'postgres.plans'),
      allWallMs: {large: inProcess.large.map((r) => Math.round(r.wallMs)), medium: inProcess.medium.map((r) => Math.round(r.wallMs)), small: inProcess.small.map((r) => Math.round(r.wallMs))},
    },
    cli: cliAvailable
      ? {
          command: 'node bin/run.js audit --pg <url> --window 0 --format json',
          large: {...cliLarge, roundTrips: [...new Set(cli.large.map((r) => r.roundTrips))], exitCodes: [...new Set(cli.large.map((r) => r.exitCode))]},
          small: {...summarise(cli.small, ['wallMs', 'maxRssMB']), roundTrips: [...new Set(cli.small.map((r) => r.roundTrips))]},
          bareNode: summarise(bareNode, ['wallMs', 'maxRssMB']),
          allWallMs: {large: cli.large.map((r) => Math.round(r.wallMs)), small: cli.small.map((r) => Math.round(r.wallMs)), bareNode: bareNode.map((r) => Math.round(r.wallMs))},
          budget: {wallMs: 1500, maxRssMB: 200, wallOk: cliLarge.medianWallMs < 1500, rssOk: cliLarge.medianMaxRssMB < 200},
        }
      : {skipped: 'dist/commands/audit.js not built yet'},
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
    ratio: {version: ratio('chokepointVersion', 'helloVersion'), help: ratio('chokepointHelp', 'helloHelp')},
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
      'Audit: window 0, one postgres target, every probe and advisor of the build. Large = 1,000 tables x (primary key + 2 indexes), 2,000 distinct statements run once each; medium = 100 tables, 200 statements; small = 10 tables, 20 statements (baselines in the same run). pgStatStatementsEntries also counts the setup DDL.',
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
