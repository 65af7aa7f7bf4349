import {Queue, Worker} from 'bullmq'
import {remedyOfKind} from '../../../src/core/remedies.js'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {redisDriver} from '../../../src/drivers/redis.js'
import {bullmqQueuesProbe} from '../../../src/probes/queues/bullmq.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {runQueueProbe, sleep, type ProbeRun} from './helpers.js'

/**
 * A real BullMQ worker (concurrency 1, ~20 ms a job) behind a producer adding ~200 jobs/s: the workers advisor
 * must ask for more consumers. A second queue whose worker keeps up (nothing waiting) gets no advice.
 */
describe('workers advisor on a saturated BullMQ queue', () => {
  let server: RedisServer
  const closers: Array<() => Promise<void>> = []
  let run: ProbeRun

  beforeAll(async () => {
    server = await startRedis()
    const connection = {host: '127.0.0.1', port: server.port}
    const slow = new Queue('cpq_slow', {connection})
    const idle = new Queue('cpq_idle', {connection})
    closers.push(() => slow.close(), () => idle.close())
    const slowWorker = new Worker('cpq_slow', async () => sleep(20), {connection, concurrency: 1})
    const idleWorker = new Worker('cpq_idle', async () => {}, {connection, concurrency: 1})
    closers.push(() => slowWorker.close(true), () => idleWorker.close(true))
    await slow.addBulk(Array.from({length: 200}, (_, i) => ({name: 'job', data: {i}, opts: {removeOnComplete: true}})))
    let producing = true
    const producer = (async () => {
      while (producing) {
        await slow.addBulk(Array.from({length: 20}, (_, i) => ({name: 'job', data: {i}, opts: {removeOnComplete: true}})))
        await idle.add('job', {}, {removeOnComplete: true})
        await sleep(100)
      }
    })()
    await sleep(300)
    try {
      run = await runQueueProbe(redisDriver, bullmqQueuesProbe, {name: 'redis-test', kind: 'redis', url: server.url}, {windowSeconds: 2})
    } finally {
      producing = false
      await producer
    }
  })

  afterAll(async () => {
    for (const close of closers) await close().catch(() => {})
    await server?.stop()
  })

  it('recommends more consumers with the numbers that justify it', () => {
    const [finding] = run.findings('queue/workers', 'bullmq:cpq_slow')
    expect(finding).toBeDefined()
    expect(finding.severity).toBe('warning')
    const remedy = remedyOfKind(finding.remedies, 'workers')!
    expect(finding.remedies[0].kind).toBe('workers')
    expect(remedy.currentConsumers).toBe(1)
    expect(remedy.recommendedConsumers as number).toBeGreaterThan(1)
    expect(remedy.arrivalRate as number).toBeGreaterThan(remedy.serviceRate as number)
    expect(remedy).toHaveProperty('drainEtaSeconds', null)
    expect(run.findings('queue/growing', 'bullmq:cpq_slow')).toHaveLength(1)
  })

  it('says nothing about a queue whose worker keeps up', () => {
    expect(run.queues.find((q) => q.name === 'cpq_idle')!.depth).toBeLessThan(5)
    expect(run.findings('queue/workers', 'bullmq:cpq_idle')).toEqual([])
    expect(run.findings('queue/growing', 'bullmq:cpq_idle')).toEqual([])
  })
})
