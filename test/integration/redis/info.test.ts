import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {auditRedis, client, findingsOf, infoWithTraffic, readingOf, redisTarget} from './audit-helpers.js'

describe('redis.info: hit rate over the window', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedis()
    const c = await client(server.url)
    for (let i = 0; i < 50; i++) await c.set(`product:${i}`, 'x')
    c.disconnect()
  })
  afterAll(() => server.stop())

  it('fires critical when most GETs in the window miss', async () => {
    const {report, snapshot} = await infoWithTraffic(server.url, async () => {
      const c = await client(server.url)
      for (let i = 0; i < 300; i++) await c.get(`missing:${i}`)
      for (let i = 0; i < 30; i++) await c.get(`product:${i}`)
      c.disconnect()
    })
    const metric = readingOf(snapshot, 'redis.info').metrics.find((m) => m.name === 'cache.hit_rate')!
    expect(metric.evidence).toMatchObject({hits: 30, misses: 300})
    expect(metric.value).toBeCloseTo(30 / 330, 5)
    const [finding] = findingsOf(report, 'cache/hit-rate')
    expect(finding.severity).toBe('critical')
    expect(finding.subject).toBe('cache')
  })

  it('stays quiet when the GETs hit', async () => {
    const {report, snapshot} = await infoWithTraffic(server.url, async () => {
      const c = await client(server.url)
      for (let i = 0; i < 300; i++) await c.get(`product:${i % 50}`)
      c.disconnect()
    })
    expect(readingOf(snapshot, 'redis.info').metrics.find((m) => m.name === 'cache.hit_rate')!.value).toBe(1)
    expect(findingsOf(report, 'cache/hit-rate')).toEqual([])
  })

  it('gives no verdict on a handful of lookups', async () => {
    const {report, snapshot} = await infoWithTraffic(server.url, async () => {
      const c = await client(server.url)
      for (let i = 0; i < 10; i++) await c.get(`missing:${i}`)
      c.disconnect()
    })
    const metric = readingOf(snapshot, 'redis.info').metrics.find((m) => m.name === 'cache.hit_rate')!
    expect(metric.value).toBeNull()
    expect(String(metric.evidence?.note)).toMatch(/no verdict/)
    expect(findingsOf(report, 'cache/hit-rate')).toEqual([])
  })

  it('says "since start" when there is no window', async () => {
    const {snapshot} = await auditRedis([redisTarget(server.url)], {config: {skipProbes: ['redis.keys']}})
    const info = readingOf(snapshot, 'redis.info')
    expect((info.data as {window: string}).window).toMatch(/since start/)
  })
})

describe('redis.info: memory against maxmemory', () => {
  it('fires critical on a Redis filled to its maxmemory, quiet on one with room', async () => {
    const full = await startRedis({maxmemory: '4mb', policy: 'noeviction'})
    const roomy = await startRedis({maxmemory: '256mb', policy: 'noeviction'})
    try {
      const c = await client(full.url)
      const value = 'v'.repeat(8 * 1024)
      // Write until Redis refuses (OOM under noeviction): memory is then at its limit.
      for (let i = 0; i < 2000; i++) {
        try {
          await c.set(`blob:${i}`, value)
        } catch {
          break
        }
      }
      c.disconnect()
      const {report, snapshot} = await auditRedis([redisTarget(full.url, 'full'), redisTarget(roomy.url, 'roomy')], {config: {skipProbes: ['redis.keys']}})
      const fullMetric = readingOf(snapshot, 'redis.info', 'full').metrics.find((m) => m.name === 'cache.memory.utilization')!
      expect(fullMetric.value).toBeGreaterThan(0.9)
      expect(fullMetric.evidence).toMatchObject({bounded: true, basis: 'maxmemory', policy: 'noeviction'})
      const findings = findingsOf(report, 'cache/memory')
      expect(findings.map((f) => [f.target, f.severity])).toEqual([['full', 'critical']])
    } finally {
      await full.stop()
      await roomy.stop()
    }
  })

  it('compares an unbounded Redis with the machine\'s memory and says so', async () => {
    const server = await startRedis()
    try {
      const {snapshot} = await auditRedis([redisTarget(server.url)], {config: {skipProbes: ['redis.keys']}})
      const metric = readingOf(snapshot, 'redis.info').metrics.find((m) => m.name === 'cache.memory.utilization')!
      expect(metric.evidence).toMatchObject({bounded: false, maxmemory: 0})
      expect(String(metric.evidence!.basis)).toMatch(/total_system_memory/)
    } finally {
      await server.stop()
    }
  })
})

describe('redis.info: evictions', () => {
  it('fires under allkeys-lru with a small maxmemory that evicts, quiet when nothing is evicted', async () => {
    const small = await startRedis({maxmemory: '4mb', policy: 'allkeys-lru'})
    try {
      const writes = async () => {
        const c = await client(small.url)
        const value = 'v'.repeat(8 * 1024)
        const pipe = c.pipeline()
        for (let i = 0; i < 2000; i++) pipe.set(`page:${i}`, value)
        await pipe.exec()
        c.disconnect()
      }
      const quiet = await infoWithTraffic(small.url, async () => {})
      expect(findingsOf(quiet.report, 'cache/evictions')).toEqual([])
      const {report, snapshot} = await infoWithTraffic(small.url, writes)
      const metric = readingOf(snapshot, 'redis.info').metrics.find((m) => m.name === 'cache.evictions.per_second')!
      expect(Number(metric.evidence!.evictedKeys)).toBeGreaterThan(100)
      expect(metric.evidence).toMatchObject({policy: 'allkeys-lru', policyEvicts: true})
      const [finding] = findingsOf(report, 'cache/evictions')
      expect(['warning', 'critical']).toContain(finding.severity)
      expect(finding.message).toMatch(/allkeys-lru/)
    } finally {
      await small.stop()
    }
  })
})

describe('redis.info: fragmentation', () => {
  it('reads the allocator ratio but stays quiet on a small instance, whatever the ratio', async () => {
    const server = await startRedis()
    try {
      const c = await client(server.url)
      // Mixed sizes, then delete most: the ratio moves, but the wasted bytes stay far below 100 MB.
      const pipe = c.pipeline()
      for (let i = 0; i < 20000; i++) pipe.set(`frag:${i}`, 'x'.repeat(i % 500))
      await pipe.exec()
      const del = c.pipeline()
      for (let i = 0; i < 20000; i += 3) del.del(`frag:${i}`)
      await del.exec()
      c.disconnect()
      const {report, snapshot} = await auditRedis([redisTarget(server.url)], {config: {skipProbes: ['redis.keys']}})
      const metric = readingOf(snapshot, 'redis.info').metrics.find((m) => m.name === 'cache.fragmentation.ratio')!
      expect(metric.value).toBeGreaterThan(0)
      expect(Number(metric.evidence!.allocatorFragBytes)).toBeLessThan(100 * 1024 * 1024)
      expect(findingsOf(report, 'cache/fragmentation')).toEqual([])
    } finally {
      await server.stop()
    }
  })
})

describe('redis.info: clients', () => {
  it('fires when connections approach maxclients and when connections are rejected; quiet with few clients', async () => {
    const server = await startRedis({extraArgs: ['--maxclients', '12']})
    const clients: Awaited<ReturnType<typeof client>>[] = []
    try {
      const quiet = await infoWithTraffic(server.url, async () => {})
      expect(findingsOf(quiet.report, 'cache/clients')).toEqual([])
      expect(findingsOf(quiet.report, 'cache/rejected-connections')).toEqual([])
      const {report} = await infoWithTraffic(server.url, async () => {
        // 10 held + the probe's own = 11 of 12; 3 more are rejected by the server.
        for (let i = 0; i < 10; i++) clients.push(await client(server.url))
        for (let i = 0; i < 3; i++) {
          const extra = await client(server.url).catch(() => undefined)
          if (extra) {
            await extra.ping().catch(() => {})
            extra.disconnect()
          }
        }
      })
      const [util] = findingsOf(report, 'cache/clients')
      expect(util.severity).toBe('critical')
      expect(Number(util.evidence.connectedClients)).toBeGreaterThanOrEqual(11)
      const [rejected] = findingsOf(report, 'cache/rejected-connections')
      expect(rejected.value).toBeGreaterThanOrEqual(1)
    } finally {
      for (const c of clients) c.disconnect()
      await server.stop()
    }
  })
})
