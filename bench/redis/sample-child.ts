/**
 * Child process for the memory benchmark: runs the redis.keys probe once against argv[2] with default options
 * and prints its peak RSS and heap (polled every 5 ms) as JSON, so each keyspace size is measured in a fresh process.
 */
import {CommandLog} from '../../src/core/probe.js'
import {RedisSession} from '../../src/drivers/redis.js'
import {redisKeyspaceSampleProbe} from '../../src/probes/redis/keyspace-sample.js'

const url = process.argv[2]
let peakRss = 0
let peakHeap = 0
const poll = () => {
  const m = process.memoryUsage()
  peakRss = Math.max(peakRss, m.rss)
  peakHeap = Math.max(peakHeap, m.heapUsed)
}
poll()
const before = process.memoryUsage()
const timer = setInterval(poll, 5)
const log = new CommandLog()
const session = await RedisSession.open(url, log)
const t0 = Date.now()
const out = await redisKeyspaceSampleProbe.collect(session, {target: {name: 'bench', kind: 'redis', url}, windowSeconds: 0, options: {}, log: () => {}}, undefined)
const ms = Date.now() - t0
poll()
clearInterval(timer)
await session.close()
const data = out.data as {sampledKeys: number; dbsize: number; patterns: unknown[]}
console.log(JSON.stringify({dbsize: data.dbsize, sampledKeys: data.sampledKeys, patterns: data.patterns.length, roundTrips: log.roundTrips, sampleMs: ms,
  rssBeforeBytes: before.rss, heapBeforeBytes: before.heapUsed, peakRssBytes: peakRss, peakHeapBytes: peakHeap, dataJsonBytes: JSON.stringify(out.data).length}))
