import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {redisDriver} from '../../../src/drivers/redis.js'
import {sidekiqQueuesProbe} from '../../../src/probes/queues/sidekiq.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {runQueueProbe, type ProbeRun} from './helpers.js'

/** Sidekiq's documented layout written with plain Redis commands, as Sidekiq's client and launcher write it. */
describe('Sidekiq queues', () => {
  let server: RedisServer
  let redis: Redis
  let run: ProbeRun
  const nowS = () => Date.now() / 1000
  const job = (queue: string, enqueuedAt: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({class: 'HardWorker', args: [1], retry: true, queue, jid: Math.random().toString(16).slice(2, 14), created_at: enqueuedAt, enqueued_at: enqueuedAt, ...extra})

  beforeAll(async () => {
    server = await startRedis()
    redis = new Redis(server.url)
    await redis.sadd('queues', 'default', 'mailers')
    // Sidekiq < 8: float seconds. LPUSH puts the first (oldest) job at the right end.
    await redis.lpush('queue:default', job('default', nowS() - 600.25))
    for (let i = 0; i < 3; i++) await redis.lpush('queue:default', ...Array.from({length: 500}, () => job('default', nowS())))
    // Sidekiq 8: integer milliseconds.
    await redis.lpush('queue:mailers', ...Array.from({length: 20}, () => job('mailers', Date.now() - 5000)))
    // One live process with 5 threads fetching only from mailers.
    await redis.sadd('processes', 'host:123:abc')
    await redis.hset('host:123:abc', 'info', JSON.stringify({hostname: 'host', pid: 123, concurrency: 5, queues: ['mailers'], identity: 'host:123:abc'}), 'busy', 2, 'beat', nowS(), 'quiet', 'false')
    await redis.expire('host:123:abc', 60)
    await redis.set('stat:processed', 1000)
    // Two jobs died a moment ago (scored by time of death, seconds).
    for (const msg of ['Net::ReadTimeout', 'undefined method']) {
      await redis.zadd('dead', nowS(), job('default', nowS() - 60, {error_class: 'RuntimeError', error_message: msg, failed_at: nowS()}))
    }
    await redis.zadd('retry', nowS() + 30, job('mailers', nowS() - 60, {error_class: 'Timeout', error_message: 'smtp timeout', failed_at: nowS()}))
    run = await runQueueProbe(redisDriver, sidekiqQueuesProbe, {name: 'redis-test', kind: 'redis', url: server.url})
  })

  afterAll(async () => {
    redis?.disconnect()
    await server?.stop()
  })

  const q = (name: string) => run.queues.find((x) => x.name === name)!

  it('reads depth, latency in both enqueued_at units, and threads listening per queue', () => {
    expect(run.status).toBe('ok')
    expect(q('default')).toMatchObject({depth: 1501, consumers: 0})
    expect(q('default').oldestAgeSeconds).toBeGreaterThan(590)
    expect(q('default').oldestAgeSeconds).toBeLessThan(700)
    expect(q('mailers')).toMatchObject({depth: 20, consumers: 5})
    expect(q('mailers').oldestAgeSeconds).toBeGreaterThan(3)
    expect(q('mailers').oldestAgeSeconds).toBeLessThan(30)
    // Two deaths and one retry, all failed within the lookback (the retry dated by its failed_at, not its score).
    expect(q('*')).toMatchObject({aggregate: true, failed: 3, inFlight: 2, deadLetterGrowth: 3, deadLetterBasis: 'timestamps'})
  })

  it('fires depth, latency and no-consumers on the backlog and stays quiet on the healthy queue', () => {
    expect(run.findings('queue/depth', 'sidekiq:default')[0]?.severity).toBe('critical')
    expect(run.findings('queue/latency', 'sidekiq:default')[0]?.severity).toBe('critical')
    expect(run.findings('queue/no-consumers', 'sidekiq:default')[0]?.severity).toBe('critical')
    for (const rule of ['queue/depth', 'queue/latency', 'queue/no-consumers']) expect(run.findings(rule, 'sidekiq:mailers')).toEqual([])
    // The aggregate record never yields a depth finding of its own.
    expect(run.findings('queue/depth', 'sidekiq:*')).toEqual([])
  })

  it('samples the error messages of dead and retrying jobs for triage', () => {
    const [finding] = run.findings('queue/dead-letter-growth', 'sidekiq:*')
    expect(finding?.severity).toBe('warning')
    const remedy = finding.remedies.find((r) => r.kind === 'dead-letter')!
    expect(remedy.summary).toMatch(/Net::ReadTimeout|undefined method/)
    expect(String(remedy.command)).toContain("ZREVRANGE 'dead'")
  })

  it('stays quiet when nothing is queued and nothing died', async () => {
    await redis.flushdb()
    await redis.sadd('queues', 'default')
    await redis.lpush('queue:default', ...Array.from({length: 20}, () => job('default', nowS() - 1)))
    const quiet = await runQueueProbe(redisDriver, sidekiqQueuesProbe, {name: 'redis-test', kind: 'redis', url: server.url})
    const fired = quiet.report.findings.filter((f) => f.rule.startsWith('queue/') && f.rule !== 'queue/no-consumers')
    expect(fired).toEqual([])
  })
})
