/**
 * Redis sampler benchmarks; results in bench/results/redis.json.
 * (a) Server overhead: redis-benchmark GET/SET throughput on a 1M-key redis-server, alone and while the redis.keys
 *     sampler loops continuously (a new pass as soon as one ends), alternated ROUNDS times each, medians compared.
 *     CPU pinning (taskset): redis-server on CPU 0; redis-benchmark, this node process (the sampler) and its
 *     children on CPU 1, in both the baseline and the with-sampler runs, so the server's core is not shared with
 *     the clients and the drop measures what the sampler costs the server. Server CPU from INFO cpu
 *     (used_cpu_sys + used_cpu_user) and per-command time from INFO commandstats, as deltas over each run.
 *     Repeated for several scanPauseMs values (the default first) so users can tune it.
 * (b) One pass alone per pause value: wall time, server time, round trips.
 * (c) Sampler memory: peak RSS/heap of a child process sampling 100k vs 1M keys with the default cap.
 * Run: npx tsx bench/redis/run.ts [pauseMs ...]   (default pauses: the default and 5 ms; BENCH_SCALE scales -n, BENCH_ROUNDS the rounds)
 */
import {execFile, execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {cpus} from 'node:os'
import {promisify} from 'node:util'
import {Redis} from 'ioredis'
import {CommandLog} from '../../src/core/probe.js'
import {RedisSession} from '../../src/drivers/redis.js'
import {redisKeyspaceSampleProbe, SAMPLE_DEFAULTS} from '../../src/probes/redis/keyspace-sample.js'
import {startRedis, type RedisServer} from '../../test/helpers/redis-server.js'

const run = promisify(execFile)
const KEYS = 1_000_000
/**
 * Two client modes, each test (GET, then SET) lasting several seconds: without pipelining redis-benchmark itself is
 * the bottleneck on CPU 1 (the server idles part of the time); with -P 16 the server's core is the bottleneck, so a
 * drop there is server capacity the sampler took.
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1)
const MODES = [
  {name: 'unpipelined', pipeline: 1, requests: Math.round(150_000 * SCALE), pauses: [undefined, 5] as Array<number | undefined>},
  {name: 'pipelined-16', pipeline: 16, requests: Math.round(1_200_000 * SCALE), pauses: [undefined, 5] as Array<number | undefined>},
]
type Mode = (typeof MODES)[number]
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const SERVER_CPU = '0'
const CLIENT_CPU = '1'
const PAUSES: Array<number | undefined> | undefined = process.argv.length > 2 ? process.argv.slice(2).map((a) => (a === 'default' ? undefined : Number(a))) : undefined
const SAMPLER_COMMANDS = new Set(['scan', 'type', 'pttl', 'memory|usage', 'object|idletime', 'object|freq', 'dbsize', 'info', 'hello', 'client|setname', 'cluster|nodes'])

/** Pins every thread of a process to one CPU (util-linux taskset). */
function pin(pid: number, cpu: string): void {
  execFileSync('taskset', ['-a', '-cp', cpu, String(pid)], {stdio: 'ignore'})
}

function affinity(pid: number): string {
  return execFileSync('taskset', ['-cp', String(pid)]).toString().trim().split(': ').pop()!
}

/** redis-benchmark's CSV: "test","rps",... per test; returns requests/s by test. */
async function benchmark(port: number, mode: Mode): Promise<Record<string, number>> {
  const {stdout} = await run('taskset', ['-c', CLIENT_CPU, 'redis-benchmark', '-p', String(port), '-t', 'get,set', '-n', String(mode.requests), '-P', String(mode.pipeline), '-q', '--csv', '-r', String(KEYS)], {maxBuffer: 1 << 20})
  const out: Record<string, number> = {}
  for (const line of stdout.trim().split('\n')) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''))
    if (cells[0] === 'test') continue
    out[cells[0]] = Number(cells[1])
  }
  return out
}

interface ServerCounters {
  cpuSec: number
  usec: Record<string, number>
  calls: Record<string, number>
}

async function counters(admin: Redis): Promise<ServerCounters> {
  const text = String(await admin.call('INFO', 'everything'))
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0)
  const usec: Record<string, number> = {}
  const calls: Record<string, number> = {}
  for (const m of text.matchAll(/cmdstat_([\w|-]+):calls=(\d+),usec=(\d+)/g)) {
    usec[m[1]] = Number(m[3])
    calls[m[1]] = Number(m[2])
  }
  return {cpuSec: field('used_cpu_sys') + field('used_cpu_user'), usec, calls}
}

function delta(a: ServerCounters, b: ServerCounters) {
  const usec: Record<string, number> = {}
  const calls: Record<string, number> = {}
  for (const k of Object.keys(b.usec)) {
    usec[k] = b.usec[k] - (a.usec[k] ?? 0)
    calls[k] = b.calls[k] - (a.calls[k] ?? 0)
  }
  const sampler = Object.entries(usec).filter(([k]) => SAMPLER_COMMANDS.has(k)).reduce((s, [, v]) => s + v, 0)
  const total = Object.values(usec).reduce((s, v) => s + v, 0)
  return {cpuSec: b.cpuSec - a.cpuSec, samplerUsec: sampler, commandUsec: total, usec, calls}
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const r1 = (x: number) => Math.round(x * 10) / 10
const r3 = (x: number) => Math.round(x * 1000) / 1000
const ctxFor = (url: string, pause: number | undefined) => ({target: {name: 'bench', kind: 'redis' as const, url}, windowSeconds: 0, options: pause === undefined ? {} : {scanPauseMs: pause}, log: () => {}})

async function onePass(url: string, pause: number | undefined) {
  const log = new CommandLog()
  const session = await RedisSession.open(url, log)
  try {
    const out = await redisKeyspaceSampleProbe.collect(session, ctxFor(url, pause), undefined)
    return {sampled: (out.data as {sampledKeys: number}).sampledKeys, roundTrips: log.roundTrips}
  } finally {
    await session.close()
  }
}

interface RunRecord {
  kind: 'baseline' | 'withSampler'
  rps: Record<string, number>
  wallSec: number
  serverCpuSec: number
  serverCpuUtilisation: number
  samplerServerMs: number
  samplerShareOfServerCpu: number
  samplerShareOfWall: number
  passes?: number
  keysRead?: number
  samplerClientCpuSec?: number
}

async function measuredRun(server: RedisServer, admin: Redis, mode: Mode, pause: number | undefined, withSampler: boolean): Promise<RunRecord> {
  let stop = false
  let passes = 0
  let keysRead = 0
  const cpu0 = process.cpuUsage()
  const before = await counters(admin)
  const t0 = process.hrtime.bigint()
  const sampler = withSampler
    ? (async () => {
        while (!stop) {
          const pass = await onePass(server.url, pause)
          passes++
          keysRead += pass.sampled
        }
      })()
    : Promise.resolve()
  const rps = await benchmark(server.port, mode)
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9
  const after = await counters(admin)
  stop = true
  await sampler
  const cpu = process.cpuUsage(cpu0)
  const d = delta(before, after)
  return {
    kind: withSampler ? 'withSampler' : 'baseline',
    rps,
    wallSec: r3(wallSec),
    serverCpuSec: r3(d.cpuSec),
    serverCpuUtilisation: r3(d.cpuSec / wallSec),
    samplerServerMs: r1(d.samplerUsec / 1000),
    samplerShareOfServerCpu: r3(d.samplerUsec / 1e6 / d.cpuSec),
    samplerShareOfWall: r3(d.samplerUsec / 1e6 / wallSec),
    ...(withSampler ? {passes, keysRead, samplerClientCpuSec: r3((cpu.user + cpu.system) / 1e6)} : {}),
  }
}

async function variant(server: RedisServer, admin: Redis, mode: Mode, pause: number | undefined) {
  // One pass alone first: how long a pass takes at this pause, and what it costs the server.
  const passAlone = []
  for (let i = 0; i < 3; i++) {
    const before = await counters(admin)
    const t0 = Date.now()
    const pass = await onePass(server.url, pause)
    const wallMs = Date.now() - t0
    const d = delta(before, await counters(admin))
    passAlone.push({wallMs, serverMs: r1(d.samplerUsec / 1000), roundTrips: pass.roundTrips, sampledKeys: pass.sampled})
  }
  const runs: RunRecord[] = []
  for (let round = 0; round < ROUNDS; round++) {
    runs.push(await measuredRun(server, admin, mode, pause, false))
    runs.push(await measuredRun(server, admin, mode, pause, true))
    const last = runs.slice(-2)
    console.error(`${mode.name} pause ${pause ?? 'default'} round ${round + 1}: baseline ${JSON.stringify(last[0].rps)} with sampler ${JSON.stringify(last[1].rps)} (${last[1].passes} passes, sampler ${last[1].samplerServerMs} ms of server time)`)
  }
  const base = runs.filter((r) => r.kind === 'baseline')
  const withS = runs.filter((r) => r.kind === 'withSampler')
  const throughput: Record<string, unknown> = {}
  for (const test of Object.keys(base[0].rps)) {
    const b = median(base.map((r) => r.rps[test]))
    const w = median(withS.map((r) => r.rps[test]))
    throughput[test] = {baselineRps: Math.round(b), withSamplerRps: Math.round(w), dropPercent: r1(((b - w) / b) * 100), baselineRuns: base.map((r) => Math.round(r.rps[test])), withSamplerRuns: withS.map((r) => Math.round(r.rps[test]))}
  }
  const sumPasses = withS.reduce((s, r) => s + (r.passes ?? 0), 0)
  return {
    mode: mode.name,
    pipeline: mode.pipeline,
    requestsPerTest: mode.requests,
    scanPauseMs: pause ?? SAMPLE_DEFAULTS.scanPauseMs,
    isDefault: pause === undefined,
    passAlone: {medianWallMs: median(passAlone.map((p) => p.wallMs)), medianServerMs: median(passAlone.map((p) => p.serverMs)), runs: passAlone},
    throughput,
    server: {
      baselineCpuUtilisation: median(base.map((r) => r.serverCpuUtilisation)),
      withSamplerCpuUtilisation: median(withS.map((r) => r.serverCpuUtilisation)),
      samplerShareOfServerCpu: median(withS.map((r) => r.samplerShareOfServerCpu)),
      samplerShareOfWall: median(withS.map((r) => r.samplerShareOfWall)),
    },
    sampler: {passes: sumPasses, keysRead: withS.reduce((s, r) => s + (r.keysRead ?? 0), 0),
      medianClientCpuShareOfCpu1: median(withS.map((r) => r3((r.samplerClientCpuSec ?? 0) / r.wallSec)))},
    runs,
  }
}

async function overhead() {
  const server = await startRedis()
  pin(server.process.pid!, SERVER_CPU)
  const admin = new Redis(server.url, {maxRetriesPerRequest: 1})
  try {
    execFileSync('redis-cli', ['-p', String(server.port), 'DEBUG', 'POPULATE', String(KEYS), 'key', '64'])
    const dbsizeBefore = Number(await admin.dbsize())
    const pinning = {redisServer: affinity(server.process.pid!), benchAndSampler: affinity(process.pid), redisBenchmark: `taskset -c ${CLIENT_CPU}`}
    const variants = []
    for (const mode of MODES) for (const pause of PAUSES ?? mode.pauses) variants.push(await variant(server, admin, mode, pause))
    return {keyspace: KEYS, dbsizeBefore, dbsizeAfter: Number(await admin.dbsize()), roundsEach: ROUNDS, pinning, variants}
  } finally {
    admin.disconnect()
    await server.stop()
  }
}

async function memory() {
  const rows = []
  for (const keys of [100_000, 1_000_000]) {
    const server = await startRedis()
    pin(server.process.pid!, SERVER_CPU)
    try {
      execFileSync('redis-cli', ['-p', String(server.port), 'DEBUG', 'POPULATE', String(keys), 'key', '64'])
      const {stdout} = await run('npx', ['tsx', 'bench/redis/sample-child.ts', server.url], {maxBuffer: 1 << 20})
      rows.push(JSON.parse(stdout.trim().split('\n').pop()!))
    } finally {
      await server.stop()
    }
  }
  return rows
}

// This process runs the sampler: pin it (and the children it spawns, which inherit the mask) to the client core.
pin(process.pid, CLIENT_CPU)
const results = {
  generatedAt: new Date().toISOString(),
  machine: {cpus: cpus().length, model: cpus()[0]?.model, node: process.version, redis: execFileSync('redis-server', ['--version']).toString().trim(), loadAverageAtStart: (await import('node:os')).loadavg()},
  method: [
    'redis-server pinned to CPU 0 (taskset -a -cp 0), redis-benchmark and the node process running the sampler pinned to CPU 1, in both baseline and with-sampler runs.',
    `Each run: redis-benchmark -t get,set -r ${KEYS} (50 clients) in two modes: ${MODES.map((m) => `${m.name} (-P ${m.pipeline}, -n ${m.requests} per test)`).join(', ')}, against a redis-server holding ${KEYS} keys (DEBUG POPULATE, 64-byte values); with the sampler, redis.keys passes (default options except scanPauseMs) loop back to back for the whole run.`,
    `Baseline and with-sampler runs alternate, ${ROUNDS} each per pause value; medians compared. dropPercent = (baseline - with) / baseline.`,
    'Server CPU: INFO used_cpu_sys + used_cpu_user deltas over the run; the sampler\'s share is the INFO commandstats usec of its commands (SCAN, TYPE, PTTL, MEMORY USAGE, OBJECT, DBSIZE, INFO, HELLO, CLIENT SETNAME) divided by that CPU delta (samplerShareOfServerCpu) and by wall time (samplerShareOfWall). commandstats excludes network I/O and event-loop time, so it is a lower bound of the sampler\'s true server cost.',
    'The machine has 2 cores shared with other engineers\' test runs (PostgreSQL, RabbitMQ...): pinning separates the server from our own clients, not from them. redis-benchmark and the sampler share CPU 1, so part of any drop can still be client-side when redis-benchmark is CPU-bound there (see sampler.medianClientCpuShareOfCpu1 and server.baselineCpuUtilisation).',
    'redis-benchmark SETs keys key:000000NNNNNN that DEBUG POPULATE did not create, so dbsize grows during the benchmark (dbsizeBefore/After); baseline and with-sampler runs alternate, so both see the same growth.',
  ],
  overhead: await overhead(),
  memory: await memory(),
}
writeFileSync('bench/results/redis.json', `${JSON.stringify(results, null, 2)}\n`)
console.log(JSON.stringify(results.overhead.variants.map((v) => ({mode: v.mode, scanPauseMs: v.scanPauseMs, passAlone: v.passAlone.medianWallMs, throughput: v.throughput, server: v.server, sampler: v.sampler})), null, 2))
