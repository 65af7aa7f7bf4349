import {readFileSync} from 'node:fs'
import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {QueueSummary} from '../../../src/probes/queues/normalise.js'
import type {KeyspaceSampleData} from '../../../src/probes/redis/keyspace-sample.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {auditRedis, readingOf, redisTarget} from '../redis/audit-helpers.js'

const SEP = '\x06\x16'
const QUEUE_PROBES = ['queues.bullmq', 'queues.sidekiq', 'queues.celery']

/** The ACL line documented in docs/probes.md (Redis, "Minimal ACL"), so the test follows the documentation. */
function documentedAcl(): string[] {
  const docs = readFileSync(new URL('../../../docs/probes.md', import.meta.url), 'utf8')
  const line = /^ACL SETUSER chokepoint (.+)$/m.exec(docs)?.[1]
  if (!line) throw new Error('no "ACL SETUSER chokepoint" line in docs/probes.md')
  return line.trim().split(/\s+/)
}

/** The cache-only subset: the documented line without the queue probes' commands. */
const CACHE_ONLY = ['on', '~*', 'resetchannels', '-@all', '+info', '+ping', '+client|setname', '+dbsize', '+scan', '+type', '+pttl', '+memory|usage',
  '+object|idletime', '+object|freq', '+config|get', '+cluster|nodes']

describe('queue probes under an ACL-limited user', () => {
  let server: RedisServer
  let admin: Redis

  beforeAll(async () => {
    server = await startRedis({maxmemory: '64mb', policy: 'noeviction'})
    admin = new Redis(server.url)
    // Sidekiq: a queue with one job 120 s old, one live process with 4 threads on it.
    await admin.sadd('queues', 'default')
    await admin.lpush('queue:default', JSON.stringify({class: 'W', jid: 'j1', queue: 'default', enqueued_at: Date.now() / 1000 - 120}))
    await admin.sadd('processes', 'h:1:a')
    await admin.hset('h:1:a', 'info', JSON.stringify({concurrency: 4, queues: ['default']}), 'busy', 1, 'quiet', 'false')
    // BullMQ: 3 waiting jobs with timestamps, an id counter and meta.
    for (const id of ['1', '2', '3']) await admin.hset(`bull:emails:${id}`, 'timestamp', Date.now() - 60_000, 'name', 'send')
    await admin.lpush('bull:emails:wait', '1', '2', '3')
    await admin.set('bull:emails:id', 3)
    await admin.hset('bull:emails:meta', 'version', 'bullmq:5.0.0')
    // Celery: the default queue with 2 messages and its kombu binding.
    await admin.sadd('_kombu.binding.celery', `celery${SEP}${SEP}celery`)
    await admin.lpush('celery', JSON.stringify({headers: {task: 't'}, properties: {}}), JSON.stringify({headers: {task: 't'}, properties: {}}))
    for (let i = 0; i < 10; i++) await admin.set(`session:${100000 + i}`, 'x')

    await admin.call('ACL', 'SETUSER', 'chokepoint', ...documentedAcl().map((t) => (t === '>CHANGE-ME' ? '>acl-test-pw-1' : t)))
    await admin.call('ACL', 'SETUSER', 'cacheonly', ...CACHE_ONLY, '>acl-test-pw-2')
    await admin.call('ACL', 'SETUSER', 'noclientlist', ...documentedAcl().filter((t) => t !== '+client|list' && t !== '>CHANGE-ME'), '>acl-test-pw-3')
  })

  afterAll(async () => {
    admin?.disconnect()
    await server?.stop()
  })

  const url = (user: string, pw: string) => `redis://${user}:${pw}@127.0.0.1:${server.port}`
  const queuesOf = (data: unknown) => (data as {queues: QueueSummary[]}).queues

  it('the documented minimal ACL is read-only (no write, admin or dangerous command beyond CLIENT LIST)', async () => {
    const acl = documentedAcl()
    expect(acl).not.toContain('+@all')
    expect(acl).not.toContain('+@write')
    expect(acl.filter((t) => t.startsWith('+')).map((t) => t.slice(1).split('|')[0])).not.toEqual(expect.arrayContaining(['set']))
    const commands = acl.filter((t) => t.startsWith('+') && !t.startsWith('+@')).map((t) => t.slice(1))
    // Ask the server which of them write: COMMAND INFO flags.
    const infos = (await admin.call('COMMAND', 'INFO', ...new Set(commands.map((c) => c.split('|')[0])))) as Array<[string, number, string[]]>
    for (const [name, , flags] of infos) expect(flags.map(String), name).not.toContain('write')
  })

  it('with the documented minimal ACL the audit is complete and every queue probe reads its queues', async () => {
    const {report, snapshot} = await auditRedis([redisTarget(url('chokepoint', 'acl-test-pw-1'))])
    expect(report.gate.incomplete).toBe(false)
    expect([0, 1]).toContain(report.gate.exitCode)
    expect(snapshot.readings.map((r) => [r.probe, r.status, r.reason ?? ''])).toEqual([
      ['redis.info', 'ok', ''], ['redis.config', 'ok', ''], ['redis.keys', 'ok', ''],
      ['queues.bullmq', 'ok', ''], ['queues.sidekiq', 'ok', ''], ['queues.celery', 'ok', '']])
    expect((readingOf(snapshot, 'redis.keys').data as KeyspaceSampleData).skipped).toEqual({})
    const bull = queuesOf(readingOf(snapshot, 'queues.bullmq').data).find((q) => q.name === 'emails')!
    expect(bull).toMatchObject({depth: 3, consumers: 0})
    expect(bull.oldestAgeSeconds).toBeGreaterThan(50)
    const sidekiq = queuesOf(readingOf(snapshot, 'queues.sidekiq').data).find((q) => q.name === 'default')!
    expect(sidekiq).toMatchObject({depth: 1, consumers: 4})
    expect(sidekiq.oldestAgeSeconds).toBeGreaterThan(100)
    expect(queuesOf(readingOf(snapshot, 'queues.celery').data).find((q) => q.name === 'celery')).toMatchObject({depth: 2})
  })

  it('with the cache-only subset the queue probes are skipped naming the command and the ACL to add; the audit stays complete', async () => {
    const {report, snapshot} = await auditRedis([redisTarget(url('cacheonly', 'acl-test-pw-2'))])
    expect(report.gate.incomplete).toBe(false)
    expect(report.gate.exitCode).not.toBe(3)
    for (const probe of ['redis.info', 'redis.config', 'redis.keys']) expect(readingOf(snapshot, probe).status).toBe('ok')
    const reasons = Object.fromEntries(QUEUE_PROBES.map((p) => [p, readingOf(snapshot, p)]))
    for (const r of Object.values(reasons)) expect(r.status).toBe('skipped')
    expect(reasons['queues.sidekiq'].reason).toBe('SMEMBERS is not permitted for this user: add +smembers to its ACL')
    expect(reasons['queues.celery'].reason).toBe('SMEMBERS is not permitted for this user: add +smembers to its ACL')
    // BullMQ finds its queue with SCAN (allowed), then every refused command of the read is named at once.
    expect(reasons['queues.bullmq'].reason).toMatch(/^LLEN, ZCARD, .* are not permitted for this user: add \+llen \+zcard .*\+zcount to its ACL$/)
    expect(report.skipped.map((s) => s.probe).sort()).toEqual([...QUEUE_PROBES].sort())
  })

  it('without +client|list BullMQ still reads its queues, with workers unknown and why', async () => {
    const {report, snapshot} = await auditRedis([redisTarget(url('noclientlist', 'acl-test-pw-3'))])
    expect(report.gate.incomplete).toBe(false)
    const reading = readingOf(snapshot, 'queues.bullmq')
    expect(reading.status).toBe('ok')
    const bull = queuesOf(reading.data).find((q) => q.name === 'emails')!
    expect(bull.depth).toBe(3)
    expect(bull.consumers).toBeNull()
    expect(JSON.stringify(bull)).toContain('CLIENT LIST is not permitted for this user: add +client|list to its ACL')
  })
})
