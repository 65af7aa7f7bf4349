/**
 * The drop-index applier on the harness primary: drop, verify and recreate on rollback; the indexes it refuses;
 * a failed verification (a statement that needed the index) rolled back.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {postgresDropIndexApplier as applier} from '../../../src/appliers/postgres-drop-index.js'
import type {DropIndexRemedy} from '../../../src/core/remedies.js'
import {ApplyRefusal} from '../../../src/core/applier.js'
import {applyContext, changeRecord} from '../../helpers/apply.js'
import {adminQuery, connect, PRIMARY_URL, withDatabase, withUser} from '../../helpers/pg.js'

const DB = 'cp_apply_drop_index'
const ROLE = 'cp_apply_drop_nopriv'
let url: string

const remedy = (index: string, extra: Partial<DropIndexRemedy> = {}): DropIndexRemedy => ({id: 'drop-index-000000000001', kind: 'drop-index', summary: 'test', index,
  table: '"public"."t"', reason: 'duplicate', applier: 'postgres-drop-index', ...extra})

const defs = async () => (await adminQuery(url, `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'public.t'::regclass ORDER BY 1`)).map((r) => r.def)

/** plan + preflight (+ apply + verify when preflight passes) on one session, kept open for the test's rollback. */
let open: Array<() => Promise<void>> = []
async function run(r: DropIndexRemedy) {
  const ctx = applyContext({url})
  const session = await applier.connect(ctx)
  open.push(() => applier.close(session))
  const plan = await applier.plan(r, session, ctx)
  const pre = await applier.preflight(plan, session, ctx)
  if (!pre.ok) return {plan, pre, ctx}
  const applied = await applier.apply(plan, session, ctx, ctx.record)
  const verification = await applier.verify(plan, applied, session, ctx)
  return {plan, pre, applied, verification, ctx, rollback: () => applier.rollback(changeRecord(ctx, plan, applied.undo), session, ctx)}
}
async function close() {
  const pending = open
  open = []
  for (const c of pending) await c()
}

beforeAll(async () => {
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
  url = withDatabase(PRIMARY_URL, DB)
  await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
    CREATE TABLE t (id int PRIMARY KEY, a int, b text, c int, u int UNIQUE, x int);
    INSERT INTO t SELECT g, g % 1000, md5(g::text), g % 100, g, g FROM generate_series(1, 20000) g;
    CREATE INDEX t_a_idx ON t (a); CREATE INDEX t_a_b_idx ON t (a, b); CREATE INDEX t_c_idx ON t (c); CREATE UNIQUE INDEX t_x_key ON t (x);
    ANALYZE t;`)
  const c = await connect(url)
  try {
    for (let i = 0; i < 3; i++) {
      await c.query('SELECT * FROM t WHERE a = $1', [i])
      await c.query('SELECT * FROM t WHERE c = $1', [i])
    }
  } finally {
    await c.end()
  }
})

afterAll(async () => {
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`).catch(() => {})
})

describe('drop-index applier', () => {
  it('drops a redundant index CONCURRENTLY, verifies the statements that used it are no slower, and recreates it on rollback', async () => {
    const before = await defs()
    // The planner reads `a = $1` through t_a_b_idx; without it, t_a_idx serves the lookup at about the same cost.
    const r = await run(remedy('"public"."t_a_b_idx"', {reason: 'unused'}))
    try {
      expect(r.pre).toMatchObject({ok: true})
      expect(r.plan.statements).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "public"."t_a_b_idx"'])
      expect(r.plan.rollback).toEqual(['CREATE INDEX CONCURRENTLY "t_a_b_idx" ON "public"."t" USING btree (a, b)'])
      expect(r.ctx.records[0].undo).toMatchObject({kind: 'drop-index', definition: 'CREATE INDEX t_a_b_idx ON public.t USING btree (a, b)'})
      expect(r.verification!.ok, r.verification!.detail).toBe(true)
      expect(r.verification!.detail).toMatch(/the 1 statement\(s\) that used it are no slower/)
      expect(await defs()).not.toContain('CREATE INDEX t_a_b_idx ON public.t USING btree (a, b)')
      const rb = await r.rollback!()
      expect(rb.ok, rb.detail).toBe(true)
    } finally {
      await close()
    }
    expect(await defs()).toEqual(before)
  })

  it('recovers a drop cut off mid-way: an index left INVALID is rebuilt, one already gone is recreated, a valid one is left alone', async () => {
    const before = await defs()
    const ctx = applyContext({url})
    const session = await applier.connect(ctx)
    try {
      const plan = await applier.plan(remedy('"public"."t_a_b_idx"', {reason: 'unused'}), session, ctx)
      expect((await applier.preflight(plan, session, ctx)).ok).toBe(true)
      const change = changeRecord(ctx, plan, {kind: 'drop-index', schema: 'public', name: 't_a_b_idx', tableOid: null, recreate: plan.rollback[0], definition: 'CREATE INDEX t_a_b_idx ON public.t USING btree (a, b)'})
      // Untouched (killed before the drop ran): nothing to do.
      expect(await applier.recover!(change, session, ctx)).toMatchObject({ok: true, detail: expect.stringMatching(/cleaned up after an interrupted apply: index "public"."t_a_b_idx" is already there/)})
      // What DROP INDEX CONCURRENTLY leaves when cut off after its first transaction: the index INVALID.
      await adminQuery(url, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.t_a_b_idx'::regclass`)
      const rebuilt = await applier.recover!(change, session, ctx)
      expect(rebuilt.ok, rebuilt.detail).toBe(true)
      expect(rebuilt.statements).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "public"."t_a_b_idx"', 'CREATE INDEX CONCURRENTLY "t_a_b_idx" ON "public"."t" USING btree (a, b)'])
      expect((await adminQuery(url, `SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.t_a_b_idx'::regclass`))[0].indisvalid).toBe(true)
      // Dropped, but the run died before the journal said so.
      await adminQuery(url, 'DROP INDEX t_a_b_idx')
      expect((await applier.recover!(change, session, ctx)).ok).toBe(true)
    } finally {
      await applier.close(session)
    }
    expect(await defs()).toEqual(before)
  })

  it('fails verification when a statement that used it now costs more, and the rollback recreates it', async () => {
    const r = await run(remedy('"public"."t_c_idx"', {reason: 'unused'}))
    try {
      expect(r.verification!.ok).toBe(false)
      expect(r.verification!.detail).toMatch(/statements that used it cost more to run now/)
      expect((await r.rollback!()).ok).toBe(true)
    } finally {
      await close()
    }
    expect(await defs()).toContain('CREATE INDEX t_c_idx ON public.t USING btree (c)')
  })

  it('refuses constraint, primary, unique indexes, ones not checked on standbys, and one that is gone', async () => {
    const cases: Array<[DropIndexRemedy, RegExp]> = [
      [remedy('"public"."t_pkey"'), /backs the constraint "t_pkey"/],
      [remedy('"public"."t_u_key"'), /backs the constraint "t_u_key"/],
      [remedy('"public"."t_x_key"'), /is a unique index/],
      [remedy('"public"."t_a_idx"', {checkReplicas: 'true'}), /were not checked on every standby \(checkReplicas\)/],
      [remedy('"public"."t_nope_idx"'), /no longer exists \(dropped or renamed since the audit\)/],
    ]
    const before = await defs()
    for (const [r, reason] of cases) {
      const out = await run(r)
      await close()
      expect(out.pre).toMatchObject({ok: false, reason: expect.stringMatching(reason)})
    }
    expect(await defs()).toEqual(before)
  })

  it('refuses a role that does not own the table, naming the GRANT it needs', async () => {
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}; CREATE ROLE ${ROLE} LOGIN`)
    await adminQuery(url, `GRANT SELECT ON t TO ${ROLE}`)
    const ctx = applyContext({url: withUser(url, ROLE)})
    const session = await applier.connect(ctx)
    try {
      const plan = await applier.plan(remedy('"public"."t_a_idx"'), session, ctx)
      expect(await applier.preflight(plan, session, ctx)).toEqual({ok: false,
        reason: `${ROLE} may not drop an index on "public"."t": that needs the table's owner (postgres) or a member of its role`, fix: `GRANT "postgres" TO "${ROLE}";`})
      await expect(applier.apply(plan, session, ctx, ctx.record)).rejects.toThrow(/may not drop an index/)
      expect(ctx.records).toEqual([])
    } finally {
      await applier.close(session)
      await adminQuery(url, `REVOKE ALL ON t FROM ${ROLE}`)
    }
  })

  it('a lock held by a long transaction: retries under a growing lock_timeout, then gives up naming it; the index stays', async () => {
    const blocker = await connect(url, 'cp-test-blocker')
    try {
      await blocker.query('BEGIN; LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE')
      const blockerPid = (await blocker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
      const ctx = applyContext({url}, {options: {maxLockWaitMs: 700}})
      const session = await applier.connect(ctx)
      try {
        const plan = await applier.plan(remedy('"public"."t_a_idx"'), session, ctx)
        const error = await applier.apply(plan, session, ctx, ctx.record).then(() => undefined, (e) => e as Error)
        expect(error).toBeInstanceOf(ApplyRefusal)
        expect(error!.message).toMatch(new RegExp(`^drop index "public"."t_a_idx": gave up after 3 tries and 700 ms waiting for a lock .*blocked by pid ${blockerPid} \\(.*application "cp-test-blocker".*; the index is still there and valid$`))
        expect(ctx.logs.filter((l) => /lock not granted within/.test(l))).toHaveLength(2)
        // The undo reached the journal before the drop was tried.
        expect(ctx.records[0].undo).toMatchObject({kind: 'drop-index', name: 't_a_idx'})
      } finally {
        await applier.close(session)
      }
    } finally {
      await blocker.query('ROLLBACK').catch(() => {})
      await blocker.end()
    }
    expect(await defs()).toContain('CREATE INDEX t_a_idx ON public.t USING btree (a)')
  })
})
