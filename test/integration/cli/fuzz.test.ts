/**
 * Fuzzing (issue 8): malformed config files, flags, snapshots and reports. Every input that breaks its contract must
 * end in exit 2 with one line naming the problem, within a time bound, never an "internal error" or a stack trace;
 * an input that keeps it (a snapshot whose free-form probe data was mangled) must still never crash.
 *
 * The documents are real: a snapshot and a JSON report of a live audit of a seeded scratch database (plus Redis),
 * mutated at paths chosen from their own structure (test/helpers/fuzz.ts). Thousands of cases run in process,
 * through the same functions the commands call; a bounded sample (CLI_CASES) runs through the built CLI, since each
 * spawn costs a few hundred milliseconds. CHOKEPOINT_FUZZ_SEED and CHOKEPOINT_FUZZ_SCALE vary and scale the runs.
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {stringify as yamlStringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {builtinRegistry} from '../../../src/builtin.js'
import {newSecrets, type CliContext} from '../../../src/cli/context.js'
import {resolveRun, type CommonFlags} from '../../../src/cli/options.js'
import {renderSaved} from '../../../src/cli/report.js'
import {analyseSnapshot, runAudit} from '../../../src/index.js'
import {UsageError} from '../../../src/core/errors.js'
import {renderReport} from '../../../src/core/render.js'
import type {Report, Snapshot} from '../../../src/core/types.js'
import {REPO_ROOT, runCli} from '../../helpers/cli.js'
import {breaksContract, documentCase, schemaOracle, usageProblem, type DocumentCase} from '../../helpers/fuzz.js'
import {adminQuery, PRIMARY_URL, quoteIdent, withDatabase} from '../../helpers/pg.js'

const SEED = Number(process.env.CHOKEPOINT_FUZZ_SEED ?? 20_261_201)
const SCALE = Number(process.env.CHOKEPOINT_FUZZ_SCALE ?? 1)
const IN_PROCESS = {snapshot: Math.round(400 * SCALE), report: Math.round(400 * SCALE), config: Math.round(1500 * SCALE), anyConfig: Math.round(400 * SCALE), flags: Math.round(300 * SCALE)}
/** Spawns of the built CLI, per kind of input: 200 in all by default, about a minute. */
const CLI_CASES = {snapshot: Math.round(60 * SCALE), report: Math.round(40 * SCALE), config: Math.round(60 * SCALE), flags: Math.round(40 * SCALE)}
/** A case in process, and a spawn of the CLI, must end within these. */
const IN_PROCESS_BOUND_MS = 5_000
const CLI_BOUND_MS = 10_000

const DB = 'cp_fz_fuzz'
const DB_URL = withDatabase(PRIMARY_URL, DB)
const REDIS_URL = 'redis://127.0.0.1:6379'
const REDIS_PREFIX = 'cp_fz_fuzz:'
const tmp = mkdtempSync(join(tmpdir(), 'chokepoint-fuzz-'))
const registry = builtinRegistry()
const oracle = schemaOracle()

let snapshot: Snapshot
let report: Report
let snapshotFile: string

const context = (): CliContext => ({registry, secrets: newSecrets()})
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'unit', 'core', 'fixtures', name), 'utf8'))

let fileCounter = 0
function file(text: string, ext = 'json'): string {
  const path = join(tmp, `case-${++fileCounter}.${ext}`)
  writeFileSync(path, text)
  return path
}

type Outcome = {status: 'ok'; exitCode: number} | {status: 'usage'; message: string} | {status: 'crash'; message: string}

/** Runs work as a command does, and says how the command would have ended (BaseCommand.catch decides the same). */
async function inProcess(work: () => Promise<unknown>): Promise<Outcome & {ms: number}> {
  const saved = process.exitCode
  const started = performance.now()
  try {
    await work()
    return {status: 'ok', exitCode: Number(process.exitCode ?? 0), ms: performance.now() - started}
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return {...error instanceof UsageError ? {status: 'usage' as const, message} : {status: 'crash' as const, message: `${(error as Error).name}: ${message}`}, ms: performance.now() - started}
  } finally {
    process.exitCode = saved
  }
}

interface Failure {
  input: string
  problem: string
}

function describeCase(c: DocumentCase): string {
  return c.kind === 'truncated' ? `truncated at ${c.at}` : JSON.stringify(c.mutations).slice(0, 300)
}

/** What a saved-document case must do: exit 2 on one line if it breaks the contract, and never crash. */
function judgeDocument(kind: 'snapshot' | 'report', c: DocumentCase, outcome: Outcome & {ms: number}, bound: number): string | undefined {
  if (outcome.ms > bound) return `took ${Math.round(outcome.ms)} ms`
  if (outcome.status === 'crash') return `crashed: ${outcome.message}`
  if (outcome.status === 'usage' && outcome.message.includes('\n')) return `several lines: ${outcome.message}`
  const mustFail = c.kind === 'truncated' || breaksContract(kind, c.mutations, c.doc) || !oracle[kind](c.doc)
  if (mustFail && outcome.status !== 'usage') return `accepted a document that breaks the contract (exit ${outcome.status === 'ok' ? outcome.exitCode : '?'})`
  if (outcome.status === 'ok' && ![0, 1, 3].includes(outcome.exitCode)) return `exit ${outcome.exitCode}`
  return undefined
}

beforeAll(async () => {
  // A small shop with what the probes and advisors look for: an unused and a duplicate index, sequential scans
  // on an unindexed foreign key, statements in pg_stat_statements; Redis keys with and without TTL.
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${quoteIdent(DB)} WITH (FORCE)`)
  await adminQuery(PRIMARY_URL, `CREATE DATABASE ${quoteIdent(DB)}`)
  await adminQuery(DB_URL, `
    CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
    CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, region text);
    CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text, total numeric, created_at timestamptz DEFAULT now());
    INSERT INTO customers SELECT g, 'c' || g || '@example.com', (ARRAY['eu','us','ap'])[1 + g % 3] FROM generate_series(1, 2000) g;
    INSERT INTO orders SELECT g, 1 + g % 2000, (ARRAY['new','paid','shipped'])[1 + g % 3], g % 500, now() - (g || ' minutes')::interval FROM generate_series(1, 20000) g;
    CREATE INDEX orders_status_idx ON orders (status);
    CREATE INDEX orders_status_dup_idx ON orders (status);
    ANALYZE;`)
  for (let i = 0; i < 30; i++) await adminQuery(DB_URL, 'SELECT count(*) FROM orders WHERE customer_id = $1', [i])
  const {Redis} = await import('ioredis')
  const redis = new Redis(REDIS_URL, {lazyConnect: true, maxRetriesPerRequest: 1})
  await redis.connect()
  const pipeline = redis.pipeline()
  for (let i = 0; i < 300; i++) {
    if (i % 3 === 0) pipeline.set(`${REDIS_PREFIX}session:${i}`, 'x'.repeat(100), 'EX', 3600)
    else pipeline.set(`${REDIS_PREFIX}cache:${i}`, 'y'.repeat(200))
  }
  await pipeline.exec()
  await redis.quit()

  const audit = await runAudit({
    targets: [
      {name: 'shop', kind: 'postgres', url: DB_URL, options: {indexAdvisor: {queries: [{sql: 'SELECT * FROM orders WHERE customer_id = 42', weight: 100}, {sql: "SELECT * FROM customers WHERE email = 'c1@example.com'"}]}}},
      {name: 'cache', kind: 'redis', url: REDIS_URL, options: {sampleKeys: 2000, scanPauseMs: 0}},
      {name: 'nowhere', kind: 'postgres', url: 'postgres://u:pw@127.0.0.1:1/x'},
    ],
    windowSeconds: 0, failOn: 'critical',
  })
  snapshot = JSON.parse(JSON.stringify(audit.snapshot))
  report = JSON.parse(await renderReport(audit.report, 'json', {registry, secrets: newSecrets()}))
  snapshotFile = file(JSON.stringify(snapshot))
  // Enough to mutate: readings with data, metrics, findings with remedies, checks.
  expect(snapshot.readings.filter((r) => r.status === 'ok').length).toBeGreaterThan(8)
  expect(report.findings.length).toBeGreaterThan(2)
}, 120_000)

afterAll(async () => {
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${quoteIdent(DB)} WITH (FORCE)`).catch(() => {})
  const {Redis} = await import('ioredis')
  const redis = new Redis(REDIS_URL, {lazyConnect: true, maxRetriesPerRequest: 1})
  await redis.connect().catch(() => {})
  const keys = await redis.keys(`${REDIS_PREFIX}*`).catch(() => [] as string[])
  if (keys.length) await redis.del(...keys)
  await redis.quit().catch(() => {})
})

describe('saved snapshots and reports, in process', () => {
  it.each([
    ['snapshot', () => snapshot, IN_PROCESS.snapshot],
    ['report', () => report, IN_PROCESS.report],
    // The committed version-1 files: a v1 report goes through the upgrade to v2 before it is rendered.
    ['snapshot', () => fixture('snapshot.v1.json'), IN_PROCESS.snapshot / 4],
    ['report', () => fixture('report.v1.json'), IN_PROCESS.report / 4],
  ] as const)('every mutated %s is refused on one line or read without a crash', async (kind, doc, runs) => {
    const cases = fc.sample(documentCase(doc()), {numRuns: runs, seed: SEED})
    const failures: Failure[] = []
    const advisorErrors: Failure[] = []
    let refused = 0
    const formats = ['table', 'json', 'markdown']
    for (const [i, c] of cases.entries()) {
      const path = file(c.text)
      const outcome = await inProcess(() => renderSaved(path, {format: formats[i % 3], output: join(tmp, 'out.txt')}, context()))
      if (outcome.status === 'usage') refused++
      const problem = judgeDocument(kind, c, outcome, IN_PROCESS_BOUND_MS)
      if (problem) failures.push({input: describeCase(c), problem})
      if (kind === 'snapshot' && outcome.status === 'ok' && c.kind === 'mutated') {
        // Mangled probe data must read as absent (design.md, section 2), not fail an advisor.
        const analysed = await analyseSnapshot(c.doc as Snapshot, {registry, secrets: newSecrets(), failOn: 'critical', source: 'snapshot'})
        for (const s of analysed.skipped) if (s.probe.startsWith('advisor.') && s.status === 'error') advisorErrors.push({input: describeCase(c), problem: `${s.probe}: ${s.reason}`})
      }
    }
    console.log(`fuzz ${kind} in process: ${cases.length} cases, ${refused} refused on one line, ${failures.length} failures, ${advisorErrors.length} advisor errors`)
    for (const f of advisorErrors.slice(0, 20)) console.log(JSON.stringify(f))
    expect(failures.slice(0, 10)).toEqual([])
    // The generator must produce both: documents that break the contract and documents that keep it.
    expect(refused).toBeGreaterThan(cases.length / 4)
    expect(refused).toBeLessThan(cases.length)
  }, 600_000)
})

/** A config that loads: the base every config case breaks in one place. */
const BASE_CONFIG = {
  window: '5s',
  failOn: 'critical',
  targets: [
    {name: 'primary', kind: 'postgres', url: 'postgres://app@127.0.0.1:1/shop', options: {statementTimeoutMs: 5000, indexAdvisor: {maxIndexes: 3, queries: [{sql: 'SELECT 1', weight: 2}]}}},
    {name: 'cache', kind: 'redis', url: 'redis://127.0.0.1:1', options: {sampleKeys: 100, queues: {maxQueues: 10, bullmqPrefixes: ['bull']}}},
  ],
  rules: {'latency/p95': {target: '< 300ms', action: '> 800ms'}, 'cache/hit-rate': 'warning', 'database/dead-tuples': 'off'},
  overrides: [{targets: ['replica-*'], rules: {'replication/lag': {action: '> 30s'}}}],
  options: {postgres: {cacheTopN: 5, poolChain: {dbCores: 4}}, prometheus: {timeoutMs: 1000, queries: {latencyP95: 'histogram_quantile(0.95, x)'}}},
  skipProbes: ['postgres.plans'],
}

type ConfigCase = {text: string; ext: 'yaml' | 'json'; what: string}

/** Object paths of the base config where any key not starting with `~` is unknown, a rule id or a kind. */
const OBJECT_PATHS: Array<Array<string | number>> = [[], ['targets', 0], ['targets', 0, 'options'], ['targets', 0, 'options', 'indexAdvisor'],
  ['targets', 0, 'options', 'indexAdvisor', 'queries', 0], ['targets', 1, 'options', 'queues'], ['rules'], ['rules', 'latency/p95'],
  ['overrides', 0], ['overrides', 0, 'rules'], ['options'], ['options', 'postgres'], ['options', 'postgres', 'poolChain'], ['options', 'prometheus', 'queries']]

/** Paths with the JSON types they accept; a value of any other type breaks the config. */
const TYPED_PATHS: Array<{path: Array<string | number>; accepts: string[]}> = [
  {path: ['window'], accepts: ['string', 'number']}, {path: ['failOn'], accepts: []}, {path: ['targets'], accepts: ['array']},
  {path: ['targets', 0], accepts: ['object']}, {path: ['targets', 0, 'name'], accepts: ['string']}, {path: ['targets', 0, 'kind'], accepts: []},
  {path: ['targets', 0, 'url'], accepts: ['string']}, {path: ['targets', 0, 'options'], accepts: ['object']},
  {path: ['targets', 0, 'options', 'statementTimeoutMs'], accepts: ['number']}, {path: ['targets', 0, 'options', 'indexAdvisor'], accepts: ['object']},
  {path: ['targets', 0, 'options', 'indexAdvisor', 'queries'], accepts: ['array']}, {path: ['targets', 0, 'options', 'indexAdvisor', 'queries', 0, 'sql'], accepts: ['string']},
  {path: ['targets', 1, 'options', 'sampleKeys'], accepts: ['number']}, {path: ['targets', 1, 'options', 'queues', 'bullmqPrefixes'], accepts: ['array']},
  {path: ['rules'], accepts: ['object']}, {path: ['rules', 'latency/p95'], accepts: ['object', 'string']}, {path: ['rules', 'latency/p95', 'target'], accepts: ['string', 'null']},
  {path: ['overrides'], accepts: ['array']}, {path: ['overrides', 0, 'targets'], accepts: ['array']}, {path: ['overrides', 0, 'targets', 0], accepts: ['string']},
  {path: ['options'], accepts: ['object']}, {path: ['options', 'postgres'], accepts: ['object']}, {path: ['options', 'postgres', 'poolChain', 'dbCores'], accepts: ['number']},
  {path: ['options', 'prometheus', 'queries', 'latencyP95'], accepts: ['string']}, {path: ['skipProbes'], accepts: ['array']}, {path: ['skipProbes', 0], accepts: []},
]

/** Bounded numeric options of the base config: a value outside [min, max], or a fraction where a whole number is due. */
const BOUNDED_PATHS: Array<{path: Array<string | number>; min: number; max: number}> = [
  {path: ['targets', 0, 'options', 'statementTimeoutMs'], min: 100, max: 600_000}, {path: ['targets', 0, 'options', 'indexAdvisor', 'maxIndexes'], min: 0, max: 1000},
  {path: ['targets', 1, 'options', 'sampleKeys'], min: 1, max: 1_000_000}, {path: ['targets', 1, 'options', 'queues', 'maxQueues'], min: 1, max: 100_000},
  {path: ['options', 'postgres', 'cacheTopN'], min: 1, max: 1000}, {path: ['options', 'prometheus', 'timeoutMs'], min: 100, max: 120_000},
  {path: ['options', 'postgres', 'poolChain', 'dbCores'], min: 1, max: 4096},
]

function setIn(doc: any, path: Array<string | number>, value: unknown): any {
  const copy = structuredClone(doc)
  let parent = copy
  for (const key of path.slice(0, -1)) parent = parent[key]
  parent[path[path.length - 1]] = value
  return copy
}

const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)

/** Config files that each break the contract in one place, as YAML or JSON. */
const brokenConfig: fc.Arbitrary<ConfigCase> = fc.oneof(
  // An unknown key, unicode and long ones included.
  fc.record({at: fc.constantFrom(...OBJECT_PATHS), key: fc.string({unit: 'grapheme', maxLength: 80}).map((k) => `~${k}`), ext: fc.constantFrom('yaml' as const, 'json' as const)})
    .map(({at, key, ext}) => {
      const doc = structuredClone(BASE_CONFIG) as any
      let node = doc
      for (const k of at) node = node[k]
      node[key] = 1
      return {text: ext === 'json' ? JSON.stringify(doc) : yamlStringify(doc), ext, what: `unknown key ${JSON.stringify(key).slice(0, 40)} at ${at.join('.')}`}
    }),
  // A value of a type the field does not take: nulls, lists, mappings, deep nesting, numbers where text is due.
  fc.record({typed: fc.constantFrom(...TYPED_PATHS), value: fc.oneof(fc.constantFrom<unknown>(null, true, [], {}, [1], {a: 1}, 1.5, -3, ''), fc.integer({min: 60, max: 300}).map((d) => JSON.parse('['.repeat(d) + ']'.repeat(d))))})
    .filter(({typed, value}) => !typed.accepts.includes(jsonType(value)) || (typed.path.at(-1) === 'name' && value === ''))
    .map(({typed, value}) => ({text: yamlStringify(setIn(BASE_CONFIG, typed.path, value)), ext: 'yaml' as const, what: `${typed.path.join('.')} = ${JSON.stringify(value).slice(0, 40)}`})),
  // A number out of bounds: huge, negative, fractional, or written as such a string.
  fc.record({bounded: fc.constantFrom(...BOUNDED_PATHS), pick: fc.oneof(fc.constant('below'), fc.constant('above'), fc.constant('fraction'), fc.constant('huge')), asString: fc.boolean()})
    .map(({bounded, pick, asString}) => {
      const n = pick === 'below' ? bounded.min - 1 : pick === 'above' ? bounded.max + 1 : pick === 'fraction' ? bounded.min + 0.5 : 1e300
      const value = asString ? String(n) : n
      return {text: yamlStringify(setIn(BASE_CONFIG, bounded.path, value)), ext: 'yaml' as const, what: `${bounded.path.join('.')} = ${JSON.stringify(value)}`}
    }),
  // YAML that is not well-formed, or means something else than it says.
  fc.constantFrom<ConfigCase>(
    {text: 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n', ext: 'yaml', what: 'an alias bomb'},
    {text: 'window: 5s\nwindow: 6s\n', ext: 'yaml', what: 'a duplicate key'},
    {text: 'failOn: !!foo critical\n', ext: 'yaml', what: 'an unknown tag'},
    {text: 'targets:\n\t- kind: postgres\n', ext: 'yaml', what: 'a tab'},
    {text: 'rules: [unclosed\n', ext: 'yaml', what: 'an unclosed list'},
    {text: `x: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, ext: 'yaml', what: 'deep nesting'},
    {text: `window: 5s\n${'  '.repeat(200)}x: 1\n`, ext: 'yaml', what: 'a stray indented key'},
    {text: '- just\n- a list\n', ext: 'yaml', what: 'a list at the top'},
    {text: '"a string"\n', ext: 'yaml', what: 'a string at the top'},
    {text: '\ufeff\u0000window: 5s\n', ext: 'yaml', what: 'a NUL byte'},
    {text: 'window: 5s\n---\nfailOn: never\n', ext: 'yaml', what: 'two documents'},
    {text: `{"x": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`, ext: 'json', what: 'deep JSON'},
  ),
  // JSON cut short.
  fc.integer({min: 1, max: JSON.stringify(BASE_CONFIG).length - 2}).map((at) => ({text: JSON.stringify(BASE_CONFIG).slice(0, at), ext: 'json' as const, what: `JSON truncated at ${at}`})),
)

/** Arbitrary JSON anywhere in the base config: may or may not load, must never crash what follows. */
const anyConfig: fc.Arbitrary<ConfigCase> = fc.record({
  at: fc.constantFrom(...TYPED_PATHS.map((t) => t.path), ...OBJECT_PATHS.filter((p) => p.length > 0)),
  value: fc.jsonValue({maxDepth: 4}),
}).map(({at, value}) => ({text: JSON.stringify(setIn(BASE_CONFIG, at, value)), ext: 'json' as const, what: `${at.join('.')} = ${JSON.stringify(value).slice(0, 60)}`}))

describe('config files, in process', () => {
  it('every broken config is refused on one line; any config either loads or is refused, and never crashes the analysis', async () => {
    const broken = fc.sample(brokenConfig, {numRuns: IN_PROCESS.config, seed: SEED})
    const any = fc.sample(anyConfig, {numRuns: IN_PROCESS.anyConfig, seed: SEED + 1})
    const failures: Failure[] = []
    let loaded = 0
    for (const [i, c] of [...broken, ...any].entries()) {
      const mustFail = i < broken.length
      const path = file(c.text, c.ext)
      const outcome = await inProcess(async () => {
        const run = await resolveRun({config: path}, {needTargets: false}, context())
        // What the config steers downstream: rules per target, overrides, skipProbes, options.
        await analyseSnapshot(snapshot, {registry, secrets: newSecrets(), config: run.config, failOn: run.failOn, source: 'snapshot', specs: run.targets})
      })
      if (outcome.status === 'ok') loaded++
      const problem = outcome.status === 'crash' ? `crashed: ${outcome.message}`
        : outcome.ms > IN_PROCESS_BOUND_MS ? `took ${Math.round(outcome.ms)} ms`
          : outcome.status === 'usage' && outcome.message.includes('\n') ? `several lines: ${outcome.message}`
            : mustFail && outcome.status !== 'usage' ? 'accepted' : undefined
      if (problem) failures.push({input: c.what, problem})
    }
    console.log(`fuzz config in process: ${broken.length} broken + ${any.length} arbitrary cases, ${loaded} loaded, ${failures.length} failures`)
    for (const f of new Map(failures.map((x) => [x.problem.slice(0, 60) + x.input.slice(0, 20), x])).values()) console.log(JSON.stringify(f))
    expect(failures.slice(0, 10)).toEqual([])
    expect(loaded).toBeGreaterThan(0)
  }, 600_000)
})

/** Flag values that are wrong; each case adds one or two to a command that works. */
const BAD_FLAGS: string[][] = [
  ['--window', 'soon'], ['--window', '-5s'], ['--window', '2h'], ['--window', '5x'], ['--window', ''], ['--window', '1e3'],
  ['--fail-on', 'fatal'], ['--fail-on', ''], ['--format', 'xml'], ['--format', ''],
  ['--index-budget', '-5MB'], ['--index-budget', '0'], ['--index-budget', 'lots'], ['--index-budget', '5%'], ['--index-budget', '9'.repeat(400)],
  ['--min-improvement', '-1%'], ['--min-improvement', '100%'], ['--min-improvement', 'abc'], ['--min-improvement', ''],
  ['--max-indexes', '-1'], ['--max-indexes', '1001'], ['--max-indexes', 'x'], ['--max-indexes', '1.5'],
  ['--config', '/nonexistent/chokepoint.yaml'], ['--config', '/tmp'], ['--queries', '/nonexistent/q.sql'],
  ['-o', '/nonexistent/dir/out.txt'], ['-o', '/tmp'], ['--nope'], ['--window'], ['extra-argument'],
]
const GOOD_FLAGS: string[][] = [[], ['--fail-on', 'never'], ['--format', 'json'], ['--window', '0'], ['--min-improvement', '20%'], ['--max-indexes', '3']]

const flagCase = fc.record({bad: fc.subarray(BAD_FLAGS, {minLength: 1, maxLength: 2}), good: fc.constantFrom(...GOOD_FLAGS), command: fc.constantFrom('audit', 'check')})

describe('flags, in process', () => {
  it('every bad flag value that reaches the run is refused on one line', async () => {
    // oclif parses flags before the run: these are the values it lets through (strings), checked by resolveRun.
    const parsed = new Set(['--window', '--index-budget', '--min-improvement', '--config', '--queries'])
    const cases = fc.sample(flagCase, {numRuns: IN_PROCESS.flags, seed: SEED}).filter((c) => c.bad.every(([flag, value]) => parsed.has(flag) && value !== undefined))
    const failures: Failure[] = []
    for (const c of cases) {
      const flags: CommonFlags = {}
      for (const [flag, value] of [...chunk(c.good), ...c.bad]) flags[flag.replace(/^--/, '')] = flag === '--max-indexes' ? Number(value) : value
      const outcome = await inProcess(() => resolveRun(flags, {needTargets: false}, context()))
      if (outcome.status !== 'usage' || outcome.message.includes('\n')) failures.push({input: JSON.stringify(c.bad), problem: outcome.status === 'crash' ? outcome.message : outcome.status})
    }
    console.log(`fuzz flags in process: ${cases.length} cases, ${failures.length} failures`)
    expect(cases.length).toBeGreaterThan(50)
    expect(failures).toEqual([])
  })
})

function chunk(flags: string[]): string[][] {
  const out: string[][] = []
  for (let i = 0; i < flags.length; i += 2) out.push(flags.slice(i, i + 2))
  return out
}

describe('through the built CLI', () => {
  const results: Record<string, {cases: number; maxMs: number}> = {}
  const record = (what: string, ms: number) => {
    results[what] ??= {cases: 0, maxMs: 0}
    results[what].cases++
    results[what].maxMs = Math.max(results[what].maxMs, Math.round(ms))
  }
  afterAll(() => console.log(`fuzz through the CLI: ${JSON.stringify(results)}`))

  const spawn = (args: string[]) => {
    const started = performance.now()
    const r = runCli(args, {timeoutMs: CLI_BOUND_MS})
    return {...r, ms: performance.now() - started}
  }

  it.each([
    ['snapshot', () => snapshot, CLI_CASES.snapshot, (path: string, i: number) => (i % 2 ? ['report', path, '--format', ['table', 'json', 'markdown'][i % 3]] : ['check', '--from-snapshot', path])],
    ['report', () => report, CLI_CASES.report, (path: string, i: number) => ['report', path, '--format', ['table', 'json', 'markdown'][i % 3]]],
  ] as const)('mutated %s files', (kind, doc, runs, args) => {
    const cases = fc.sample(documentCase(doc()), {numRuns: runs, seed: SEED + 7})
    const failures: Failure[] = []
    for (const [i, c] of cases.entries()) {
      const r = spawn(args(file(c.text), i))
      record(kind, r.ms)
      const mustFail = c.kind === 'truncated' || breaksContract(kind, c.mutations, c.doc) || !oracle[kind](c.doc)
      const problem = r.status === -1 ? `no exit within ${CLI_BOUND_MS} ms`
        : r.status === 2 ? usageProblem(r.stderr)
          : mustFail ? `exit ${r.status} for a document that breaks the contract`
            : ![0, 1, 3].includes(r.status) ? `exit ${r.status}` : /internal error|\n\s+at /.test(r.stderr) ? 'internal error' : undefined
      if (problem) failures.push({input: describeCase(c), problem: `${problem}: ${r.stderr.slice(0, 300)}`})
    }
    expect(failures.slice(0, 10)).toEqual([])
  }, 600_000)

  it('broken config files', () => {
    const cases = fc.sample(brokenConfig, {numRuns: CLI_CASES.config, seed: SEED + 7})
    const failures: Failure[] = []
    for (const c of cases) {
      const r = spawn(['check', '--config', file(c.text, c.ext), '--from-snapshot', snapshotFile])
      record('config', r.ms)
      const problem = r.status === -1 ? `no exit within ${CLI_BOUND_MS} ms` : r.status !== 2 ? `exit ${r.status}` : usageProblem(r.stderr)
      if (problem) failures.push({input: c.what, problem: `${problem}: ${r.stderr.slice(0, 300)}`})
    }
    expect(failures.slice(0, 10)).toEqual([])
  }, 600_000)

  it('bad flags', () => {
    const cases = fc.sample(flagCase, {numRuns: CLI_CASES.flags, seed: SEED + 7})
    const failures: Failure[] = []
    for (const c of cases) {
      const args = [c.command, '--from-snapshot', snapshotFile, ...c.good, ...c.bad.flat()]
      const r = spawn(args)
      record('flags', r.ms)
      const problem = r.status === -1 ? `no exit within ${CLI_BOUND_MS} ms` : r.status !== 2 ? `exit ${r.status}` : usageProblem(r.stderr)
      if (problem) failures.push({input: args.slice(3).join(' '), problem: `${problem}: ${r.stderr.slice(0, 300)}`})
    }
    expect(failures.slice(0, 10)).toEqual([])
  }, 600_000)
})
