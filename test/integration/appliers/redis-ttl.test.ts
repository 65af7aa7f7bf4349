/**
 * The ttl applier on a real Redis (the shared one on 6379, under key prefixes of this test's own; a private
 * redis-server where server-wide INFO counters are asserted on). Never FLUSH: each test deletes its own keys.
 */
import {randomInt} from 'node:crypto'
import type {Redis} from 'ioredis'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {ApplyRefusal, ChangeLeftUnfinished, type ChangePlan} from '../../../src/core/applier.js'
import type {TtlRemedy} from '../../../src/core/remedies.js'
import type {Finding, TargetSpec} from '../../../src/core/types.js'
import {lockKeyOf, redisTtlApplier as applier, type TtlSession, type TtlUndo} from '../../../src/appliers/redis-ttl.js'
import {applyContext, changeRecord, recorder} from '../../helpers/apply-context.js'
import {startFaultProxy, type FaultProxy} from '../../helpers/fault-proxy.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {client} from '../redis/audit-helpers.js'

const URL6379 = 'redis://127.0.0.1:6379'

/** A prefix of letters only, so keyPattern keeps it as a name (a random id segment would become "*" and match other tests' keys). */
function prefix(): string {
  return `tap${Array.from({length: 10}, () => String.fromCharCode(97 + randomInt(26))).join('')}`
}

function target(url: string, options: Record<string, unknown> = {}): TargetSpec {
  return {name: 'cache', kind: 'redis', url, options: {ttlApplyPauseMs: 0, ...options}}
}

function remedy(pattern: string, fields: Partial<TtlRemedy> = {}): TtlRemedy {
  return {id: `ttl-${pattern}`, kind: 'ttl', summary: `Expire ${pattern}`, applier: 'ttl', pattern, ttlSeconds: 600, ttlMaxSeconds: 1200, ...fields}
}

function finding(pattern: string, evidence: Record<string, unknown> = {}): Finding {
  return {id: 'f', rule: 'cache/no-ttl-pattern', severity: 'info', area: 'cache', target: 'cache', subject: pattern, metric: 'redis.keys.no_ttl_share', value: 1,
    threshold: {}, message: '', evidence: {keyClass: 'cache', ...evidence}, remedies: []} as unknown as Finding
}

let c: Redis
const created: string[] = []
const sessions: TtlSession[] = []
const servers: RedisServer[] = []
const proxies: FaultProxy[] = []

beforeAll(async () => {
  c = await client(URL6379)
})
afterEach(async () => {
  for (const s of sessions.splice(0)) await applier.close(s)
  await Promise.all(proxies.splice(0).map((p) => p.close()))
  await Promise.all(servers.splice(0).map((s) => s.stop()))
  for (const p of created.splice(0)) {
    const keys = await c.keys(`${p}:*`)
    if (keys.length) await c.del(...keys)
  }
})
afterAll(() => c.disconnect())

async function connect(t: TargetSpec, ctx = applyContext(t)): Promise<TtlSession> {
  const s = await applier.connect(ctx)
  sessions.push(s)
  return s
}

/** n cache keys without TTL under p:page:<n>, plus keys the applier must not touch. */
async function seed(r: Redis, p: string, n: number): Promise<{noTtl: string[]; withTtl: string[]; others: string[]}> {
  created.push(p)
  const noTtl = Array.from({length: n}, (_, i) => `${p}:page:${1000 + i}`)
  const withTtl = Array.from({length: 10}, (_, i) => `${p}:page:${5000 + i}`)
  // Same glob, other patterns: keyPattern gives p:page:cart and p:page:*:meta.
  const others = [`${p}:page:cart`, `${p}:page:1:meta`]
  const pipe = r.pipeline()
  for (const k of noTtl) pipe.set(k, `<html>${k}</html>`)
  for (const k of withTtl) pipe.set(k, 'v', 'EX', 5000)
  for (const k of others) pipe.set(k, 'keep')
  await pipe.exec()
  return {noTtl, withTtl, others}
}

async function pttls(r: Redis, keys: string[]): Promise<number[]> {
  const out = await r.pipeline(keys.map((k) => ['pttl', k])).exec()
  return out!.map(([, v]) => Number(v))
}

async function planned(t: TargetSpec, pattern: string, fields: Partial<TtlRemedy> = {}, evidence: Record<string, unknown> = {}) {
  const ctx = applyContext(t, {finding: finding(pattern, evidence)})
  const session = await connect(t, ctx)
  const plan = await applier.plan(remedy(pattern, fields), session, ctx)
  return {ctx, session, plan}
}

describe('ttl applier: a cache pattern', () => {
  it('sets a TTL in [t, 2t) on the keys without one (NX: TTLs kept, other patterns untouched), verifies, and rolls back exactly its own TTLs', async () => {
    const p = prefix()
    const pattern = `${p}:page:*`
    const {noTtl, withTtl, others} = await seed(c, p, 30)
    const withTtlBefore = await pttls(c, withTtl)
    const {ctx, session, plan} = await planned(target(URL6379, {scanCount: 50}), pattern, {}, {estimatedKeys: 40})
    expect(plan.details.estimate).toMatchObject({keys: 30})
    expect(plan.notes[0]).toMatch(/affects ~30 keys \(~[\d.]+ [KM]?i?B\)/)
    expect(plan.statements.join('\n')).toContain(`MATCH "${p}:page:*"`)
    expect(plan.statements[0]).toContain(lockKeyOf(pattern))
    expect(await applier.preflight(plan, session, ctx)).toMatchObject({ok: true})

    const rec = recorder()
    const applied = await applier.apply(plan, session, ctx, rec.record)
    const undo = applied.undo as TtlUndo
    expect(undo.changed).toBe(30)
    expect(undo.keys.map(([k]) => k).sort()).toEqual([...noTtl].sort())
    expect((rec.change.undo as TtlUndo).keys).toHaveLength(30)
    expect(rec.calls).toBeGreaterThanOrEqual(2)
    expect(ctx.updates.at(-1)).toMatchObject({done: 30, unit: 'keys'})
    const set = await pttls(c, noTtl)
    for (const ms of set) {
      expect(ms).toBeGreaterThan(599_000)
      expect(ms).toBeLessThanOrEqual(1_200_000)
    }
    // Jitter: not all the same TTL.
    expect(new Set(set.map((ms) => Math.round(ms / 1000))).size).toBeGreaterThan(5)
    // NX: the keys that had a TTL keep it; keys of other patterns have none still.
    const withTtlAfter = await pttls(c, withTtl)
    withTtlAfter.forEach((ms, i) => expect(Math.abs(ms - withTtlBefore[i])).toBeLessThan(5000))
    expect(await pttls(c, others)).toEqual([-1, -1])
    expect(await c.exists(lockKeyOf(pattern))).toBe(0)

    const verified = await applier.verify(plan, applied, session, ctx)
    expect(verified).toMatchObject({ok: true})
    expect(verified.detail).toMatch(/30 of 30 sampled changed keys carry the TTL set/)

    // The application re-sets one key's TTL itself and rewrites another without one: rollback leaves both alone.
    await c.expire(noTtl[0], 100)
    await c.set(noTtl[1], 'rewritten')
    const result = await applier.rollback(changeRecord({remedyId: plan.remedyId, applier: 'ttl', target: 'cache', undo}), session, ctx)
    expect(result.ok).toBe(true)
    expect(result.detail).toMatch(/persisted 28 keys/)
    expect(result.detail).toMatch(/1 left alone/)
    const after = await pttls(c, noTtl)
    expect(after[0]).toBeGreaterThan(90_000)
    expect(after[0]).toBeLessThanOrEqual(100_000)
    expect(after.slice(1).every((ms) => ms === -1)).toBe(true)
    withTtlAfter.forEach((ms, i) => expect(Math.abs(ms - withTtlBefore[i])).toBeLessThan(10_000))
    expect(await c.exists(lockKeyOf(pattern))).toBe(0)
  })

  it('fails verification when the application rewrites the keys without a TTL', async () => {
    const p = prefix()
    const pattern = `${p}:page:*`
    const {noTtl} = await seed(c, p, 20)
    const {ctx, session, plan} = await planned(target(URL6379), pattern)
    const applied = await applier.apply(plan, session, ctx, recorder().record)
    expect(await applier.verify(plan, applied, session, ctx)).toMatchObject({ok: true})
    for (const k of noTtl.slice(0, 5)) await c.set(k, 'rewritten')
    const v = await applier.verify(plan, applied, session, ctx)
    expect(v.ok).toBe(false)
    expect(v.detail).toMatch(/5 of 20 sampled keys lost their TTL/)
  })

  it('names only the first keys past the undo cap, and rolls the rest back by the expiry range it set', async () => {
    const p = prefix()
    const pattern = `${p}:page:*`
    const {noTtl, withTtl} = await seed(c, p, 25)
    const t = target(URL6379, {ttlApplyUndoKeys: 5, scanCount: 10})
    const {ctx, session, plan} = await planned(t, pattern)
    expect(plan.notes.join(' ')).toMatch(/journal names the first 5 keys/)
    const applied = await applier.apply(plan, session, ctx, recorder().record)
    const undo = applied.undo as TtlUndo
    expect(undo.keys).toHaveLength(5)
    expect(undo.overflow).toMatchObject({count: 20})
    expect(undo.overflow!.sample.length).toBeGreaterThan(0)
    const result = await applier.rollback(changeRecord({remedyId: plan.remedyId, applier: 'ttl', target: 'cache', undo}), session, ctx)
    expect(result.detail).toMatch(/persisted 25 keys/)
    expect((await pttls(c, noTtl)).every((ms) => ms === -1)).toBe(true)
    // TTLs outside the range this run set (5000 s) are kept.
    expect((await pttls(c, withTtl)).every((ms) => ms > 4_000_000)).toBe(true)
  })

  it('stops at the cap of keys per run', async () => {
    const p = prefix()
    const pattern = `${p}:page:*`
    const {noTtl} = await seed(c, p, 30)
    const {ctx, session, plan} = await planned(target(URL6379, {ttlApplyMaxKeys: 12, scanCount: 10}), pattern, {}, {estimatedKeys: 42})
    expect(plan.notes.join(' ')).toMatch(/capped at 12 keys/)
    const applied = await applier.apply(plan, session, ctx, recorder().record)
    expect((applied.undo as TtlUndo).changed).toBe(12)
    expect((await pttls(c, noTtl)).filter((ms) => ms > 0)).toHaveLength(12)
    expect(applied.notes.join(' ')).toMatch(/stopped at the cap of 12 keys/)
  })
})

describe('ttl applier: patterns that must not get a backfill', () => {
  it.each([
    ['session', 'session:*', {}],
    ['lock', 'lock:*', {}],
    ['rate-limit', 'ratelimit:*', {}],
    ['counter', 'views:*', {}],
  ])('refuses a %s pattern by its name', async (keyClass, suffix) => {
    const p = prefix()
    created.push(p)
    const pattern = `${p}:${suffix}`
    await c.set(`${p}:${suffix.replace('*', '1234')}`, '1')
    const t = target(URL6379)
    const ctx = applyContext(t, {finding: finding(pattern, {keyClass: 'cache'})})
    const session = await connect(t, ctx)
    const error = await applier.plan(remedy(pattern), session, ctx).catch((e) => e)
    expect(error).toBeInstanceOf(ApplyRefusal)
    expect(error.message).toMatch(new RegExp(`classified as ${keyClass}`))
    expect(await c.pttl(`${p}:${suffix.replace('*', '1234')}`)).toBe(-1)
  })

  it('refuses what the report classified as a session, and advice without a TTL', async () => {
    const p = prefix()
    const pattern = `${p}:u:*`
    const t = target(URL6379)
    const ctx = applyContext(t, {finding: finding(pattern, {keyClass: 'session', classifiedBy: 'name: segment "sess"'})})
    const session = await connect(t, ctx)
    await expect(applier.plan(remedy(pattern), session, ctx)).rejects.toThrow(/classified as session \(the report/)
    await expect(applier.plan(remedy(pattern, {ttlSeconds: undefined, setting: 'session lifetime'}), session, applyContext(t)))
      .rejects.toThrow(/advice for the application/)
  })

  it('refuses in preflight when the keys sampled now are a queue (lists) or short-lived locks (TTL <= 60 s)', async () => {
    const p = prefix()
    created.push(p)
    for (let i = 0; i < 5; i++) await c.rpush(`${p}:work:${1000 + i}`, 'job')
    for (let i = 0; i < 5; i++) await c.set(`${p}:hold:${1000 + i}`, 'x', 'EX', 30)
    for (let i = 5; i < 10; i++) await c.set(`${p}:hold:${1000 + i}`, 'x')
    const t = target(URL6379)
    for (const [pattern, why] of [[`${p}:work:*`, /classified as queue .*type: list/], [`${p}:hold:*`, /classified as lock .*ttl habit/]] as const) {
      const {ctx, session, plan} = await planned(t, pattern)
      const pre = await applier.preflight(plan, session, ctx)
      expect(pre.ok).toBe(false)
      expect(pre.ok === false && pre.reason).toMatch(why)
    }
    expect((await pttls(c, [`${p}:hold:1005`, `${p}:work:1000`]))).toEqual([-1, -1])
  })
})

describe('ttl applier: dry run and faults', () => {
  it('plan and preflight change nothing (keys, values, TTLs, idle times, no lock left)', async () => {
    const p = prefix()
    const pattern = `${p}:page:*`
    await seed(c, p, 30)
    // Keys idle for a while, so a read that touched the LRU clock would show.
    const keys = (await c.keys(`${p}:*`)).sort()
    const values = await c.mget(...keys)
    for (const k of keys) {
      const dump = await c.dumpBuffer(k)
      const ttl = Math.max(0, await c.pttl(k))
      await c.call('RESTORE', k, String(ttl), dump as unknown as string, 'REPLACE', 'IDLETIME', '500')
    }
    // PTTL and OBJECT IDLETIME leave the LRU clock alone; GET (last, after the comparison) does not.
    const state = async () => {
      const rows = await c.pipeline(keys.flatMap((k) => [['pttl', k], ['object', 'idletime', k]])).exec()
      return keys.map((k, i) => ({k, ttl: Number(rows![2 * i][1]) < 0 ? Number(rows![2 * i][1]) : 'set', idle: Number(rows![2 * i + 1][1]) >= 500}))
    }
    const before = await state()
    expect(before.every((r) => r.idle)).toBe(true)
    const {ctx, session, plan} = await planned(target(URL6379), pattern)
    expect(await applier.preflight(plan, session, ctx)).toMatchObject({ok: true})
    expect(await state()).toEqual(before)
    expect(await c.mget(...keys)).toEqual(values)
    expect(await c.exists(lockKeyOf(pattern))).toBe(0)
  })

  it('Redis going away mid-batch: one line, the keys done recorded, the batch in flight recorded as uncertain, rollback exact', async () => {
    const p = prefix()
    const pattern = `${p}:page:*`
    const {noTtl, withTtl} = await seed(c, p, 40)
    const withTtlBefore = await pttls(c, withTtl)
    const proxy = await startFaultProxy({port: 6379})
    proxies.push(proxy)
    const rec = recorder()
    let journalAtSend: string[] | undefined
    // When a batch of EXPIREs is sent after some keys were changed: Redis gets it and runs it, its answer is held
    // back, and then the wire is reset. The journal must already name the batch when it is sent.
    // The batch must hold a key without a TTL: SCAN order over the shared keyspace may give a batch of only keys that
    // already have one (EXPIRE NX leaves them), and that batch would prove nothing about the keys in flight.
    proxy.when((chunk) => chunk.includes('$6\r\nEXPIRE\r\n') && ((rec.change.undo as TtlUndo | undefined)?.changed ?? 0) > 0
      && noTtl.some((k) => chunk.includes(k)), () => {
      journalAtSend = (rec.change.undo as TtlUndo).inFlight?.keys
      proxy.stall({holdBack: 1 << 30})
      setTimeout(() => proxy.reset(), 300)
    })
    // scanCount 10 over the shared keyspace: batches of a few keys, so there are many.
    const t = target(proxy.url(URL6379), {scanCount: 10})
    const {ctx, session, plan} = await planned(t, pattern)
    const error = await applier.apply(plan, session, ctx, rec.record).catch((e) => e)
    expect(proxy.fired).toHaveLength(1)
    // The orchestrator journals it "interrupted" and leaves the undo to the next apply's recover.
    expect(error).toBeInstanceOf(ChangeLeftUnfinished)
    expect(error.message.split('\n')).toHaveLength(1)
    expect(error.message).toMatch(/^Redis went away after \d+ keys of .*: the keys done are in the journal; the \d+ keys of the batch in flight are recorded as uncertain; the next apply rolls them back first/)
    const undo = rec.change.undo as TtlUndo
    expect(undo.changed).toBeGreaterThan(0)
    expect(undo.inFlight!.keys.length).toBeGreaterThan(0)
    expect(journalAtSend).toEqual(undo.inFlight!.keys)
    // What the journal says is what Redis has: the recorded keys and the batch in flight (which Redis ran) carry a TTL, no other key does.
    const touched = new Set([...undo.keys.map(([k]) => k), ...undo.inFlight!.keys])
    const ttls = await pttls(c, noTtl)
    noTtl.forEach((k, i) => expect(ttls[i] > 0).toBe(touched.has(k)))
    expect(noTtl.filter((k) => undo.inFlight!.keys.includes(k)).length).toBeGreaterThan(0)
    // The lock it could not release: its rollback takes it over (the token is in the undo), a stranger could not.
    expect(await c.exists(lockKeyOf(pattern))).toBe(1)
    const direct = target(URL6379)
    const stranger = await applier.rollback(changeRecord({remedyId: plan.remedyId, applier: 'ttl', target: 'cache', undo: {...undo, lockToken: 'other'}}), await connect(direct), applyContext(direct))
      .catch((e) => e)
    expect(stranger).toBeInstanceOf(ApplyRefusal)
    const result = await applier.rollback(changeRecord({remedyId: plan.remedyId, applier: 'ttl', target: 'cache', status: 'interrupted', undo}), await connect(direct), applyContext(direct))
    expect(result.ok).toBe(true)
    expect(result.detail).toMatch(new RegExp(`persisted ${noTtl.filter((k) => touched.has(k)).length} keys`))
    expect((await pttls(c, noTtl)).every((ms) => ms === -1)).toBe(true)
    ;(await pttls(c, withTtl)).forEach((ms, i) => expect(Math.abs(ms - withTtlBefore[i])).toBeLessThan(10_000))
    expect(await c.exists(lockKeyOf(pattern))).toBe(0)
  })

  it('two applies at once on one pattern: the second refuses (lock key), the first stops on abort with its keys recorded', async () => {
    // A private server: with only this test's keys, every SCAN batch of 10 holds some of them.
    const s = await startRedis()
    servers.push(s)
    const r = await client(s.url)
    const p = prefix()
    const pattern = `${p}:page:*`
    const {noTtl} = await seed(r, p, 40)
    // A long pause between batches: the first apply holds the lock while the second tries.
    const t = target(s.url, {scanCount: 10, ttlApplyPauseMs: 20_000})
    const first = await planned(t, pattern)
    const second = await planned(t, pattern)
    let secondOutcome: Promise<unknown> | undefined
    let secondPreflight: Promise<unknown> | undefined
    const ctx1 = applyContext(t, {
      onProgress: (u) => {
        if ((u.done ?? 0) > 0 && !secondOutcome) {
          secondPreflight = applier.preflight(second.plan, second.session, second.ctx)
          secondOutcome = applier.apply(second.plan, second.session, second.ctx, recorder().record).catch((e) => e)
            .finally(() => ctx1.controller.abort())
        }
      },
    })
    const rec = recorder()
    const firstOutcome = await applier.apply(first.plan, first.session, ctx1, rec.record).catch((e) => e)
    const refused = await secondOutcome
    expect(refused).toBeInstanceOf(ApplyRefusal)
    expect((refused as Error).message).toMatch(/another chokepoint apply or rollback is working on .*lock key "chokepoint:apply-lock:ttl:/)
    expect(await secondPreflight).toMatchObject({ok: false, reason: expect.stringMatching(/lock key/)})
    expect(firstOutcome).toBeInstanceOf(Error)
    expect((firstOutcome as Error).message).toMatch(/^interrupted after \d+ keys/)
    const undo = rec.change.undo as TtlUndo
    expect(undo.changed).toBeGreaterThan(0)
    expect(undo.changed).toBeLessThan(40)
    const ttls = await pttls(r, noTtl)
    expect(ttls.filter((ms) => ms > 0)).toHaveLength(undo.changed)
    expect(await r.exists(lockKeyOf(pattern))).toBe(0)
    const result = await applier.rollback(changeRecord({remedyId: 'r', applier: 'ttl', target: 'cache', undo}), first.session, first.ctx)
    expect(result.detail).toMatch(new RegExp(`persisted ${undo.changed} keys`))
    expect((await pttls(r, noTtl)).every((ms) => ms === -1)).toBe(true)
    r.disconnect()
  })
})

describe('ttl applier: insufficient privilege (a private server with ACL users)', () => {
  it('preflight names the one ACL grant missing, changing nothing; an apply past it refuses before any key changes', async () => {
    const s = await startRedis()
    servers.push(s)
    const admin = await client(s.url)
    try {
      const p = prefix()
      await seed(admin, p, 30)
      const pattern = `${p}:page:*`
      await admin.call('ACL', 'SETUSER', 'noexpire', 'on', '>pw', '~*', '&*', '+@all', '-expire')
      await admin.call('ACL', 'SETUSER', 'nopersist', 'on', '>pw', '~*', '&*', '+@all', '-persist')
      const keysBefore = (await admin.keys('*')).sort()
      for (const [user, command] of [['noexpire', 'expire'], ['nopersist', 'persist']]) {
        const {ctx, session, plan} = await planned(target(`redis://${user}:pw@127.0.0.1:${s.port}`), pattern)
        const pre = await applier.preflight(plan, session, ctx)
        expect(pre).toMatchObject({ok: false, reason: expect.stringMatching(new RegExp(`^Redis refused a command: NOPERM .*'${command}' command`)),
          fix: expect.stringMatching(new RegExp(`^ACL SETUSER ${user} \\+${command} \\(the applier needs \\+scan `))})
      }
      // No key made, none given a TTL, no lock left.
      expect((await admin.keys('*')).sort()).toEqual(keysBefore)
      expect((await pttls(admin, keysBefore)).filter((ms) => ms === -1).length).toBe(32)

      const {ctx, session, plan} = await planned(target(`redis://noexpire:pw@127.0.0.1:${s.port}`), pattern)
      const rec = recorder()
      const error = await applier.apply(plan, session, ctx, rec.record).then(() => undefined, (e) => e as Error)
      expect(error).toBeInstanceOf(ApplyRefusal)
      expect(error!.message).toMatch(new RegExp(`^Redis refused a command: NOPERM .*'expire' command, after 0 keys of ${pattern.replace(/[*]/g, '\\*')}: the keys done are in the journal$`))
      expect((error as ApplyRefusal).fix).toMatch(/^ACL SETUSER noexpire \+expire/)
      expect((rec.change.undo as TtlUndo).changed).toBe(0)
      expect((await pttls(admin, keysBefore)).filter((ms) => ms === -1).length).toBe(32)
      expect(await admin.exists(lockKeyOf(pattern))).toBe(0)
    } finally {
      admin.disconnect()
    }
  })
})

describe('ttl applier: hit rate over the verify window (a private server: INFO counters are server-wide)', () => {
  async function appliedOn(s: RedisServer) {
    const r = await client(s.url)
    const p = prefix()
    const {noTtl} = await seed(r, p, 20)
    const t = target(s.url)
    const ctx = applyContext(t, {options: {verifyWindowMs: 1500}})
    const session = await connect(t, ctx)
    const plan: ChangePlan = await applier.plan(remedy(`${p}:page:*`), session, ctx)
    // Lookups between plan and apply: all hits, the baseline.
    for (let i = 0; i < 200; i++) await r.get(noTtl[i % noTtl.length])
    const applied = await applier.apply(plan, session, ctx, recorder().record)
    return {r, p, noTtl, ctx, session, plan, applied}
  }

  /** Runs `lookup` in a loop until `work` settles. */
  async function during<T>(work: Promise<T>, lookup: () => Promise<unknown>): Promise<T> {
    let done = false
    const loop = (async () => {
      while (!done) await lookup()
    })()
    try {
      return await work
    } finally {
      done = true
      await loop
    }
  }

  it('passes while reads keep hitting, fails when the hit rate falls past the tolerance', async () => {
    const s = await startRedis()
    servers.push(s)
    const {r, p, noTtl, ctx, session, plan, applied} = await appliedOn(s)
    let i = 0
    const good = await during(applier.verify(plan, applied, session, ctx), () => r.get(noTtl[i++ % noTtl.length]))
    expect(good.ok).toBe(true)
    expect(good.detail).toMatch(/hit rate 100\.0% over the window vs 100\.0% before \(between plan and apply\)/)
    const bad = await during(applier.verify(plan, applied, session, ctx), () => r.get(`${p}:page:missing${i++}`))
    expect(bad.ok).toBe(false)
    expect(bad.detail).toMatch(/keyspace hit rate fell from 100\.0% .* to 0\.0%/)
    r.disconnect()
  })
})
