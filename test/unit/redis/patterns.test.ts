import {describe, expect, it} from 'vitest'
import {keyPattern, patternToGlob} from '../../../src/probes/redis/patterns.js'
import {customBullQueuePrefix, queueFrameworkOf} from '../../../src/probes/redis/queue-keys.js'
import {clusterPrimaries} from '../../../src/probes/redis/keyspace-sample.js'
import {keyspaceDbs, parseInfo} from '../../../src/probes/redis/info-parse.js'
import {expireCommand, proposeTtl, roundTtl} from '../../../src/advisors/ttl.js'

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

  it('uses the p90 idle time, else the TTLs in use, else a default', () => {
    const base = {pattern: 'p:*', keys: 10, idleSeconds: null, ttlSeconds: null} as never
    expect(proposeTtl({...(base as object), idleSeconds: {p50: 100, p90: 1000, max: 2000}} as never).ttlSeconds).toBe(1800)
    expect(proposeTtl({...(base as object), ttlSeconds: {p10: 1, p50: 2, p90: 3, max: 7000}} as never).ttlSeconds).toBe(7200)
    expect(proposeTtl(base).method).toMatch(/default/)
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
