import {Queue, Worker} from 'bullmq'
import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {redisDriver} from '../../../src/drivers/redis.js'
import {bullmqQueuesProbe} from '../../../src/probes/queues/bullmq.js'
import {sidekiqQueuesProbe} from '../../../src/probes/queues/sidekiq.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {runQueueProbe, until} from './helpers.js'

const RULE = 'queue/dead-letter-growth'
const MINUTE = 60_000

/**
 * Failures a minute before the audit are growth the sampling window cannot see: the failed count does not move
 * during a 5 s window. They are judged over the queue's own recent history (the default 15 min lookback), dated
 * by the framework's own timestamps; failures older than the lookback are quiet.
 */
describe('failed-job growth over the queue\'s own recent history', () => {
  let server: RedisServer
  let redis: Redis
  const queues: Queue[] = []

  beforeAll(async () => {
    server = await startRedis()
    redis = new Redis(server.url)
  })

  afterAll(async () => {
    await Promise.all(queues.map((q) => q.close()))
    redis?.disconnect()
    await server?.stop()
  })

  /** 40 jobs failed for real by a bullmq Worker, then dated `agoMs` earlier (zset score and job finishedOn). */
  async function failedJobs(name: string, agoMs: number): Promise<void> {
    const connection = {host: '127.0.0.1', port: server.port}
    const queue = new Queue(name, {connection})
    queues.push(queue)
    const worker = new Worker(name, async () => {
      throw new Error('card declined by the gateway')
    }, {connection, concurrency: 10})
    await queue.addBulk(Array.from({length: 40}, (_, i) => ({name: 'charge', data: {i}})))
    await until(async () => (await queue.getFailedCount()) === 40, `40 jobs of ${name} to fail`)
    await worker.close()
    const scored = await redis.zrange(`bull:${name}:failed`, '0', '-1', 'WITHSCORES')
    for (let i = 0; i < scored.length; i += 2) {
      const id = scored[i]
      const score = Number(scored[i + 1])
      await redis.zadd(`bull:${name}:failed`, score - agoMs, id)
      await redis.hset(`bull:${name}:${id}`, 'finishedOn', String(score - agoMs))
    }
  }

  it('BullMQ: 40 jobs failed a minute before the audit are reported with the default 5 s window; 40 failed 20 minutes ago are not', async () => {
    await failedJobs('cpq_failed_minute_ago', MINUTE)
    await failedJobs('cpq_failed_long_ago', 20 * MINUTE)
    const run = await runQueueProbe(redisDriver, bullmqQueuesProbe, {name: 'redis-test', kind: 'redis', url: server.url}, {windowSeconds: 5})
    const fresh = run.queues.find((q) => q.name === 'cpq_failed_minute_ago')!
    // The window saw no change in the failed count; the lookback holds all 40.
    expect(fresh).toMatchObject({failed: 40, deadLetterGrowth: 40, deadLetterBasis: 'timestamps', recentFailureSeconds: 900, windowSeconds: 5})
    expect(fresh.failureRate).toBeCloseTo(40 / 900, 3)
    const [finding] = run.findings(RULE, 'bullmq:cpq_failed_minute_ago')
    expect(finding?.severity).toBe('critical')
    expect(finding.message).toContain("40 jobs of bullmq:cpq_failed_minute_ago failed or were dead-lettered (dated in the last 15 min by the queue's own timestamps")
    expect(finding.evidence).toMatchObject({lookbackSeconds: 900, failuresPerMinute: round2(40 / 15)})
    expect(finding.remedies.find((r) => r.kind === 'dead-letter')?.summary).toContain('card declined by the gateway')

    expect(run.queues.find((q) => q.name === 'cpq_failed_long_ago')).toMatchObject({failed: 40, deadLetterGrowth: 0})
    expect(run.findings(RULE, 'bullmq:cpq_failed_long_ago')).toEqual([])
    expect(run.report.checks.find((c) => c.rule === RULE && c.subject === 'bullmq:cpq_failed_long_ago')?.status).toBe('ok')
  })

  it('Sidekiq: dead and retry jobs failed a minute ago are reported over a window; retries dated by their last failure, not their retry time', async () => {
    const nowS = () => Date.now() / 1000
    const job = (extra: Record<string, unknown>) =>
      JSON.stringify({class: 'ChargeJob', args: [1], retry: true, queue: 'default', jid: Math.random().toString(16).slice(2, 14), error_class: 'Stripe::CardError', error_message: 'card declined', ...extra})
    for (const [ns, ago] of [['fresh', 60], ['old', 20 * 60]] as const) {
      await redis.sadd(`${ns}:queues`, 'default')
      for (let i = 0; i < 30; i++) await redis.zadd(`${ns}:dead`, nowS() - ago, job({failed_at: nowS() - ago - 100}))
      // Retries are scored by their next attempt, in the future for both: only retried_at tells when they failed.
      for (let i = 0; i < 10; i++) await redis.zadd(`${ns}:retry`, nowS() + 600, job({failed_at: nowS() - 3 * 3600, retried_at: nowS() - ago, retry_count: 5}))
    }
    const probe = (ns: string, extra: Record<string, unknown> = {}) => runQueueProbe(redisDriver, sidekiqQueuesProbe,
      {name: 'redis-test', kind: 'redis', url: server.url, options: {queues: {sidekiqNamespace: ns, ...extra}}}, {windowSeconds: 1})

    const fresh = await probe('fresh')
    expect(fresh.queues.find((q) => q.name === '*')).toMatchObject({failed: 40, deadLetterGrowth: 40, deadLetterBasis: 'timestamps',
      details: expect.objectContaining({recentDead: 30, recentRetries: 10})})
    expect(fresh.findings(RULE, 'sidekiq:*')[0]?.severity).toBe('critical')

    // Reading fewer retries than wait makes the count a floor, and the evidence says so.
    const bounded = await probe('fresh', {retryScanLimit: 4})
    expect(bounded.queues.find((q) => q.name === '*')).toMatchObject({deadLetterGrowth: 34, recentFailuresLowerBound: true})
    expect(bounded.findings(RULE, 'sidekiq:*')[0]?.message).toContain('(at least, dated in the last 15 min')

    const old = await probe('old')
    expect(old.queues.find((q) => q.name === '*')).toMatchObject({failed: 40, deadLetterGrowth: 0})
    expect(old.findings(RULE, 'sidekiq:*')).toEqual([])
  })
})

function round2(n: number): number {
  return Math.round(n * 100) / 100
}
