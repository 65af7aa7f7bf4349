import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cleanupDemoRedis, seedDemoRedis} from '../../../src/demo/redis-seed.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {auditRedis, client, findingsOf, redisTarget} from './audit-helpers.js'

describe('demo Redis seed', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedis({maxmemory: '64mb', policy: 'allkeys-lru'})
  })
  afterAll(() => server.stop())

  it('produces the bottlenecks it promises, and nothing for the healthy product cache; cleanup removes it all', async () => {
    const seed = await seedDemoRedis(server.url, 'demo')
    const {report} = await auditRedis([redisTarget(server.url)])
    expect(findingsOf(report, 'cache/no-ttl-pattern').map((f) => f.subject)).toEqual(['demo:session:*'])
    expect(findingsOf(report, 'cache/write-only-pattern').map((f) => f.subject)).toEqual(['demo:recs:*'])
    expect(report.findings.filter((f) => f.subject === 'demo:product:*')).toEqual([])
    expect(await seed.cleanup()).toBe(seed.keys)
    const c = await client(server.url)
    expect(await c.dbsize()).toBe(0)
    c.disconnect()
    expect(await cleanupDemoRedis(server.url, 'demo')).toBe(0)
  })
})
