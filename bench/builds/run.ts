/**
 * This build against an earlier one, in the same run: the CLI audit of the core benchmark's databases (wall time,
 * peak RSS, SQL round trips) and CLI startup (`--version`, `--help`). Results in bench/results/builds.json.
 *
 * The baseline is a git revision (--baseline-rev, default the last commit before the plugin registry) checked out
 * into a temporary worktree with this checkout's node_modules, and built there; or an already built checkout
 * (--baseline-dir). Runs alternate between the two builds (A B B A ...), so machine noise hits both alike;
 * medians and ratios are reported.
 *
 * Prerequisites: npm run build; the core benchmark's databases on the test primary (npx tsx bench/core/run.ts
 * --only audit creates them once).
 *
 * Run: npx tsx bench/builds/run.ts [--baseline-rev REV | --baseline-dir DIR] [--rounds N] [--startup-runs N]
 */
import {execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {PRIMARY_URL, withDatabase} from '../../test/helpers/pg.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MAXRSS_PRELOAD = pathToFileURL(join(ROOT, 'bench', 'core', 'maxrss.mjs')).href
const RESULTS = join(ROOT, 'bench', 'results', 'builds.json')
const SERVER_URL = process.env.CP_BENCH_PG ?? PRIMARY_URL
const DATABASES = [{name: 'cp_bench_core_small', tables: 10}, {name: 'cp_bench_core', tables: 1000}]

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const ROUNDS = Number(arg('rounds', '6'))
const STARTUP_RUNS = Number(arg('startup-runs', '20'))
const BASELINE_REV = arg('baseline-rev', '99168e5')
const BASELINE_DIR = arg('baseline-dir', '')

const median = (xs: number[]) => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
const log = (message: string) => process.stderr.write(`[bench/builds] ${message}\n`)

interface Build {
  label: 'baseline' | 'current'
  root: string
  revision: string
}

function prepareBaseline(): {build: Build; cleanup: () => void} {
  if (BASELINE_DIR) {
    if (!existsSync(join(BASELINE_DIR, 'dist', 'commands'))) throw new Error(`--baseline-dir ${BASELINE_DIR} has no dist/: build it first`)
    return {build: {label: 'baseline', root: BASELINE_DIR, revision: git(BASELINE_DIR, 'rev-parse', '--short', 'HEAD')}, cleanup: () => {}}
  }
  const dir = mkdtempSync(join(tmpdir(), 'cp-bench-baseline-'))
  log(`checking out ${BASELINE_REV} into ${dir} and building it`)
  git(ROOT, 'worktree', 'add', '--detach', dir, BASELINE_REV)
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  execFileSync('npm', ['run', 'build'], {cwd: dir, stdio: 'ignore', env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'}})
  return {
    build: {label: 'baseline', root: dir, revision: git(dir, 'rev-parse', '--short', 'HEAD')},
    cleanup: () => {
      git(ROOT, 'worktree', 'remove', '--force', dir)
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {cwd, encoding: 'utf8'}).trim()
}

interface ChildRun {
  wallMs: number
  maxRssMB: number
  stdout: string
  exitCode: number | null
}

function runCli(build: Build, args: string[]): Promise<ChildRun> {
  const dir = mkdtempSync(join(tmpdir(), 'cp-bench-'))
  const rssFile = join(dir, 'maxrss')
  return new Promise((resolvePromise, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, ['--import', MAXRSS_PRELOAD, join(build.root, 'bin', 'run.js'), ...args], {
      cwd: build.root,
      env: {...process.env, BENCH_MAXRSS_FILE: rssFile, NO_COLOR: '1', OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    let stdout = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      const wallMs = performance.now() - started
      const maxRssMB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) / 1024 : NaN
      rmSync(dir, {recursive: true, force: true})
      resolvePromise({wallMs, maxRssMB, stdout, exitCode: code})
    })
  })
}

async function compare(builds: Build[], args: string[], runs: number, parse?: (stdout: string) => Record<string, number>) {
  const samples = new Map(builds.map((b) => [b.label, [] as Array<ChildRun & Record<string, unknown>>]))
  await runCli(builds[0], args)
  await runCli(builds[1], args)
  for (let i = 0; i < runs; i++) {
    // A B B A: neither build always runs right after the other.
    for (const build of i % 2 === 0 ? builds : [...builds].reverse()) {
      const run = await runCli(build, args)
      samples.get(build.label)!.push({...run, ...parse?.(run.stdout)})
    }
  }
  const summary = (label: Build['label']) => {
    const list = samples.get(label)!
    return {
      runs: list.length,
      medianWallMs: round(median(list.map((r) => r.wallMs))),
      medianMaxRssMB: round(median(list.map((r) => r.maxRssMB))),
      ...(parse ? {medianRoundTrips: median(list.map((r) => Number(r.roundTrips)))} : {}),
      exitCodes: [...new Set(list.map((r) => r.exitCode))],
    }
  }
  const baseline = summary('baseline')
  const current = summary('current')
  return {baseline, current, wallRatio: round(current.medianWallMs / baseline.medianWallMs, 3), rssRatio: round(current.medianMaxRssMB / baseline.medianMaxRssMB, 3)}
}

const roundTripsOf = (stdout: string) => {
  try {
    return {roundTrips: (JSON.parse(stdout) as {overhead?: Array<{roundTrips: number}>}).overhead?.[0]?.roundTrips ?? NaN}
  } catch {
    return {roundTrips: NaN}
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'commands'))) throw new Error('dist/ is missing: npm run build first')
  const {build: baseline, cleanup} = prepareBaseline()
  const builds: Build[] = [baseline, {label: 'current', root: ROOT, revision: git(ROOT, 'rev-parse', '--short', 'HEAD')}]
  try {
    const audits: Record<string, unknown> = {}
    for (const db of DATABASES) {
      const url = withDatabase(SERVER_URL, db.name)
      log(`audit of ${db.name} (${db.tables} tables), ${ROUNDS} runs per build`)
      audits[db.name] = {tables: db.tables, ...await compare(builds, ['audit', '--pg', url, '--window', '0', '--format', 'json'], ROUNDS, roundTripsOf)}
    }
    log(`startup, ${STARTUP_RUNS} runs per build and command`)
    const startup = {
      version: await compare(builds, ['--version'], STARTUP_RUNS),
      help: await compare(builds, ['--help'], STARTUP_RUNS),
    }
    const results = {
      benchmark: 'builds',
      date: new Date().toISOString(),
      machine: {cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map((l) => round(l, 2)), node: process.version},
      method: 'Alternating child processes of both builds (A B B A ...), after one warm-up each; medians. Audit: `audit --pg URL --window 0 --format json` on the core benchmark databases; peak RSS from process.resourceUsage().maxRSS (bench/core/maxrss.mjs).',
      baseline: {revision: baseline.revision},
      current: {revision: builds[1].revision},
      audits,
      startup,
    }
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`)
    log(`written ${RESULTS}`)
    process.stdout.write(`${JSON.stringify({audits, startup}, null, 2)}\n`)
  } finally {
    cleanup()
  }
}

await main()
