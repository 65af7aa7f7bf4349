import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {seedDemoQueues, type DemoQueueSeed} from '../../../src/demo/queue-seed.js'
import {redisDriver} from '../../../src/drivers/redis.js'
import {bullmqQueuesProbe} from '../../../src/probes/queues/bullmq.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {runQueueProbe} from './helpers.js'

describe('demo queue seed', () => {
  let server: RedisServer
  let seed: DemoQueueSeed

  beforeAll(async () => {
    server = await startRedis()
    seed = await seedDemoQueues(server.url, 'cpq_demo')
  })
  afterAll(async () => server?.stop())

  it('produces exactly the findings it promises, and cleans up after itself', async () => {
    const run = await runQueueProbe(redisDriver, bullmqQueuesProbe, {name: 'demo', kind: 'redis', url: server.url, options: seed.targetOptions})
    const fired = run.report.findings.filter((f) => f.rule.startsWith('queue/')).map((f) => `${f.rule} on ${f.subject}`).sort()
    expect(fired).toEqual([...seed.expected].sort())
    expect(run.queues.find((q) => q.name === 'cpq_demo:emails')).toMatchObject({depth: 1500, failed: 3})
    expect(await seed.cleanup()).toBeGreaterThan(1500)
    const client = new Redis(server.url)
    expect(await client.dbsize()).toBe(0)
    client.disconnect()
  })
})
