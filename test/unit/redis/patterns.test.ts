import {describe, expect, it} from 'vitest'
import {keyPattern, patternToGlob} from '../../../src/probes/redis/patterns.js'
import {customBullQueuePrefix, queueFrameworkOf} from '../../../src/probes/redis/queue-keys.js'
import {clusterPrimaries} from '../../../src/probes/redis/keyspace-sample.js'
import {keyspaceDbs, parseInfo} from '../../../src/probes/redis/info-parse.js'
import {classifyPattern, expireCommand, hitRate, proposeTtl, roundTtl, ttlForHitRate} from '../../../src/advisors/ttl.js'

describe('keyPattern', () => {
  const cases: Array<[string, string]> = [
    ['user:123:cart', 'user:*:cart'],
    ['session:0f8fad5b-d9cb-469f-a165-70867728950e', 'session:*'],
    ['cache:sha:9f86d081884c7d659a2feaa0c55ad015', 'cache:sha:*'],
    ['tok:AbC9xYz01QwErTy', 'tok:*'],
    ['bull:emails:wait', 'bull:emails:wait'],
    ['bull:emails:meta', 'bull:emails:meta'],
    ['bull:emails:42', 'bull:emails:*'],
    ['bull:emails:42:logs', 'bull:emails:*:logs'],
    ['cache/api/v1/users/42', 'cache/api/v1/users/*'],
    ['_kombu.binding.celery', '_kombu.binding.celery'],
    ['rate|10.0.0.1', 'rate|*'],
    ['user:bob@example.com:prefs', 'user:*:prefs'],
    ['stats:2024-05-01', 'stats:*'],
    ['queues', 'queues'],
    ['u1234:profile', '*:profile'],
  ]
  for (const [key, pattern] of cases) it(`${key} -> ${pattern}`, () => expect(keyPattern(key)).toBe(pattern))

  it('escapes glob characters of literal parts', () => {
    expect(patternToGlob('a[1]?:*:x')).toBe('a\\[1\\]\\?:*:x')
  })
})

describe('queue keys', () => {
  it('recognises BullMQ, Sidekiq and Celery keys, and leaves cache keys alone', () => {
    expect(queueFrameworkOf('bull:emails:wait', 'list')).toBe('bullmq')
    expect(queueFrameworkOf('queues', 'set')).toBe('sidekiq')
    expect(queueFrameworkOf('queue:default', 'list')).toBe('sidekiq')
    expect(queueFrameworkOf('queue:default', 'string')).toBeUndefined()
    expect(queueFrameworkOf('_kombu.binding.celery', 'set')).toBe('celery')
    expect(queueFrameworkOf('unacked', 'hash')).toBe('celery')
    expect(queueFrameworkOf('session:abc', 'string')).toBeUndefined()
    expect(customBullQueuePrefix('myapp:emails:meta', 'hash')).toBe('myapp:emails')
    expect(customBullQueuePrefix('myapp:emails:meta', 'string')).toBeUndefined()
  })
})

describe('TTL proposal', () => {
  it('rounds up to a sane step within 1min..7d', () => {
    expect(roundTtl(5)).toBe(60)
    expect(roundTtl(61)).toBe(300)
    expect(roundTtl(2760)).toBe(3600)
    expect(roundTtl(30 * 86_400)).toBe(7 * 86_400)
  })

  it('derives a cache TTL from the target hit rate and the read interval, within the staleness budget', () => {
    // Median idle 100 s: r = ln2/100; 90% needs t = 0.9/(r·0.1) ≈ 1298 s, rounded to 30 min.
    const idle = {idleSeconds: {p50: 100, p90: 1000, max: 2000}, ttlSeconds: null}
    const proposed = proposeTtl(idle)
    expect(proposed.ttlSeconds).toBe(1800)
    expect(proposed.expectedHitRate).toBeCloseTo(hitRate(Math.LN2 / 100, 1800), 10)
    expect(proposed.expectedHitRate).toBeGreaterThanOrEqual(0.9)
    // A 20-minute budget: 2t <= 1200 s, so t is 10 min and the stated hit rate falls to what 10 min gives.
    const capped = proposeTtl(idle, {stalenessSeconds: 1200})
    expect(capped.ttlSeconds).toBe(600)
    expect(capped.expectedHitRate).toBeCloseTo((Math.LN2 / 100 * 600) / (1 + Math.LN2 / 100 * 600), 10)
    expect(proposeTtl({idleSeconds: null, ttlSeconds: {p10: 1, p50: 2, p90: 3, max: 7000}}, {stalenessSeconds: 86_400}).ttlSeconds).toBe(7200)
    expect(proposeTtl({idleSeconds: null, ttlSeconds: {p10: 1, p50: 2, p90: 3, max: 7000}}).ttlSeconds).toBe(1800)
    expect(proposeTtl({idleSeconds: null, ttlSeconds: null}).method).toMatch(/default/)
    expect(ttlForHitRate(0.01, 0.9)).toBeCloseTo(900, 6)
    expect(hitRate(0.01, 900)).toBeCloseTo(0.9, 10)
  })

  it('classifies patterns by name, type, TTL habit and access, and names the rule', () => {
    const p = (pattern: string, types: Record<string, number> = {string: 5}, extra: object = {}) =>
      classifyPattern({pattern, types, ttlSeconds: null, idleSeconds: {p50: 20, p90: 40, max: 60}, freq: null, ...extra})
    expect(p('app:session:*')).toMatchObject({keyClass: 'session', rule: 'name: segment "session"'})
    expect(p('sess:*').keyClass).toBe('session')
    expect(p('auth-token:*')).toMatchObject({keyClass: 'session', rule: expect.stringMatching(/word "auth"/)})
    expect(p('lock:order:*').keyClass).toBe('lock')
    expect(p('mutex:*').keyClass).toBe('lock')
    expect(p('ratelimit:*').keyClass).toBe('rate-limit')
    expect(p('api:throttle:*').keyClass).toBe('rate-limit')
    expect(p('stats:counter:*').keyClass).toBe('counter')
    expect(p('events:*', {stream: 3})).toMatchObject({keyClass: 'queue', rule: 'type: stream'})
    expect(p('bull:emails:*').keyClass).toBe('queue')
    expect(p('work:*', {list: 3}).keyClass).toBe('queue')
    expect(p('guard:*', {string: 3}, {ttlSeconds: {p10: 5, p50: 10, p90: 20, max: 30}})).toMatchObject({keyClass: 'lock', rule: expect.stringMatching(/ttl habit/)})
    expect(p('product:*')).toMatchObject({keyClass: 'cache', rule: expect.stringMatching(/^access:/)})
    expect(p('page:cache:*').keyClass).toBe('cache')
  })

  it('builds a SCAN-based EXPIRE NX pipeline that quotes the pattern and never embeds a URL', () => {
    const cmd = expireCommand("it's:*", 3600, 0.1, true)
    expect(cmd).toContain(`--quoted-pattern '"it'\\''s:*"'`)
    expect(cmd).toContain('$REDIS_URL')
    expect(cmd).toContain('NX')
    expect(expireCommand('a:*', 60, 0.1, false)).not.toContain('NX')
  })
})

describe('INFO and CLUSTER NODES parsing', () => {
  it('parses fields and keyspace lines', () => {
    const f = parseInfo('# Server\r\nredis_version:7.0.15\r\n# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=500\r\n')
    expect(f.redis_version).toBe('7.0.15')
    expect(keyspaceDbs(f)).toEqual([{db: 0, keys: 10, expires: 2, avgTtlMs: 500}])
  })

  it('lists primaries with slots, not replicas or failed nodes', () => {
    const text = [
      'a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460',
      'b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922',
      'c3 127.0.0.1:7002@17002 slave b2 0 0 2 connected',
      'd4 127.0.0.1:7003@17003 master,fail - 0 0 3 disconnected 10923-16383',
    ].join('\n')
    expect(clusterPrimaries(text)).toEqual([
      {host: '127.0.0.1', port: 7000, myself: true},
      {host: '127.0.0.1', port: 7001, myself: false},
    ])
  })
})

describe('patternMatches', () => {
  it('lets each wildcard stand for one key segment', async () => {
    const {patternMatches} = await import('../../../src/probes/redis/patterns.js')
    expect(patternMatches('*:emails:*', 'app-3f9a-bull:emails:42')).toBe(true)
    expect(patternMatches('*:emails:*', 'app:sessions:42')).toBe(false)
    expect(patternMatches('user:*:cart', 'user:12:cart')).toBe(true)
    expect(patternMatches('user:*:cart', 'user:12:extra:cart')).toBe(false)
    expect(patternMatches('a.b:*', 'axb:1')).toBe(false)
  })
})
