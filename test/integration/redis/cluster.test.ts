import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Cluster, Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CommandLog} from '../../../src/core/probe.js'
import {RedisSession} from '../../../src/drivers/redis.js'
import {redisKeyspaceSampleProbe, type KeyspaceSampleData} from '../../../src/probes/redis/keyspace-sample.js'
import {freePort} from '../../helpers/process.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {auditRedis, readingOf, redisTarget} from './audit-helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const KEYS = 3000

/** A real 3-primary Redis Cluster of local redis-server processes, no replicas. */
describe('redis.keys on a 3-primary Redis Cluster', () => {
  const nodes: RedisServer[] = []
  let dir: string
  let perNodeKeys: Record<string, number>

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chokepoint-cluster-'))
    for (let i = 0; i < 3; i++) {
      // The bus port defaults to port + 10000, inside the kernel's ephemeral range, where an outgoing connection may
      // hold it (a CI run lost a node that way): it gets a free port of its own.
      const busPort = await freePort()
      nodes.push(await startRedis({extraArgs: ['--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', join(dir, `nodes-${i}.conf`), '--dir', dir]}))
    }
    execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {stdio: 'ignore'})
    const deadline = Date.now() + 30_000
    for (const n of nodes) {
      while (!/cluster_state:ok/.test(execFileSync('redis-cli', ['-p', String(n.port), 'CLUSTER', 'INFO']).toString())) {
        if (Date.now() > deadline) throw new Error(`cluster_state not ok on ${n.port}`)
        await sleep(100)
      }
    }
    // Written through a cluster-aware client: each key goes to the primary that owns its slot.
    const cluster = new Cluster(nodes.map((n) => ({host: '127.0.0.1', port: n.port})))
    try {
      for (let start = 0; start < KEYS; start += 300) {
        await Promise.all(Array.from({length: 300}, (_, j) => {
          const i = start + j
          return i % 2 ? cluster.set(`user:${100000 + i}:profile`, 'x'.repeat(50)) : cluster.set(`cart:${100000 + i}`, 'y', 'EX', 3600)
        }))
      }
    } finally {
      cluster.disconnect()
    }
    perNodeKeys = {}
    for (const n of nodes) {
      const c = new Redis(n.port, '127.0.0.1')
      perNodeKeys[`127.0.0.1:${n.port}`] = Number(await c.dbsize())
      c.disconnect()
    }
  }, 120_000)

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    for (const n of nodes) expect(n.process.exitCode !== null || n.process.signalCode !== null).toBe(true)
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  async function sample(options: Record<string, unknown>): Promise<KeyspaceSampleData> {
    const url = `redis://127.0.0.1:${nodes[0].port}`
    const session = await RedisSession.open(url, new CommandLog())
    try {
      const out = await redisKeyspaceSampleProbe.collect(session, {target: redisTarget(url), windowSeconds: 0, options: {scanPauseMs: 0, ...options}, log: () => {}}, undefined)
      return out.data as KeyspaceSampleData
    } finally {
      await session.close()
    }
  }

  it('the keys really are spread over the three primaries', () => {
    expect(Object.values(perNodeKeys).reduce((a, b) => a + b, 0)).toBe(KEYS)
    for (const count of Object.values(perNodeKeys)) expect(count).toBeGreaterThan(KEYS / 6)
  })

  it('reads every primary: per-primary counts in the data, total equal to the sum', async () => {
    const data = await sample({})
    expect(data.mode).toBe('cluster')
    expect(data.nodes.map((n) => n.node).sort()).toEqual(Object.keys(perNodeKeys).sort())
    for (const node of data.nodes) {
      expect(node.dbsize).toBe(perNodeKeys[node.node])
      // Under the default cap (10,000 split three ways) each primary is read to the end.
      expect(node).toMatchObject({sampled: perNodeKeys[node.node], complete: true})
    }
    expect(data.dbsize).toBe(KEYS)
    expect(data.sampledKeys).toBe(KEYS)
    expect(data.complete).toBe(true)
    const byPattern = Object.fromEntries(data.patterns.map((p) => [p.pattern, p]))
    expect(byPattern['user:*:profile']).toMatchObject({keys: 1500, noTtl: 1500})
    expect(byPattern['cart:*']).toMatchObject({keys: 1500, noTtl: 0})
  })

  it('splits the key cap between the primaries and scales the estimate to the whole cluster', async () => {
    const data = await sample({sampleKeys: 600})
    expect(data.nodes).toHaveLength(3)
    for (const node of data.nodes) expect(node).toMatchObject({sampled: 200, complete: false})
    expect(data.sampledKeys).toBe(600)
    expect(data.dbsize).toBe(KEYS)
    expect(data.scale).toBeCloseTo(KEYS / 600, 5)
    const estimated = data.patterns.reduce((s, p) => s + p.estimatedKeys, 0)
    expect(Math.abs(estimated - KEYS)).toBeLessThanOrEqual(3)
    const user = data.patterns.find((p) => p.pattern === 'user:*:profile')!
    // Each node's first 200 keys in SCAN order are a hash-ordered slice, so both patterns show up near half and half.
    expect(user.estimatedKeys).toBeGreaterThan(KEYS * 0.3)
    expect(user.estimatedKeys).toBeLessThan(KEYS * 0.7)
  })

  it('a whole audit against one node of the cluster is complete', async () => {
    // Sidekiq's fixed `queues` key hashes to one slot: audit a node that does not own it, so SMEMBERS answers MOVED.
    const other = nodes.find((n) => /MOVED/.test(execFileSync('redis-cli', ['-p', String(n.port), 'SMEMBERS', 'queues']).toString()))!
    const {report, snapshot} = await auditRedis([redisTarget(`redis://127.0.0.1:${other.port}`)])
    expect(readingOf(snapshot, 'redis.keys').status).toBe('ok')
    expect((readingOf(snapshot, 'redis.keys').data as KeyspaceSampleData).dbsize).toBe(KEYS)
    const failed = snapshot.readings.filter((r) => r.status === 'error').map((r) => `${r.probe}: ${r.reason}`)
    expect(failed).toEqual([])
    // That MOVED skips the probe with the reason instead of failing the audit.
    const sidekiq = readingOf(snapshot, 'queues.sidekiq')
    expect(sidekiq.status).toBe('skipped')
    expect(sidekiq.reason).toMatch(/^key 'queues' lives on another cluster node \(MOVED \d+ 127\.0\.0\.1:\d+\)/)
    expect(report.gate.incomplete).toBe(false)
  })
})
