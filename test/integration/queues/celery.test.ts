import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {redisDriver} from '../../../src/drivers/redis.js'
import {celeryQueuesProbe} from '../../../src/probes/queues/celery.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {runQueueProbe, type ProbeRun} from './helpers.js'

const SEP = '\x06\x16'

/** kombu's Redis transport layout written with plain Redis commands: message JSON as Celery protocol 2 sends it. */
function celeryMessage(queue: string, task = 'tasks.send_email', priority = 0): string {
  const id = Math.random().toString(16).slice(2)
  return JSON.stringify({
    body: Buffer.from(JSON.stringify([[1], {}, {callbacks: null}])).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: {lang: 'py', task, id, shadow: null, eta: null, expires: null, group: null, retries: 0, timelimit: [null, null], root_id: id, parent_id: null, argsrepr: '(1,)', kwargsrepr: '{}', origin: 'gen1@host'},
    properties: {correlation_id: id, reply_to: 'r', delivery_mode: 2, delivery_info: {exchange: '', routing_key: queue}, priority, body_encoding: 'base64', delivery_tag: id},
  })
}

describe('Celery queues on Redis', () => {
  let server: RedisServer
  let redis: Redis
  let run: ProbeRun

  beforeAll(async () => {
    server = await startRedis()
    redis = new Redis(server.url)
    await redis.sadd('_kombu.binding.celery', `celery${SEP}${SEP}celery`)
    await redis.sadd('_kombu.binding.emails', `emails${SEP}${SEP}emails`)
    for (let i = 0; i < 3; i++) await redis.lpush('celery', ...Array.from({length: 500}, () => celeryMessage('celery', 'tasks.report')))
    await redis.lpush(`celery${SEP}9`, ...Array.from({length: 10}, () => celeryMessage('celery', 'tasks.urgent', 9)))
    await redis.lpush('emails', ...Array.from({length: 20}, () => celeryMessage('emails')))
    for (let i = 0; i < 3; i++) {
      await redis.hset('unacked', `tag${i}`, JSON.stringify([celeryMessage('emails'), '', 'emails']))
      await redis.zadd('unacked_index', Date.now() / 1000 - 30, `tag${i}`)
    }
    run = await runQueueProbe(redisDriver, celeryQueuesProbe, {name: 'redis-test', kind: 'redis', url: server.url})
  })

  afterAll(async () => {
    redis?.disconnect()
    await server?.stop()
  })

  const q = (name: string) => run.queues.find((x) => x.name === name)!

  it('discovers queues from kombu bindings and counts the priority lists', () => {
    expect(run.status).toBe('ok')
    expect(q('celery').depth).toBe(1510)
    expect(q('emails').depth).toBe(20)
    expect(q('*')).toMatchObject({aggregate: true, inFlight: 3})
  })

  it('says the age is unknown instead of inventing it, and does not guess consumers', () => {
    expect(q('celery').oldestAgeSeconds).toBeNull()
    expect(q('celery').ageNote).toMatch(/no enqueue time/)
    expect(q('celery').consumers).toBeNull()
    expect(run.findings('queue/latency')).toEqual([])
    expect(run.findings('queue/no-consumers')).toEqual([])
  })

  it('fires queue/depth on the backlog and stays quiet on the healthy queue', () => {
    expect(run.findings('queue/depth', 'celery:celery')[0]?.severity).toBe('critical')
    expect(run.findings('queue/depth', 'celery:emails')).toEqual([])
  })
})
