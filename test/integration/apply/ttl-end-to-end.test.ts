/**
 * `chokepoint apply` with the built-in ttl applier, end to end through the CLI on a redis-server of this test's own:
 * an audit proposes a TTL for a cache pattern whose keys have none, the dry run changes nothing (keyspace compared),
 * --confirm sets TTLs between t and 2t on exactly that pattern's keys, verifies and journals them, the next audit no
 * longer proposes it, and --rollback removes exactly the TTLs it set.
 */
import {randomUUID} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Journal} from '../../../src/core/applier.js'
import type {TtlRemedy} from '../../../src/core/remedies.js'
import type {Report} from '../../../src/core/types.js'
import {applyWorkspace, runCliAsync} from '../../helpers/cli.js'
import {startFaultProxy} from '../../helpers/fault-proxy.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {client} from '../redis/audit-helpers.js'

describe('chokepoint apply: the ttl applier end to end', () => {
  let server: RedisServer
  let c: Redis
  const {work, env, cli, remove} = applyWorkspace('apply-ttl-e2e')
  const target = () => ['--redis', server.url, '--window', '0']
  /** Every key with its value and whether it expires: the keyspace as a dry run must leave it. */
  const keyspace = async () => {
    const keys = (await c.keys('*')).filter((k) => !k.startsWith('chokepoint:')).sort()
    return Promise.all(keys.map(async (k) => ({key: k, value: await c.get(k), expires: (await c.pttl(k)) > 0})))
  }
  const ttlRemedies = (report: Report) => report.findings.filter((f) => f.rule === 'cache/no-ttl-pattern').flatMap((f) => f.remedies.filter((r) => r.kind === 'ttl')) as TtlRemedy[]

  beforeAll(async () => {
    server = await startRedis()
    c = await client(server.url)
    for (let i = 0; i < 30; i++) await c.set(`page:${randomUUID()}`, `<html>${i}</html>`)
    for (let i = 0; i < 10; i++) await c.set(`product:${1000 + i}`, 'p', 'EX', 99_999)
    await c.set('other:1', 'x')
  })

  afterAll(async () => {
    c?.disconnect()
    await server?.stop()
    remove()
  })

  it('proposes, dry-runs, sets, verifies, journals and removes the TTLs of the cache pattern', async () => {
    const before = await keyspace()
    const [remedy] = ttlRemedies(JSON.parse(cli(['audit', ...target(), '--json', '--fail-on', 'never']).stdout))
    expect(remedy).toMatchObject({applier: 'ttl', pattern: 'page:*'})
    const ttl = Number(remedy.ttlSeconds)

    // Without --confirm: the plan, and nothing changes.
    const dry = cli(['apply', ...target(), '--only', remedy.id])
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/preflight: ok/)
    expect(await keyspace()).toEqual(before)
    expect(readdirSync(work).filter((f) => f.startsWith('chokepoint-apply-'))).toEqual([])

    // --confirm: every page:* key gets a TTL in t..2t, nothing else changes; verified and journalled.
    const journalFile = join(work, 'journal.json')
    const applied = cli(['apply', ...target(), '--only', remedy.id, '--confirm', '--journal', journalFile])
    expect(applied.status, `${applied.stdout}\n${applied.stderr}`).toBe(0)
    const after = await keyspace()
    expect(after.filter((k) => k.key.startsWith('page:')).every((k) => k.expires)).toBe(true)
    expect(after.filter((k) => !k.key.startsWith('page:'))).toEqual(before.filter((k) => !k.key.startsWith('page:')))
    expect(after.map(({key, value}) => ({key, value}))).toEqual(before.map(({key, value}) => ({key, value})))
    for (const k of after.filter((x) => x.key.startsWith('page:'))) {
      const seconds = await c.ttl(k.key)
      expect(seconds).toBeGreaterThanOrEqual(ttl - 1)
      expect(seconds).toBeLessThanOrEqual(2 * ttl)
    }
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as Journal
    expect(journal.changes).toHaveLength(1)
    expect(journal.changes[0]).toMatchObject({remedyId: remedy.id, applier: 'ttl', status: 'verified', verification: {ok: true}})
    expect((journal.changes[0].undo as {changed: number}).changed).toBe(30)

    // The next audit no longer asks for it.
    expect(ttlRemedies(JSON.parse(cli(['audit', ...target(), '--json', '--fail-on', 'never']).stdout))).toEqual([])

    // --rollback: a dry run changes nothing; with --confirm exactly those TTLs are gone again.
    const dryBack = cli(['apply', '--rollback', journalFile, ...target()])
    expect(dryBack.status, dryBack.stderr).toBe(0)
    expect(await keyspace()).toEqual(after)
    const back = cli(['apply', '--rollback', journalFile, '--confirm', ...target()])
    expect(back.status, `${back.stdout}\n${back.stderr}`).toBe(0)
    expect(await keyspace()).toEqual(before)
    expect((JSON.parse(readFileSync(journalFile, 'utf8')) as Journal).changes[0].status).toBe('rolled-back')
  })

  it('Redis going away mid-batch: journalled "interrupted" with the keys done (exit 1), and the next apply undoes them first', async () => {
    const p = 'gone'
    for (let i = 0; i < 300; i++) await c.set(`${p}:${randomUUID()}`, `<html>${i}</html>`)
    const keys = async () => (await c.keys(`${p}:*`)).sort()
    // Read back after writing, as a cache's keys are: what the ttl advisor classifies as a cache.
    for (const k of await keys()) await c.get(k)
    const proxy = await startFaultProxy({port: server.port})
    try {
      const via = ['--redis', proxy.url(server.url), '--window', '0']
      // runCliAsync throughout: the proxy runs in this process, so a blocking spawnSync would stall it.
      const report = JSON.parse((await runCliAsync(['audit', ...via, '--json', '--fail-on', 'never'], {cwd: work, env})).stdout) as Report
      const remedy = ttlRemedies(report).find((r) => r.pattern === `${p}:*`)!
      expect(remedy).toBeDefined()
      const reportFile = join(work, 'gone-report.json')
      writeFileSync(reportFile, JSON.stringify(report))
      // Named like a default journal: the next apply looks for unfinished changes in those of its directory.
      const first = join(work, 'chokepoint-apply-gone.json')
      const changedSoFar = () => (existsSync(first) ? ((JSON.parse(readFileSync(first, 'utf8')) as Journal).changes[0]?.undo as {changed?: number} | undefined)?.changed ?? 0 : 0)
      // The connection is reset when a batch of EXPIREs is sent after an earlier batch was journalled.
      proxy.when((chunk) => chunk.includes('EXPIRE') && changedSoFar() > 0, () => proxy.reset())
      const args = ['apply', '--from', reportFile, ...via, '--only', remedy.id]
      const cut = await runCliAsync([...args, '--confirm', '--journal', first], {cwd: work, env})
      expect(proxy.fired).toHaveLength(1)
      expect(cut.status, `${cut.stdout}\n${cut.stderr}`).toBe(1)
      expect(cut.stdout).toMatch(/status: interrupted: Redis went away after \d+ keys of gone:\* .*the next apply rolls them back first/)
      const journal = JSON.parse(readFileSync(first, 'utf8')) as Journal
      expect(journal.changes[0].status).toBe('interrupted')
      const done = (journal.changes[0].undo as {changed: number}).changed
      expect(done).toBeGreaterThan(0)
      expect(done).toBeLessThan(300)
      const ttls = await Promise.all((await keys()).map((k) => c.pttl(k)))
      expect(ttls.filter((ms) => ms > 0).length).toBeGreaterThanOrEqual(done)

      // Back: the next apply undoes the interrupted change first (every TTL it set), then applies the remedy afresh.
      proxy.forward()
      const again = await runCliAsync([...args, '--confirm', '--journal', join(work, 'gone-second.json')], {cwd: work, env})
      expect(again.status, `${again.stdout}\n${again.stderr}`).toBe(0)
      expect(again.stderr).toMatch(/recovered change change-1: /)
      expect((JSON.parse(readFileSync(first, 'utf8')) as Journal).changes[0].status).toBe('rolled-back')
      expect((JSON.parse(readFileSync(join(work, 'gone-second.json'), 'utf8')) as Journal).changes[0]).toMatchObject({status: 'verified', undo: {changed: 300}})
    } finally {
      await proxy.close()
      const left = await keys()
      if (left.length) await c.del(...left)
    }
  })
})
