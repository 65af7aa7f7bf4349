import {Queue, Worker} from 'bullmq'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {redisDriver} from '../../../src/drivers/redis.js'
import {bullmqQueuesProbe} from '../../../src/probes/queues/bullmq.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {runQueueProbe, until, type ProbeRun} from './helpers.js'

/**
 * A private redis-server filled by the real bullmq package: a 1,500-job backlog whose oldest job is 10 minutes
 * old and no worker, a healthy queue with a busy worker and 20 waiting, a queue whose job failed, a paused queue.
 */
describe('BullMQ queues', () => {
  let server: RedisServer
  let connection: {host: string; port: number}
  const queues: Queue[] = []
  let busyWorker: Worker
  let release: () => void = () => {}
  let run: ProbeRun

  beforeAll(async () => {
    server = await startRedis()
    connection = {host: '127.0.0.1', port: server.port}
    const open = (name: string) => {
      const q = new Queue(name, {connection})
      queues.push(q)
      return q
    }

    const backlog = open('cpq_backlog')
    await backlog.add('old', {n: 0}, {timestamp: Date.now() - 10 * 60_000})
    for (let start = 1; start < 1500; start += 500) {
      await backlog.addBulk(Array.from({length: Math.min(500, 1500 - start)}, (_, i) => ({name: 'job', data: {n: start + i}})))
    }

    // Healthy: one worker holding one job (concurrency 1, released at the end), 20 waiting, one delayed.
    const healthy = open('cpq_healthy')
    const held = new Promise<void>((r) => (release = r))
    busyWorker = new Worker('cpq_healthy', async () => held, {connection, concurrency: 1})
    await healthy.add('first', {})
    await until(async () => (await healthy.getActiveCount()) === 1, 'the healthy worker to take a job')
    await healthy.addBulk(Array.from({length: 20}, (_, i) => ({name: 'job', data: {i}})))
    await healthy.add('later', {}, {delay: 3_600_000})

    const failing = open('cpq_failing')
    const thrower = new Worker('cpq_failing', async () => {
      throw new Error('payment gateway timeout')
    }, {connection})
    await failing.add('charge', {amount: 10})
    await until(async () => (await failing.getFailedCount()) === 1, 'the failing job to fail')
    await thrower.close()

    const paused = open('cpq_paused')
    await paused.pause()
    await paused.addBulk(Array.from({length: 5}, (_, i) => ({name: 'job', data: {i}})))

    run = await runQueueProbe(redisDriver, bullmqQueuesProbe, {name: 'redis-test', kind: 'redis', url: server.url})
  })

  afterAll(async () => {
    release()
    await busyWorker?.close()
    await Promise.all(queues.map((q) => q.close()))
    await server?.stop()
  })

  const q = (name: string) => run.queues.find((x) => x.name === name)!

  it('reads depth, age, workers, in-flight, delayed and failed per queue', () => {
    expect(run.status).toBe('ok')
    expect(q('cpq_backlog')).toMatchObject({depth: 1500, consumers: 0, inFlight: 0, failed: 0})
    expect(q('cpq_backlog').oldestAgeSeconds).toBeGreaterThan(590)
    expect(q('cpq_healthy')).toMatchObject({depth: 20, consumers: 1, inFlight: 1, delayed: 1})
    expect(q('cpq_healthy').oldestAgeSeconds).toBeLessThan(60)
    expect(q('cpq_failing')).toMatchObject({depth: 0, failed: 1})
    expect(q('cpq_failing').failureSamples?.[0].reason).toContain('payment gateway timeout')
    expect(q('cpq_paused')).toMatchObject({depth: 5, paused: true})
  })

  it('fires depth, latency and no-consumers on the backlog and stays quiet on the healthy queue', () => {
    expect(run.findings('queue/depth', 'bullmq:cpq_backlog')[0]?.severity).toBe('critical')
    expect(run.findings('queue/latency', 'bullmq:cpq_backlog')[0]?.severity).toBe('critical')
    expect(run.findings('queue/no-consumers', 'bullmq:cpq_backlog')[0]?.severity).toBe('critical')
    expect(run.findings('queue/depth', 'bullmq:cpq_healthy')).toEqual([])
    expect(run.findings('queue/latency', 'bullmq:cpq_healthy')).toEqual([])
    expect(run.findings('queue/no-consumers', 'bullmq:cpq_healthy')).toEqual([])
  })

  it('reports the recent failure with its reason and the command to inspect it', () => {
    const [finding] = run.findings('queue/dead-letter-growth', 'bullmq:cpq_failing')
    expect(finding?.severity).toBe('warning')
    const remedy = finding.remedies.find((r) => r.kind === 'dead-letter')!
    expect(remedy.summary).toContain('payment gateway timeout')
    expect(remedy.command).toContain("ZREVRANGE 'bull:cpq_failing:failed'")
    expect(run.findings('queue/dead-letter-growth', 'bullmq:cpq_backlog')).toEqual([])
  })

  it('costs a handful of round trips whatever the number of queues', () => {
    // Discovery SCANs grow with the keyspace (COUNT 100 each); the reads do not grow with the queues:
    // the connection handshake (one pipelined round trip) + INFO at connect + CLIENT LIST + at most three pipelines.
    const commands = run.snapshot.overhead![0].commands
    const scans = commands.filter((c) => c.text.startsWith('SCAN')).reduce((n, c) => n + c.count, 0)
    expect(scans).toBeGreaterThan(0)
    expect(run.roundTrips - scans).toBeLessThanOrEqual(6)
  })

  it('measures arrivals and growth over a window: growing fires while jobs arrive faster than they leave', async () => {
    const backlog = queues.find((x) => x.name === 'cpq_backlog')!
    const windowed = await runQueueProbe(redisDriver, bullmqQueuesProbe, {name: 'redis-test', kind: 'redis', url: server.url}, {
      windowSeconds: 1,
      between: async () => {
        await backlog.addBulk(Array.from({length: 60}, (_, i) => ({name: 'burst', data: {i}})))
      },
    })
    const b = windowed.queues.find((x) => x.name === 'cpq_backlog')!
    expect(b.netGrowth).toBe(60)
    expect(b.arrivalRate).toBeGreaterThan(0)
    expect(b.draining).toBe(false)
    expect(windowed.findings('queue/growing', 'bullmq:cpq_backlog')[0]?.severity).toBeDefined()
    // The healthy queue did not grow.
    expect(windowed.findings('queue/growing', 'bullmq:cpq_healthy')).toEqual([])
  })
})
