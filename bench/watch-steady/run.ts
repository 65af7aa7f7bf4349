/**
 * watch's steady state: CPU and memory of `chokepoint watch` on 10 targets (5 PostgreSQL databases on the test
 * primary, 5 Redis logical databases on 127.0.0.1:6379) at a 60 s interval for 10 minutes, and whether memory grows.
 * Results in bench/results/watch-steady.json.
 *
 * The CLI runs as a user runs it (`node bin/run.js watch -c FILE`, so `npm run build` first), and the numbers come
 * from its own /metrics: process_resident_memory_bytes, nodejs_heap_size_used_bytes and process_cpu_seconds_total
 * (prom-client's defaults), scraped once per interval, half an interval after each audit is due so that a scrape
 * never lands in the middle of one. Each sample is two scrapes: as the process runs (`samples`: what a pod's memory
 * limit must hold), then one second after a full garbage collection (`afterGc`: the memory still referenced; the
 * processes are started with --expose-gc and gc-on-signal.mjs, and SIGUSR2 collects). Growth is judged on both; a
 * leak shows in `afterGc`, since between V8's major collections the heap climbs whether or not anything leaks. watch's first round only connects and takes baselines; the samples taken before
 * the second round (the first collect, which loads the probes' and advisors' modules) finished are warm-up, dropped.
 * Baseline of the same run: a second watch process on 1 target (the first PostgreSQL database), started and
 * sampled alongside, so both see the same machine load; `per9ExtraTargets` is the difference.
 *
 * Memory grows when, for RSS or the heap, the mean of the last third of the samples is above the first third's by
 * more than 5% and the least-squares line rises by more than 5% of the median over the run (analyse.ts).
 *
 * Flags: --minutes N (10), --interval S (60), --output FILE (default bench/results/watch-steady.json; a shortened
 * run should write elsewhere), --keep-data (leave the databases and keys for the next run; by default they are removed). Env: CP_BENCH_PG (default the test primary), CP_BENCH_REDIS (redis://127.0.0.1:6379),
 * CP_BENCH_DB_PREFIX (cp_bench_watch), CP_BENCH_REDIS_DBS (11,12,13,14,15).
 * Run: npx tsx bench/watch-steady/run.ts [--minutes 2 --interval 10 --output /tmp/w.json]
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {Redis} from 'ioredis'
import pg from 'pg'
import {sampleFromMetrics, steadyState, type Sample} from './analyse.js'

const ROOT = resolve(import.meta.dirname, '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')

const {values: args} = parseArgs({options: {
  minutes: {type: 'string', default: '10'},
  interval: {type: 'string', default: '60'},
  output: {type: 'string', default: join(ROOT, 'bench', 'results', 'watch-steady.json')},
  'keep-data': {type: 'boolean', default: false},
}})
const minutes = Number(args.minutes)
const intervalSeconds = Number(args.interval)
if (!(minutes > 0) || !(intervalSeconds >= 1)) throw new Error('--minutes must be > 0 and --interval at least 1 (seconds)')
const PG_URL = process.env.CP_BENCH_PG ?? 'postgres://postgres@127.0.0.1:25432/postgres'
const REDIS_URL = process.env.CP_BENCH_REDIS ?? 'redis://127.0.0.1:6379'
const DB_PREFIX = process.env.CP_BENCH_DB_PREFIX ?? 'cp_bench_watch'
const REDIS_DBS = (process.env.CP_BENCH_REDIS_DBS ?? '11,12,13,14,15').split(',').map(Number)

function withPath(url: string, path: string): string {
  const u = new URL(url)
  u.pathname = `/${path}`
  return u.toString()
}

/** Five small databases with tables, indexes and a workload in pg_stat_statements, so every probe has rows to read. */
async function preparePostgres(): Promise<string[]> {
  const admin = new pg.Client({connectionString: PG_URL, application_name: 'chokepoint-bench'})
  await admin.connect()
  const urls: string[] = []
  try {
    for (let i = 1; i <= 5; i++) {
      const name = `${DB_PREFIX}_${i}`
      const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount
      if (!exists) await admin.query(`CREATE DATABASE ${name}`)
      const url = withPath(PG_URL, name)
      const db = new pg.Client({connectionString: url, application_name: 'chokepoint-bench'})
      await db.connect()
      try {
        for (let t = 1; t <= 20; t++) {
          await db.query(`CREATE TABLE IF NOT EXISTS bench_w${t} (id bigint PRIMARY KEY, a int, b int, c text)`)
          await db.query(`CREATE INDEX IF NOT EXISTS bench_w${t}_a ON bench_w${t} (a)`)
          await db.query(`INSERT INTO bench_w${t} SELECT g, g % 50, g % 7, md5(g::text) FROM generate_series(1, 500) g ON CONFLICT DO NOTHING`)
          await db.query(`SELECT count(*) FROM bench_w${t} WHERE a = 3`)
          await db.query(`SELECT c FROM bench_w${t} WHERE b = 2 ORDER BY id LIMIT 5`)
        }
        await db.query('ANALYZE')
      } finally {
        await db.end()
      }
      urls.push(url)
    }
  } finally {
    await admin.end()
  }
  return urls
}

/** 2,000 keys of a few types in each logical database (reused when a run with --keep-data left them). */
async function prepareRedis(): Promise<string[]> {
  const urls: string[] = []
  for (const db of REDIS_DBS) {
    const url = withPath(REDIS_URL, String(db))
    const redis = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 1})
    await redis.connect()
    try {
      if ((await redis.dbsize()) < 2000) {
        const batch = redis.pipeline()
        for (let k = 0; k < 1000; k++) batch.set(`cpbench:watch:s:${k}`, 'x'.repeat(64), 'EX', 86_400 * 7)
        for (let k = 0; k < 500; k++) batch.hset(`cpbench:watch:h:${k}`, {a: '1', b: '2', c: 'x'.repeat(32)})
        for (let k = 0; k < 500; k++) batch.rpush(`cpbench:watch:l:${k}`, 'a', 'b', 'c')
        await batch.exec()
      }
    } finally {
      redis.disconnect()
    }
    urls.push(url)
  }
  return urls
}

/**
 * Drops what the benchmark created, so it leaves the shared test servers as it found them (the test suites run
 * against the same primary and Redis); --keep-data keeps it for the next run.
 */
async function removeData(): Promise<void> {
  const admin = new pg.Client({connectionString: PG_URL, application_name: 'chokepoint-bench'})
  await admin.connect()
  try {
    for (let i = 1; i <= 5; i++) await admin.query(`DROP DATABASE IF EXISTS "${DB_PREFIX}_${i}" WITH (FORCE)`)
  } finally {
    await admin.end()
  }
  for (const db of REDIS_DBS) {
    const redis = new Redis(withPath(REDIS_URL, String(db)), {lazyConnect: true, maxRetriesPerRequest: 1})
    await redis.connect()
    try {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', 'cpbench:watch:*', 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) await redis.unlink(...keys)
      } while (cursor !== '0')
    } finally {
      redis.disconnect()
    }
  }
}

function configYaml(targets: Array<{name: string; kind: string; url: string}>): string {
  return `targets:\n${targets.map((t) => `  - name: ${t.name}\n    kind: ${t.kind}\n    url: ${JSON.stringify(t.url)}\n`).join('')}`
}

interface Watcher {
  name: string
  child: ChildProcess
  port: number
  startedAt: number
  stderr: string[]
}

/** Starts `chokepoint watch` and resolves once it says where it listens. */
function startWatch(name: string, configFile: string): Promise<Watcher> {
  const startedAt = performance.now()
  const env = {...process.env}
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'NATS_URL', 'PROMETHEUS_URL', 'PGHOST', 'PGDATABASE']) delete env[k]
  const child = spawn(process.execPath, ['--expose-gc', '--import', join(import.meta.dirname, 'gc-on-signal.mjs'), BIN, 'watch', '-c', configFile, '--interval', `${intervalSeconds}s`, '--listen', '127.0.0.1:0'], {cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe']})
  const stderr: string[] = []
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no "listening on" line within 60 s; stderr: ${stderr.join('')}`)), 60_000)
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr.push(chunk)
      const port = /listening on http:\/\/[^:]+:(\d+)/.exec(stderr.join(''))?.[1]
      if (port) {
        clearTimeout(timer)
        resolvePort({name, child, port: Number(port), startedAt, stderr})
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${name}: watch exited with ${code} before listening; stderr: ${stderr.join('')}`))
    })
  })
}

async function scrape(w: Watcher): Promise<Sample> {
  const response = await fetch(`http://127.0.0.1:${w.port}/metrics`)
  if (!response.ok) throw new Error(`${w.name}: /metrics answered ${response.status}`)
  const sample = sampleFromMetrics(await response.text(), (performance.now() - w.startedAt) / 1000)
  if (!sample) throw new Error(`${w.name}: /metrics lacks process_resident_memory_bytes, nodejs_heap_size_used_bytes or process_cpu_seconds_total`)
  return sample
}

async function stop(w: Watcher): Promise<number | null> {
  if (w.child.exitCode !== null) return w.child.exitCode
  const exited = new Promise<number | null>((r) => w.child.once('exit', (code) => r(code)))
  w.child.kill('SIGTERM')
  return exited
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'commands'))) throw new Error('dist/ is missing: run `npm run build` first')
  const pgUrls = await preparePostgres()
  const redisUrls = await prepareRedis()
  const dir = mkdtempSync(join(tmpdir(), 'cp-watch-steady-'))
  const tenTargets = [
    ...pgUrls.map((url, i) => ({name: `pg${i + 1}`, kind: 'postgres', url})),
    ...redisUrls.map((url, i) => ({name: `redis${i + 1}`, kind: 'redis', url})),
  ]
  writeFileSync(join(dir, 'ten.yaml'), configYaml(tenTargets))
  writeFileSync(join(dir, 'one.yaml'), configYaml(tenTargets.slice(0, 1)))
  const watchers: Watcher[] = []
  const samples = new Map<string, Sample[]>()
  const afterGc = new Map<string, Sample[]>()
  const startedIso = new Date().toISOString()
  // Interrupted, the watch processes are stopped too, not left serving after the benchmark.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.all(watchers.map(stop)).finally(() => process.exit(130))
    })
  }
  try {
    watchers.push(await startWatch('ten', join(dir, 'ten.yaml')), await startWatch('one', join(dir, 'one.yaml')))
    const rounds = Math.floor((minutes * 60) / intervalSeconds)
    const t0 = performance.now()
    for (let k = 0; k <= rounds; k++) {
      // Audits fall due at multiples of the interval from the start; half an interval later they have finished.
      const due = t0 + (k + 0.5) * intervalSeconds * 1000
      await sleep(Math.max(0, due - performance.now()))
      for (const w of watchers) {
        const s = await scrape(w)
        samples.set(w.name, [...(samples.get(w.name) ?? []), s])
        w.child.kill('SIGUSR2')
      }
      await sleep(1000)
      for (const w of watchers) {
        const s = samples.get(w.name)!.at(-1)!
        const g = await scrape(w)
        afterGc.set(w.name, [...(afterGc.get(w.name) ?? []), g])
        const mb = (b: number) => (b / 2 ** 20).toFixed(1)
        console.error(`${w.name} t=${s.atSeconds.toFixed(0)}s rss=${mb(s.rssBytes)}MB heap=${mb(s.heapUsedBytes)}MB external=${mb(s.externalBytes)}MB (after GC ${mb(g.rssBytes)}/${mb(g.heapUsedBytes)}/${mb(g.externalBytes)}MB) cpu=${s.cpuSeconds.toFixed(2)}s audits=${s.audits} up=${s.targetsUp}`)
      }
    }
  } finally {
    const exits = await Promise.all(watchers.map(stop))
    for (const [i, code] of exits.entries()) if (code !== 0) console.error(`${watchers[i].name}: watch exited ${code} on SIGTERM (expected 0); stderr: ${watchers[i].stderr.join('')}`)
    rmSync(dir, {recursive: true, force: true})
    if (!args['keep-data']) await removeData()
  }

  const summarise = (name: string) => {
    const all = samples.get(name)!
    const collected = afterGc.get(name)!
    // Warm-up: until the second round had finished (the first only connects and takes baselines).
    const kept = all.flatMap((s, i) => (s.audits >= 2 ? [i] : []))
    const steady = steadyState(kept.map((i) => all[i]))
    const gc = steadyState(kept.map((i) => collected[i]))
    return {
      targets: name === 'ten' ? 10 : 1, warmupSamplesDropped: all.length - kept.length, auditsAtEnd: all.at(-1)!.audits, targetsUpAtEnd: all.at(-1)!.targetsUp,
      ...steady, afterGc: {rss: gc.rss, heapUsed: gc.heapUsed, external: gc.external, memoryGrows: gc.memoryGrows},
      samples: all, samplesAfterGc: collected,
    }
  }
  const ten = summarise('ten')
  const one = summarise('one')
  const result = {
    benchmark: 'watch-steady',
    generatedAt: new Date().toISOString(),
    startedAt: startedIso,
    machine: {cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version},
    method: `node bin/run.js watch -c FILE --interval ${intervalSeconds}s for ${minutes} min: 10 targets (5 PostgreSQL databases ${DB_PREFIX}_1..5 on the test primary, 20 tables each; 5 Redis logical databases ${REDIS_DBS.join(',')}, 2,000 keys each) and, alongside as the same-run baseline, 1 target (${DB_PREFIX}_1). Each process's own /metrics scraped once per interval, half an interval after an audit is due; samples before the second round (the first collect; the first round only takes baselines) finished dropped. Each sample scraped twice: as running, and 1 s after a full GC (--expose-gc, SIGUSR2 through gc-on-signal.mjs). CPU: process_cpu_seconds_total over wall time between the first and last kept sample (% of one core). Memory grows: last third above first third by more than 5% and the least-squares line rising more than 5% of the median over the run, for RSS or heap used.`,
    minutes, intervalSeconds,
    ten, one,
    per9ExtraTargets: {
      cpuPercentOfCore: Math.round((ten.cpuPercentOfCore - one.cpuPercentOfCore) * 1000) / 1000,
      rssMedianMB: Math.round((ten.rss.medianMB - one.rss.medianMB) * 100) / 100,
      heapUsedMedianMB: Math.round((ten.heapUsed.medianMB - one.heapUsed.medianMB) * 100) / 100,
      heapUsedAfterGcMedianMB: Math.round((ten.afterGc.heapUsed.medianMB - one.afterGc.heapUsed.medianMB) * 100) / 100,
    },
  }
  writeFileSync(args.output!, `${JSON.stringify(result, null, 2)}\n`)
  const mem = (m: typeof ten.rss) => `${m.medianMB} MB (${m.slopeMBPerMinute} MB/min, last/first third ${(m.lastOverFirstThird * 100).toFixed(1)}%)`
  const line = (s: typeof ten) => `${s.targets} target(s): CPU ${s.cpuPercentOfCore}% of a core; running: RSS ${mem(s.rss)}, heap ${mem(s.heapUsed)}, external ${mem(s.external)}, grows: ${s.memoryGrows}; after GC: RSS ${mem(s.afterGc.rss)}, heap ${mem(s.afterGc.heapUsed)}, external ${mem(s.afterGc.external)}, grows: ${s.afterGc.memoryGrows}`
  console.error(`\n${line(ten)}\n${line(one)}\nresults in ${args.output}`)
  if (ten.targetsUpAtEnd !== 10) console.error(`warning: ${ten.targetsUpAtEnd} of 10 targets up at the end: see the samples`)
}

await main()
