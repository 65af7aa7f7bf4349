/**
 * Server-side cost of one default sampling pass on a 1M-key Redis: the microseconds Redis itself spent on the
 * sampler's commands (INFO commandstats usec), independent of client-side CPU contention on a shared machine.
 * Merged into bench/results/redis.json as overhead.serverCost. Run: npx tsx bench/redis/server-cost.ts
 */
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {CommandLog} from '../../src/core/probe.js'
import {RedisSession} from '../../src/drivers/redis.js'
import {redisKeyspaceSampleProbe} from '../../src/probes/redis/keyspace-sample.js'
import {startRedis} from '../../test/helpers/redis-server.js'

const server = await startRedis()
try {
  execFileSync('redis-cli', ['-p', String(server.port), 'DEBUG', 'POPULATE', '1000000', 'key', '64'])
  execFileSync('redis-cli', ['-p', String(server.port), 'CONFIG', 'RESETSTAT'])
  const session = await RedisSession.open(server.url, new CommandLog())
  const t0 = Date.now()
  await redisKeyspaceSampleProbe.collect(session, {target: {name: 'bench', kind: 'redis', url: server.url}, windowSeconds: 0, options: {}, log: () => {}}, undefined)
  const wallMs = Date.now() - t0
  await session.close()
  const stats = execFileSync('redis-cli', ['-p', String(server.port), 'INFO', 'commandstats']).toString()
  let usec = 0
  const perCommand: Record<string, number> = {}
  for (const m of stats.matchAll(/cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/g)) {
    if (m[1] === 'debug' || m[1] === 'config|resetstat') continue
    perCommand[m[1]] = Number(m[3])
    usec += Number(m[3])
  }
  const serverCost = {keyspace: 1_000_000, sampledKeys: 10_000, wallMs, serverBusyMs: usec / 1000, serverBusyShareOfWall: Math.round((usec / 1000 / wallMs) * 1000) / 10 + '%', usecByCommand: perCommand}
  const results = JSON.parse(readFileSync('bench/results/redis.json', 'utf8'))
  results.overhead.serverCost = serverCost
  writeFileSync('bench/results/redis.json', `${JSON.stringify(results, null, 2)}\n`)
  console.log(JSON.stringify(serverCost, null, 2))
} finally {
  await server.stop()
}
