import {afterEach, describe, expect, it} from 'vitest'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import type {KeyspaceSampleData} from '../../../src/probes/redis/keyspace-sample.js'
import {auditRedis, client, readingOf, redisTarget} from './audit-helpers.js'

const servers: RedisServer[] = []
async function server(opts: Parameters<typeof startRedis>[0] = {}) {
  const s = await startRedis(opts)
  servers.push(s)
  return s
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

describe('ACL-limited user', () => {
  it('skips what CONFIG/OBJECT/MEMORY would give, with the reason, and completes the audit', async () => {
    const s = await server({maxmemory: '64mb', policy: 'allkeys-lru'})
    const admin = await client(s.url)
    await admin.call('ACL', 'SETUSER', 'chokepoint-limited', 'on', '>limited-pw-123', '~*', '+@all', '-config', '-object', '-memory')
    for (let i = 0; i < 20; i++) await admin.set(`page:${100000 + i}`, 'x')
    admin.disconnect()
    const url = `redis://chokepoint-limited:limited-pw-123@127.0.0.1:${s.port}`
    const {report, snapshot} = await auditRedis([redisTarget(url)])

    const config = readingOf(snapshot, 'redis.config')
    expect(config.status).toBe('skipped')
    expect(config.reason).toMatch(/CONFIG GET refused .*NOPERM/)
    const keys = readingOf(snapshot, 'redis.keys')
    expect(keys.status).toBe('ok')
    const sample = keys.data as KeyspaceSampleData
    expect(sample.skipped.access).toMatch(/OBJECT refused/)
    expect(sample.skipped.memory).toMatch(/MEMORY USAGE refused/)
    expect(sample.patterns[0]).toMatchObject({pattern: 'page:*', keys: 20, noTtl: 20, bytes: null, idleSeconds: null})
    expect(readingOf(snapshot, 'redis.info').status).toBe('ok')
    // What remains still reasons: the TTL finding uses the default TTL and says why.
    const noTtl = report.findings.find((f) => f.rule === 'cache/no-ttl-pattern')!
    expect(String((noTtl.remedies[0].estimate as {method?: string} | undefined)?.method)).toMatch(/no idle times/)
    expect(report.skipped).toContainEqual(expect.objectContaining({probe: 'redis.config', status: 'skipped'}))
    expect(report.gate.incomplete).toBe(false)
    expect(JSON.stringify({report, snapshot})).not.toContain('limited-pw-123')
  })
})

describe('the minimal ACL from docs/probes.md', () => {
  it('is enough for every Redis probe to read everything', async () => {
    const s = await server({maxmemory: '64mb', policy: 'allkeys-lru'})
    const admin = await client(s.url)
    await admin.call('ACL', 'SETUSER', 'chokepoint', 'on', '>minimal-pw-123', '~*', 'resetchannels', '-@all', '+info', '+ping', '+client|setname', '+dbsize',
      '+scan', '+type', '+pttl', '+memory|usage', '+object|idletime', '+object|freq', '+config|get', '+cluster|nodes')
    for (let i = 0; i < 10; i++) await admin.set(`page:${100000 + i}`, 'x')
    admin.disconnect()
    const {report, snapshot} = await auditRedis([redisTarget(`redis://chokepoint:minimal-pw-123@127.0.0.1:${s.port}`)])
    // Only the cache probes: the queue probes in the same index need their own permissions (LLEN, LINDEX ...).
    expect(snapshot.readings.filter((r) => ['redis.info', 'redis.config', 'redis.keys'].includes(r.probe)).map((r) => [r.probe, r.status])).toEqual([['redis.info', 'ok'], ['redis.config', 'ok'], ['redis.keys', 'ok']])
    expect((readingOf(snapshot, 'redis.keys').data as KeyspaceSampleData).skipped).toEqual({})
    expect(report.findings.some((f) => f.rule === 'cache/no-ttl-pattern')).toBe(true)
  })
})

describe('a Redis that goes away mid-sample', () => {
  it('marks the sample an error with the reason; the other target completes; exit code 3', async () => {
    const doomed = await server()
    const healthy = await server()
    const c = await client(doomed.url)
    await c.call('DEBUG', 'POPULATE', '200000', 'item')
    c.disconnect()
    const h = await client(healthy.url)
    await h.set('product:1', 'x', 'EX', 60)
    h.disconnect()
    // A long pause between SCAN calls keeps the sampler busy; the server is killed while it sleeps.
    const audit = auditRedis([redisTarget(doomed.url, 'doomed', {scanPauseMs: 50, sampleKeys: 100000}), redisTarget(healthy.url, 'healthy')])
    setTimeout(() => void doomed.stop(), 1500)
    const {report, snapshot} = await audit
    const sample = readingOf(snapshot, 'redis.keys', 'doomed')
    expect(sample.status).toBe('error')
    expect(sample.reason).toMatch(/sampling primary stopped after \d+ keys/)
    expect(readingOf(snapshot, 'redis.info', 'doomed').status).toBe('ok')
    expect(readingOf(snapshot, 'redis.keys', 'healthy').status).toBe('ok')
    expect(report.gate).toMatchObject({incomplete: true, exitCode: 3})
  })
})

describe('secrets', () => {
  it('never puts the requirepass password into the report or snapshot', async () => {
    const password = 'Sup3r-s3cret-pw!'
    const s = await server({requirepass: password, maxmemory: '64mb', policy: 'allkeys-lru'})
    const c = await client(s.url)
    for (let i = 0; i < 10; i++) await c.set(`token:${100000 + i}`, 'x')
    c.disconnect()
    const {report, snapshot} = await auditRedis([redisTarget(s.url)])
    expect(report.findings.length).toBeGreaterThan(0)
    const json = JSON.stringify({report, snapshot})
    expect(json).not.toContain(password)
    expect(json).not.toContain(encodeURIComponent(password))
    expect(report.targets[0].url).toContain('<password removed>')
  })

  it('and a wrong password fails the target cleanly without echoing it', async () => {
    const s = await server({requirepass: 'right-password'})
    const {report, snapshot} = await auditRedis([redisTarget(`redis://:wrong-password@127.0.0.1:${s.port}`)])
    expect(report.targets[0].status).toBe('error')
    expect(report.targets[0].error).toMatch(/authentication failed/)
    expect(JSON.stringify({report, snapshot})).not.toContain('wrong-password')
    expect(report.gate.exitCode).toBe(3)
  })
})
