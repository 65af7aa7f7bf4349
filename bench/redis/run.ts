/**
 * Redis sampler benchmarks; results in bench/results/redis.json.
 * (a) Server overhead: redis-benchmark GET/SET throughput on a 1M-key redis-server alone, then while the
 *     redis.keys sampler runs back to back with default settings, alternated over ROUNDS rounds (medians compared).
 * (b) Sampler memory: peak RSS/heap of a child process sampling 100k vs 1M keys with the default cap.
 * Run: npx tsx bench/redis/run.ts
 */
import {execFile, execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {cpus} from 'node:os'
import {promisify} from 'node:util'
import {CommandLog} from '../../src/core/probe.js'
import {RedisSession} from '../../src/drivers/redis.js'
import {redisKeyspaceSampleProbe, SAMPLE_DEFAULTS} from '../../src/probes/redis/keyspace-sample.js'
import {startRedis} from '../../test/helpers/redis-server.js'

const run = promisify(execFile)
const REQUESTS = 100_000
const ROUNDS = 3

async function populate(port: number, keys: number) {
  execFileSync('redis-cli', ['-p', String(port), 'DEBUG', 'POPULATE', String(keys), 'key', '64'])
}

/** redis-benchmark's CSV: "test","rps",... per test; returns requests/s by test. */
async function benchmark(port: number): Promise<Record<string, number>> {
  const {stdout} = await run('redis-benchmark', ['-p', String(port), '-t', 'get,set', '-n', String(REQUESTS), '-q', '--csv', '-r', '1000000'])
  const out: Record<string, number> = {}
  for (const line of stdout.trim().split('\n')) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''))
    if (cells[0] === 'test') continue
    out[cells[0]] = Number(cells[1])
  }
  return out
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function overhead() {
  const server = await startRedis()
  try {
    await populate(server.port, 1_000_000)
    // The machine is shared, so throughput drifts: alternate alone/with-sampler runs and compare medians.
    const alone: Array<Record<string, number>> = []
    const withSampler: Array<Record<string, number>> = []
    let passes = 0
    let keysRead = 0
    let roundTrips = 0
    for (let round = 0; round < ROUNDS; round++) {
      alone.push(await benchmark(server.port))
      let stop = false
      const sampler = (async () => {
        while (!stop) {
          const log = new CommandLog()
          const session = await RedisSession.open(server.url, log)
          const out = await redisKeyspaceSampleProbe.collect(session, {target: {name: 'bench', kind: 'redis', url: server.url}, windowSeconds: 0, options: {}, log: () => {}}, undefined)
          await session.close()
          passes++
          keysRead += (out.data as {sampledKeys: number}).sampledKeys
          roundTrips += log.roundTrips
        }
      })()
      withSampler.push(await benchmark(server.port))
      stop = true
      await sampler
    }
    const result: Record<string, unknown> = {}
    for (const test of Object.keys(alone[0])) {
      const baseline = median(alone.map((r) => r[test]))
      const during = median(withSampler.map((r) => r[test]))
      result[test] = {baselineRps: Math.round(baseline), withSamplerRps: Math.round(during), dropPercent: Math.round(((baseline - during) / baseline) * 1000) / 10,
        aloneRuns: alone.map((r) => r[test]), withSamplerRuns: withSampler.map((r) => r[test])}
    }
    return {keyspace: 1_000_000, requestsPerRun: REQUESTS, rounds: ROUNDS, sampler: {...SAMPLE_DEFAULTS, passesDuringRuns: passes, keysRead, roundTrips}, throughput: result}
  } finally {
    await server.stop()
  }
}

async function memory() {
  const rows = []
  for (const keys of [100_000, 1_000_000]) {
    const server = await startRedis()
    try {
      await populate(server.port, keys)
      const {stdout} = await run('npx', ['tsx', 'bench/redis/sample-child.ts', server.url], {maxBuffer: 1 << 20})
      rows.push(JSON.parse(stdout.trim().split('\n').pop()!))
    } finally {
      await server.stop()
    }
  }
  return rows
}

const results = {
  generatedAt: new Date().toISOString(),
  machine: {cpus: cpus().length, model: cpus()[0]?.model, node: process.version, redis: execFileSync('redis-server', ['--version']).toString().trim()},
  note: 'redis-server, redis-benchmark and the sampler share the same machine (2 cores, also used by colleagues): the drop includes client-side CPU contention.',
  overhead: await overhead(),
  memory: await memory(),
}
writeFileSync('bench/results/redis.json', `${JSON.stringify(results, null, 2)}\n`)
console.log(JSON.stringify(results, null, 2))
