import {Queue} from 'bullmq'
import {remediesOfKind, remedyOfKind} from '../../../src/core/remedies.js'
import {randomUUID} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {afterEach, describe, expect, it} from 'vitest'
import type {Redis} from 'ioredis'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import type {KeyspaceSampleData} from '../../../src/probes/redis/keyspace-sample.js'
import {auditRedis, client, findingsOf, readingOf, redisTarget} from './audit-helpers.js'

const servers: RedisServer[] = []
async function server(opts: Parameters<typeof startRedis>[0] = {}) {
  const s = await startRedis(opts)
  servers.push(s)
  return s
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

/** Rewrites a key with a chosen idle time (RESTORE ... IDLETIME), as if nothing had touched it for that long. */
async function ageKey(c: Redis, key: string, idleSeconds: number, ttlMs = 0) {
  const dump = await c.dumpBuffer(key)
  await c.call('RESTORE', key, String(ttlMs), dump as unknown as string, 'REPLACE', 'IDLETIME', String(idleSeconds))
}

describe('ttl advisor: no-TTL cache patterns', () => {
  it('proposes a TTL for a cache pattern without expiry and none for a pattern with TTLs', async () => {
    const s = await server({maxmemory: '64mb', policy: 'allkeys-lru'})
    const c = await client(s.url)
    for (let i = 0; i < 40; i++) {
      await c.set(`page:${randomUUID()}`, JSON.stringify({html: 'x'.repeat(50), i}))
      await c.set(`product:${1000 + i}`, 'p'.repeat(200), 'EX', 3600)
    }
    // Pages read every 10..49 minutes: a 90% hit rate needs hours, so the 1h staleness budget caps t at 30 min (2t = 1h).
    const pages = (await c.keys('page:*')).sort()
    for (const [i, key] of pages.entries()) await ageKey(c, key, 600 + i * 60)
    c.disconnect()

    const {report, snapshot} = await auditRedis([redisTarget(s.url)])
    const sample = readingOf(snapshot, 'redis.keys').data as KeyspaceSampleData
    expect(sample.patterns.map((p) => p.pattern).sort()).toEqual(['page:*', 'product:*'])
    expect(sample.complete).toBe(true)
    const findings = findingsOf(report, 'cache/no-ttl-pattern')
    expect(findings.map((f) => f.subject)).toEqual(['page:*'])
    expect(findings[0].evidence).toMatchObject({keyClass: 'cache', classifiedBy: expect.stringMatching(/^access:/)})
    const [remedy] = findings[0].remedies
    expect(remedy).toMatchObject({kind: 'ttl', pattern: 'page:*', ttlSeconds: 1800, ttlMaxSeconds: 3600, keysAffected: 40})
    expect(String((remedy.estimate as {method?: string}).method)).toMatch(/staleness budget/)
    expect(String(remedy.command)).toContain(`--quoted-pattern '"page:*"'`)
    expect(String(remedy.command)).not.toContain(s.url)
    expect(findingsOf(report, 'cache/no-ttl-pattern').some((f) => f.subject === 'product:*')).toBe(false)
  })

  it('its command sets TTLs between t and 2t on exactly the pattern\'s keys without touching others', async () => {
    const s = await server()
    const c = await client(s.url)
    for (let i = 0; i < 30; i++) await c.set(`page:${randomUUID()}`, 'x')
    await c.set('page:keep', 'x', 'EX', 99999)
    await c.set('other:1', 'x')
    const {report} = await auditRedis([redisTarget(s.url)])
    const remedy = remedyOfKind(findingsOf(report, 'cache/no-ttl-pattern').find((f) => f.subject === 'page:*')!.remedies, 'ttl')!
    // The ttl applier can carry it out (chokepoint apply); the test runs the command to prove it is right.
    expect(remedy.applier).toBe('ttl')
    execFileSync('bash', ['-c', String(remedy.command)], {env: {...process.env, REDIS_URL: s.url}, stdio: 'pipe'})
    const ttl = Number(remedy.ttlSeconds)
    expect(remedy.ttlMaxSeconds).toBe(2 * ttl)
    const ttls = []
    for (const key of (await c.keys('page:*')).filter((k) => k !== 'page:keep')) ttls.push(await c.ttl(key))
    expect(ttls).toHaveLength(30)
    for (const t of ttls) {
      expect(t).toBeGreaterThanOrEqual(ttl - 1)
      expect(t).toBeLessThanOrEqual(2 * ttl)
    }
    expect(new Set(ttls).size).toBeGreaterThan(1)
    expect(await c.ttl('page:keep')).toBeGreaterThan(99000)
    expect(await c.ttl('other:1')).toBe(-1)
    c.disconnect()
  })
})

describe('ttl advisor: key classes (issue 9)', () => {
  it('never backfills EXPIRE on sessions read every ~23 s; advises a sliding expiry set by the application', async () => {
    const s = await server({maxmemory: '64mb', policy: 'allkeys-lru'})
    const c = await client(s.url)
    // Live sessions, each last read 20..26 s ago. The old advisor proposed "Expire after 1min" from these idle times.
    for (let i = 0; i < 30; i++) {
      const key = `app:session:${randomUUID()}`
      await c.set(key, JSON.stringify({user: i}))
      await ageKey(c, key, 20 + (i % 7))
    }
    c.disconnect()
    const {report} = await auditRedis([redisTarget(s.url)])
    const [finding] = findingsOf(report, 'cache/no-ttl-pattern').filter((f) => f.subject === 'app:session:*')
    const remedies = remediesOfKind(finding.remedies, 'ttl')
    expect(remedies).toHaveLength(1)
    expect(remedies[0].command).toBeUndefined()
    expect(remedies[0].ttlSeconds).toBeUndefined()
    expect(finding.evidence).toMatchObject({keyClass: 'session', classifiedBy: 'name: segment "session"'})
    expect(remedies[0]).toMatchObject({sliding: true, setting: expect.stringMatching(/session lifetime/)})
    expect(remedies[0].summary).toMatch(/sliding expiry set by the application/)
    // Advice only: no applier backfills a session pattern (chokepoint apply says it stays advice).
    expect(remedies[0].applier).toBeNull()
    expect(remedies[0].summary).toMatch(/EXPIRE counts down from now/)
    expect(report.findings.flatMap((f) => f.remedies).some((r) => /EXPIRE/.test(String(r.command ?? '')))).toBe(false)
  })

  it('gives a read cache a TTL whose stated hit rate follows h = r·t/(1 + r·t), and no EXPIRE to locks, counters or a stream', async () => {
    const s = await server({maxmemory: '64mb', policy: 'allkeys-lru'})
    const c = await client(s.url)
    for (let i = 0; i < 20; i++) {
      // A product cache read about every 100 s per key: idle 20..115 s.
      await c.set(`product:${1000 + i}`, 'p'.repeat(300))
      await ageKey(c, `product:${1000 + i}`, 20 + i * 5)
      await c.set(`lock:order:${1000 + i}`, randomUUID())
      await c.incr(`counter:views:${1000 + i}`)
      await c.xadd(`orders:${1000 + i}`, '*', 'id', String(i))
    }
    c.disconnect()
    const {report} = await auditRedis([redisTarget(s.url)])
    const bySubject = new Map(findingsOf(report, 'cache/no-ttl-pattern').map((f) => [f.subject, f]))
    expect([...bySubject.keys()].sort()).toEqual(['lock:order:*', 'product:*'])

    const product = bySubject.get('product:*')!
    expect(product.evidence.keyClass).toBe('cache')
    const remedy = remedyOfKind(product.remedies, 'ttl')!
    const r = Math.LN2 / Number((product.evidence.idleSeconds as {p50: number}).p50)
    const t = Number(remedy.ttlSeconds)
    const h = (r * t) / (1 + r * t)
    expect(remedy.expectedHitRate).toBeCloseTo(h, 3)
    // The target is 90% and the 1 h budget (2t <= 1 h) is not what limits it here.
    expect(h).toBeGreaterThanOrEqual(0.9)
    expect(2 * t).toBeLessThanOrEqual(3600)
    expect(remedy.summary).toContain(`expected hit rate ${Math.round(h * 100)}%`)
    expect(remedy.summary).toMatch(/backfills ~20 keys, ~[\d.]+ KiB/)
    expect(String(remedy.command)).toMatch(/EXPIRE %s %d NX/)

    const lock = bySubject.get('lock:order:*')!
    expect(lock.evidence).toMatchObject({keyClass: 'lock', classifiedBy: 'name: segment "lock"'})
    expect(lock.remedies.every((x) => x.command === undefined)).toBe(true)
    expect(lock.remedies[0].summary).toMatch(/SET key token NX PX/)
    // Counters and the stream get no TTL finding, and no remedy anywhere carries an EXPIRE for them.
    const commands = report.findings.flatMap((f) => f.remedies).map((x) => String(x.command ?? ''))
    expect(commands.filter((x) => /EXPIRE/.test(x))).toHaveLength(1)
    expect(commands.some((x) => /counter|orders|lock/.test(x))).toBe(false)
  })

  it('follows the ttlTargetHitRate and ttlStalenessSeconds options', async () => {
    const s = await server()
    const c = await client(s.url)
    for (let i = 0; i < 20; i++) {
      await c.set(`product:${1000 + i}`, 'p')
      await ageKey(c, `product:${1000 + i}`, 60 + i * 10)
    }
    c.disconnect()
    const strict = await auditRedis([redisTarget(s.url, 'cache', {ttlTargetHitRate: 0.99, ttlStalenessSeconds: 1200})])
    const remedy = remedyOfKind(findingsOf(strict.report, 'cache/no-ttl-pattern')[0].remedies, 'ttl')!
    // 99% would need hours; a 20 min budget allows t = 10 min (2t = 20 min), and the stated hit rate is what 10 min gives.
    expect(remedy).toMatchObject({ttlSeconds: 600, ttlMaxSeconds: 1200})
    expect(Number(remedy.expectedHitRate)).toBeLessThan(0.99)
    expect(remedy.estimate).toMatchObject({targetHitRate: 0.99, stalenessSeconds: 1200})
  })
})

describe('ttl advisor: written and never read', () => {
  it('flags a TTL\'d pattern whose keys were never read since written, not one that is read', async () => {
    const s = await server()
    const c = await client(s.url)
    // Both patterns are written with a 1h TTL. recs:* keys are 20 min old and idle 20 min (never read);
    // price:* keys are 20 min old but were read 10 s ago. One fresh key per pattern anchors the TTL's full length.
    for (let i = 0; i < 10; i++) {
      await c.set(`recs:${1000 + i}`, 'r'.repeat(100))
      await ageKey(c, `recs:${1000 + i}`, 1200, (3600 - 1200) * 1000)
      await c.set(`price:${1000 + i}`, '9.99')
      await ageKey(c, `price:${1000 + i}`, 10, (3600 - 1200) * 1000)
    }
    await c.set('recs:1', 'fresh', 'EX', 3600)
    await c.set('price:1', 'fresh', 'EX', 3600)
    c.disconnect()
    const {report} = await auditRedis([redisTarget(s.url)])
    const findings = findingsOf(report, 'cache/write-only-pattern')
    expect(findings.map((f) => f.subject)).toEqual(['recs:*'])
    expect(findings[0].evidence).toMatchObject({eligible: 10, unread: 10})
    expect(String(findings[0].evidence.basis)).toMatch(/idle≈age/)
  })
})

describe('ttl advisor: evictions and keys without TTL', () => {
  it('under volatile-lru, evictions while TTL-less keys hold the memory are a finding; without evictions, quiet', async () => {
    const s = await server({maxmemory: '6mb', policy: 'volatile-lru'})
    const c = await client(s.url)
    const blob = 'b'.repeat(8 * 1024)
    // Permanent keys fill most of memory; then a cache written with TTLs keeps getting evicted.
    const pipe = c.pipeline()
    for (let i = 0; i < 400; i++) pipe.set(`profile:${100000 + i}`, blob)
    await pipe.exec()
    const quiet = await auditRedis([redisTarget(s.url)])
    expect(findingsOf(quiet.report, 'cache/evictions-without-ttl')).toEqual([])
    const cache = c.pipeline()
    for (let i = 0; i < 600; i++) cache.set(`page:${100000 + i}`, blob, 'EX', 600)
    await cache.exec().catch(() => {})
    c.disconnect()
    const {report} = await auditRedis([redisTarget(s.url)])
    const [finding] = findingsOf(report, 'cache/evictions-without-ttl')
    expect(finding.severity).toBe('critical')
    expect(finding.message).toMatch(/volatile-lru/)
    expect(finding.message).toMatch(/every eviction hit a TTL'd key/)
    expect(finding.evidence.topNoTtlPatterns).toContain('profile:*')
    // The summary remedy names the per-pattern TTL remedy it builds on by id, and that remedy is in the report.
    const profileTtl = remedyOfKind(findingsOf(report, 'cache/no-ttl-pattern').find((f) => f.subject === 'profile:*')!.remedies, 'ttl')!
    expect(remedyOfKind(finding.remedies, 'ttl')!.refs).toContain(profileTtl.id)
  })
})

describe('ttl advisor: queue keys under an evicting policy', () => {
  async function bullmqKeys(url: string) {
    const queue = new Queue('emails', {connection: {host: '127.0.0.1', port: Number(new URL(url).port)}})
    for (let i = 0; i < 5; i++) await queue.add('send', {to: `user${i}@example.com`})
    await queue.close()
  }

  it('is critical for BullMQ keys under allkeys-lru, and no TTL is proposed for them', async () => {
    const s = await server({maxmemory: '64mb', policy: 'allkeys-lru'})
    await bullmqKeys(s.url)
    const {report, snapshot} = await auditRedis([redisTarget(s.url)])
    const sample = readingOf(snapshot, 'redis.keys').data as KeyspaceSampleData
    expect(sample.queues.bullmq?.queues).toEqual(['emails'])
    const [finding] = findingsOf(report, 'cache/queue-keys-evictable')
    expect(finding.severity).toBe('critical')
    expect(finding.message).toMatch(/bullmq \(emails\).*allkeys-lru/)
    expect(finding.remedies[0]).toMatchObject({kind: 'config', queueInstance: 'noeviction'})
    expect(report.findings.filter((f) => f.rule === 'cache/no-ttl-pattern' && f.subject.startsWith('bull:'))).toEqual([])
    expect(report.gate.exitCode).toBe(1)
  })

  it('is quiet under noeviction', async () => {
    const s = await server({maxmemory: '64mb', policy: 'noeviction'})
    await bullmqKeys(s.url)
    const {report} = await auditRedis([redisTarget(s.url)])
    expect(findingsOf(report, 'cache/queue-keys-evictable')).toEqual([])
    expect(report.findings.filter((f) => f.subject.startsWith('bull:'))).toEqual([])
  })

  it('recognises Sidekiq and Celery keys by their fixed names', async () => {
    const s = await server({maxmemory: '64mb', policy: 'allkeys-lfu'})
    const c = await client(s.url)
    await c.sadd('queues', 'default')
    await c.lpush('queue:default', '{"class":"HardJob"}')
    await c.lpush('celery', '{"body":"..."}')
    await c.sadd('_kombu.binding.celery', 'celery\x06\x16\x06\x16celery')
    c.disconnect()
    const {report} = await auditRedis([redisTarget(s.url)])
    const [finding] = findingsOf(report, 'cache/queue-keys-evictable')
    expect(String(finding.evidence.frameworks)).toMatch(/sidekiq/)
    expect(String(finding.evidence.frameworks)).toMatch(/celery/)
  })
})

describe('ttl advisor: queue keys under a custom BullMQ prefix', () => {
  it('never proposes a TTL on job hashes that the BullMQ probe places under its prefix', async () => {
    const s = await server({policy: 'noeviction'})
    // A hex-looking prefix generalises to "*", so the job hashes' pattern is "*:emails:*", which names alone cannot
    // tell from a cache pattern.
    const prefix = `app-${randomUUID().slice(0, 8)}-bull`
    const url = new URL(s.url)
    const queue = new Queue('emails', {prefix, connection: {host: url.hostname, port: Number(url.port)}})
    for (let i = 0; i < 30; i++) await queue.add('send', {to: `user${i}@example.com`})
    await queue.close()
    const c = await client(s.url)
    for (let i = 0; i < 30; i++) await c.set(`${prefix.replace('-bull', '')}:sessions:${randomUUID()}`, 'x')
    c.disconnect()

    const withPrefix = await auditRedis([redisTarget(s.url, 'cache', {queues: {bullmqPrefixes: [prefix]}})])
    const subjects = findingsOf(withPrefix.report, 'cache/no-ttl-pattern').map((f) => f.subject)
    expect(subjects).toContain('*:sessions:*')
    expect(subjects).not.toContain('*:emails:*')

    // Without the prefix configured, the key sampler recognises the queue from its <prefix>:emails:meta hash.
    const unconfigured = await auditRedis([redisTarget(s.url)])
    const unconfiguredSubjects = findingsOf(unconfigured.report, 'cache/no-ttl-pattern').map((f) => f.subject)
    expect(unconfiguredSubjects).toContain('*:sessions:*')
    expect(unconfiguredSubjects).not.toContain('*:emails:*')
  })
})
