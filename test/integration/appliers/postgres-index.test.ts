/**
 * The index applier on the harness primary: apply, verify and roll back; a failed verification; an INVALID leftover;
 * a cancelled and an aborted build; a lock held by another session; two applies at once; the targets it refuses;
 * a table dropped since the audit; a dry run that changes nothing; a role without the privilege.
 */
import type pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {postgresIndexApplier as applier} from '../../../src/appliers/postgres-index.js'
import {ApplyRefusal} from '../../../src/core/applier.js'
import type {IndexRemedy} from '../../../src/core/remedies.js'
import {applyContext, changeRecord} from '../../helpers/apply.js'
import {adminQuery, connect, PGBOUNCER_APP_URL, PRIMARY_URL, REPLICA_URL, withDatabase, withUser} from '../../helpers/pg.js'

const DB = 'cp_apply_index'
const ROLE = 'cp_apply_index_nopriv'
let url: string

function remedy(sql: string, statements: string[], extra: Partial<IndexRemedy> = {}): IndexRemedy {
  return {id: 'index-000000000001', kind: 'index', summary: 'test', sql, table: '"public"."orders"', columns: ['customer_id'], method: 'btree', where: null, include: [],
    statements, verified: 'what-if', estimate: {costBefore: 1000, costAfter: 10, queriesImproved: 1, sizeBytes: 1}, applier: 'postgres-index', ...extra}
}
const CUSTOMER_SQL = 'CREATE INDEX CONCURRENTLY "orders_customer_id_idx" ON "public"."orders" USING btree ("customer_id")'

async function queryid(text: string): Promise<string> {
  const rows = await adminQuery(url, `SELECT queryid::text AS id FROM pg_stat_statements WHERE query = $1 AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`, [text])
  if (!rows[0]) throw new Error(`not in pg_stat_statements: ${text}`)
  return rows[0].id
}

async function indexes(): Promise<Array<{name: string; valid: boolean}>> {
  return adminQuery(url, `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'public.orders'::regclass ORDER BY 1`)
}

async function catalog(): Promise<unknown> {
  return adminQuery(url, `SELECT c.relname, c.relkind, i.indisvalid, pg_get_indexdef(c.oid) AS def FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1`)
}

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const v = await fn()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`never happened: ${what}`)
}

/** Runs plan + preflight + apply on a fresh session; closes it. */
async function applyOnce(r: IndexRemedy, ctx = applyContext({url})) {
  const session = await applier.connect(ctx)
  try {
    const plan = await applier.plan(r, session, ctx)
    const pre = await applier.preflight(plan, session, ctx)
    const applied = await applier.apply(plan, session, ctx, ctx.record)
    return {plan, pre, applied, ctx}
  } finally {
    await applier.close(session)
  }
}

let customerQuery: string
let noteQuery: string

beforeAll(async () => {
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
  url = withDatabase(PRIMARY_URL, DB)
  await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
    CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, note text);
    INSERT INTO orders (customer_id, note) SELECT g % 5000, md5(g::text) FROM generate_series(1, 50000) g;
    ANALYZE orders;
    -- IMMUTABLE on purpose (a test lie): an index on it builds slowly enough to be cancelled mid-way.
    CREATE FUNCTION slow_key(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN $1; END $$;
    CREATE TABLE small (id int, k int); INSERT INTO small SELECT g, g FROM generate_series(1, 2000) g; ANALYZE small;`)
  const c = await connect(url)
  try {
    for (let i = 0; i < 3; i++) {
      await c.query('SELECT * FROM orders WHERE customer_id = $1', [i])
      await c.query('SELECT * FROM orders WHERE note = $1', ['x'])
    }
  } finally {
    await c.end()
  }
  customerQuery = await queryid('SELECT * FROM orders WHERE customer_id = $1')
  noteQuery = await queryid('SELECT * FROM orders WHERE note = $1')
  await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`).catch(() => {})
})

afterAll(async () => {
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`).catch(() => {})
})

describe('index applier', () => {
  it('applies CONCURRENTLY, verifies by EXPLAIN that the statement uses it at the predicted cost, and rolls back', async () => {
    const {plan, pre, applied, ctx} = await applyOnce(remedy(CUSTOMER_SQL, [customerQuery]))
    expect(plan.statements).toEqual([CUSTOMER_SQL])
    expect(plan.rollback).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_customer_id_idx"'])
    expect(pre).toMatchObject({ok: true})
    expect(applied.statements).toEqual([CUSTOMER_SQL])
    // The undo reached the journal before the build.
    expect(ctx.records[0].undo).toMatchObject({kind: 'index', schema: 'public', name: 'orders_customer_id_idx'})
    expect(await indexes()).toContainEqual({name: 'orders_customer_id_idx', valid: true})

    const session = await applier.connect(ctx)
    try {
      const v = await applier.verify(plan, applied, session, ctx)
      expect(v.ok, v.detail).toBe(true)
      expect(v.detail).toMatch(/1 statement\(s\) use it/)
      const m = v.measurements as {measuredRatio: number; statements: Array<{usesIndex: boolean}>}
      expect(m.statements[0].usesIndex).toBe(true)
      expect(m.measuredRatio).toBeLessThan(0.1)
      const rb = await applier.rollback(changeRecord(ctx, plan, applied.undo), session, ctx)
      expect(rb.ok, rb.detail).toBe(true)
      expect(rb.statements).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_customer_id_idx"'])
    } finally {
      await applier.close(session)
    }
    expect((await indexes()).map((i) => i.name)).toEqual(['orders_pkey'])
  })

  /** Applies the customer_id index, runs verify with a window (and `during` meanwhile), rolls back; the verification. */
  async function verifyOverWindow(verifyWindowMs: number, opts: {during?: (stop: AbortSignal) => Promise<number>; edit?: (plan: {details: Record<string, unknown>}) => void} = {}) {
    const {plan, applied} = await applyOnce(remedy(CUSTOMER_SQL, [customerQuery]))
    opts.edit?.(plan)
    const ctx = applyContext({url}, {options: {verifyWindowMs}})
    const session = await applier.connect(ctx)
    const stop = new AbortController()
    const load = opts.during?.(stop.signal)
    try {
      const v = await applier.verify(plan, applied, session, ctx)
      stop.abort()
      const calls = await load
      expect((await applier.rollback(changeRecord(ctx, plan, applied.undo), session, ctx)).ok).toBe(true)
      return {v, ctx, calls}
    } finally {
      stop.abort()
      await applier.close(session)
    }
  }

  /** A client calling the customer_id statement in a loop until stopped: live traffic for the verify window. */
  async function customerLoop(stop: AbortSignal): Promise<number> {
    const c = await connect(url, 'cp-test-workload')
    let n = 0
    try {
      while (!stop.aborted) {
        await c.query('SELECT * FROM orders WHERE customer_id = $1', [n % 5000])
        n++
      }
    } finally {
      await c.end()
    }
    return n
  }

  it('--verify-window: watches the statements under live traffic and names their mean time before and after', async () => {
    const {v, ctx, calls} = await verifyOverWindow(1500, {during: customerLoop})
    expect(v.ok, v.detail).toBe(true)
    expect(ctx.logs).toContain('watching 1 statement(s) for 1.5 s (--verify-window 0 skips)')
    expect(calls).toBeGreaterThanOrEqual(5)
    const [w] = (v.measurements as {window: Array<{id: string; meanMsBefore: number; meanMsAfter: number; callsInWindow: number; judged: boolean}>}).window
    expect(w).toMatchObject({id: customerQuery, judged: true})
    expect(w.callsInWindow).toBeGreaterThanOrEqual(5)
    // Before: sequential scans of 50 000 rows; after: index lookups.
    expect(w.meanMsAfter).toBeLessThan(w.meanMsBefore)
    expect(v.detail).toMatch(new RegExp(`over the 1.5 s window, none slower: ${customerQuery} mean ${w.meanMsBefore.toFixed(3)} -> ${w.meanMsAfter.toFixed(3)} ms over ${w.callsInWindow} calls`))
  })

  it('--verify-window: a window that sees no call is "not judged", not a failure', async () => {
    const {v} = await verifyOverWindow(500)
    expect(v.ok, v.detail).toBe(true)
    expect(v.detail).toMatch(/; mean time not judged: no statement was called in the 0.5 s window$/)
    expect((v.measurements as {window: Array<{callsInWindow: number; judged: boolean}>}).window).toEqual([expect.objectContaining({callsInWindow: 0, judged: false})])
  })

  it('--verify-window: a statement slower over the window than before fails the verification', async () => {
    // The mean before as if the statement had been far faster than it is: the window then sees it slower.
    const {v} = await verifyOverWindow(1000, {during: customerLoop, edit: (plan) => {
      (plan.details.verify as Array<{meanMs: number}>)[0].meanMs = 0.000001
    }})
    expect(v.ok).toBe(false)
    expect(v.detail).toMatch(new RegExp(`but slower over the 1 s window \\(tolerance 10%\\): ${customerQuery} mean 0.000 -> `))
  })

  it('fails verification when the statements it was proposed for do not use it, and rolls back', async () => {
    const {plan, applied, ctx} = await applyOnce(remedy(CUSTOMER_SQL, [noteQuery]))
    const session = await applier.connect(ctx)
    try {
      const v = await applier.verify(plan, applied, session, ctx)
      expect(v.ok).toBe(false)
      expect(v.detail).toMatch(new RegExp(`do not use it \\(${noteQuery}\\)`))
      const rb = await applier.rollback(changeRecord(ctx, plan, applied.undo), session, ctx)
      expect(rb.ok).toBe(true)
    } finally {
      await applier.close(session)
    }
    expect((await indexes()).map((i) => i.name)).toEqual(['orders_pkey'])
  })

  it('drops an INVALID index of that name left by an interrupted build first, and says so', async () => {
    // A unique build over duplicates fails and leaves its INVALID index behind, as an interrupted build does.
    await expect(adminQuery(url, 'CREATE UNIQUE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id)')).rejects.toThrow(/could not create unique index/)
    expect(await indexes()).toContainEqual({name: 'orders_customer_id_idx', valid: false})
    const {plan, applied, ctx} = await applyOnce(remedy(CUSTOMER_SQL, [customerQuery]))
    expect(plan.notes.join('\n')).toMatch(/INVALID index "public"."orders_customer_id_idx" \(left by an interrupted build\) is dropped first/)
    expect(plan.statements).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_customer_id_idx"', CUSTOMER_SQL])
    expect(applied.notes.join('\n')).toMatch(/dropped the INVALID index/)
    expect(ctx.logs.join('\n')).toMatch(/dropped the INVALID index "public"."orders_customer_id_idx"/)
    expect(await indexes()).toContainEqual({name: 'orders_customer_id_idx', valid: true})
    await adminQuery(url, 'DROP INDEX orders_customer_id_idx')
  })

  const SLOW_SQL = 'CREATE INDEX CONCURRENTLY "small_slow_idx" ON "public"."small" USING btree (public.slow_key(k))'
  const slowRemedy = () => remedy(SLOW_SQL, [], {table: '"public"."small"'})
  const smallIndexes = () => adminQuery(url, `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.small'::regclass`)
  const buildingPid = () => waitFor(async () => (await adminQuery(url, `SELECT pid FROM pg_stat_progress_create_index WHERE relid = 'public.small'::regclass AND phase LIKE 'building index%'`))[0]?.pid as number | undefined, 'the build in pg_stat_progress_create_index')

  it('a build whose backend is cancelled mid-way leaves no INVALID index, and says so', async () => {
    const ctx = applyContext({url})
    // Handled from the start: a rejection while the test still waits must not count as unhandled.
    const running = applyOnce(slowRemedy(), ctx).then(() => undefined, (e) => e as Error)
    const pid = await buildingPid()
    // Progress reached the context (polled on the applier's second connection) before the cancel.
    await waitFor(async () => ctx.progressed.find((p) => /building index/.test(p.phase)), 'progress from pg_stat_progress_create_index')
    await adminQuery(url, 'SELECT pg_cancel_backend($1)', [pid])
    const error = await running
    expect(error?.message).toMatch(/the backend was cancelled; dropped the INVALID index "public"."small_slow_idx" it left/)
    expect(ctx.progressed.some((p) => /building index/.test(p.phase))).toBe(true)
    expect(await smallIndexes()).toEqual([])
  })

  it('a build whose backend is terminated (the connection lost, as in a restart) reconnects, drops the INVALID leftover and says so', async () => {
    const ctx = applyContext({url})
    const session = await applier.connect(ctx)
    try {
      const plan = await applier.plan(slowRemedy(), session, ctx)
      const running = applier.apply(plan, session, ctx, ctx.record).then(() => undefined, (e) => e as Error)
      const pid = await buildingPid()
      expect(pid).toBe(session.pid)
      expect(await smallIndexes()).toEqual([{name: 'small_slow_idx', valid: false}])
      await adminQuery(url, 'SELECT pg_terminate_backend($1)', [pid])
      const error = await running
      expect(error?.message).toMatch(/^create index "public"."small_slow_idx": terminating connection due to administrator command; dropped the INVALID index "public"."small_slow_idx" it left$/)
      expect(ctx.logs).toContain('reconnected to pg (a fresh session) to clean up')
      expect(await smallIndexes()).toEqual([])
      // The session now runs on the fresh connection: a rollback after the failure works (the orchestrator's next step).
      expect(session.pid).not.toBe(pid)
      const rb = await applier.rollback(changeRecord(ctx, plan), session, ctx)
      expect(rb).toMatchObject({ok: true, detail: 'rolled back: index "public"."small_slow_idx" was not there'})
    } finally {
      await applier.close(session)
    }
  })

  it('Ctrl-C (the signal) cancels the build and drops the leftover; a second apply meanwhile refuses', async () => {
    const ctx = applyContext({url})
    // Handled from the start: a rejection while the test still waits must not count as unhandled.
    const running = applyOnce(slowRemedy(), ctx).then(() => undefined, (e) => e as Error)
    await buildingPid()
    // A second apply on the same database: its preflight and its apply both refuse, naming the first.
    const other = applyContext({url})
    const session = await applier.connect(other)
    try {
      const plan = await applier.plan(remedy(CUSTOMER_SQL, [customerQuery]), session, other)
      const pre = await applier.preflight(plan, session, other)
      expect(pre).toMatchObject({ok: false, reason: expect.stringMatching(/another chokepoint apply is running on database "cp_apply_index" \(pid \d+/)})
      await expect(applier.apply(plan, session, other, other.record)).rejects.toThrow(/another chokepoint apply is running .* it holds the apply lock/)
    } finally {
      await applier.close(session)
    }
    ctx.abort()
    const error = await running
    expect(error?.message).toMatch(/interrupted .*dropped the INVALID index "public"."small_slow_idx"/)
    expect(await smallIndexes()).toEqual([])
  })

  it('retries under a growing lock_timeout while another session holds a conflicting lock, then gives up naming it', async () => {
    const blocker: pg.Client = await connect(url, 'cp-test-blocker')
    try {
      await blocker.query('BEGIN; LOCK TABLE orders IN SHARE UPDATE EXCLUSIVE MODE')
      const blockerPid = (await blocker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
      const ctx = applyContext({url}, {options: {maxLockWaitMs: 700}})
      const error = await applyOnce(remedy(CUSTOMER_SQL, [customerQuery]), ctx).then(() => undefined, (e) => e as Error)
      expect(error).toBeInstanceOf(ApplyRefusal)
      expect(error!.message).toMatch(new RegExp(`gave up after 3 tries and 700 ms waiting for a lock .*blocked by pid ${blockerPid} \\(.*application "cp-test-blocker"`))
      expect((error as ApplyRefusal).fix).toContain(`pid ${blockerPid}`)
      const retries = ctx.logs.filter((l) => /lock not granted within/.test(l))
      expect(retries).toEqual([
        expect.stringMatching(/within 100 ms \(try 1.*retrying with lock_timeout 200 ms/),
        expect.stringMatching(/within 200 ms \(try 2.*retrying with lock_timeout 400 ms/),
      ])
    } finally {
      await blocker.query('ROLLBACK').catch(() => {})
      await blocker.end()
    }
    expect((await indexes()).map((i) => i.name)).toEqual(['orders_pkey'])
  })

  it('refuses a standby, PgBouncer in transaction mode and a pgbouncer target', async () => {
    await expect(applier.connect(applyContext({url: REPLICA_URL}))).rejects.toThrow(/is a standby \(pg_is_in_recovery\(\)\)/)
    const bouncer = applyContext({url: PGBOUNCER_APP_URL})
    const error = await applier.connect(bouncer).then(() => undefined, (e) => e as Error)
    expect(error).toBeInstanceOf(ApplyRefusal)
    expect(error!.message).toMatch(/through a pooler in transaction mode/)
    expect(bouncer.secrets.scrub(error!.message)).toBe(error!.message)
    await expect(applier.connect(applyContext({url: PGBOUNCER_APP_URL, kind: 'pgbouncer'}))).rejects.toThrow(/is a pgbouncer target/)
  })

  it('a dry run (plan + preflight) changes nothing; a table dropped since then is refused', async () => {
    await adminQuery(url, 'CREATE TABLE gone (a int); CREATE UNIQUE INDEX gone_a_idx ON gone (a)')
    const before = await catalog()
    const ctx = applyContext({url})
    const session = await applier.connect(ctx)
    try {
      const plan = await applier.plan(remedy('CREATE INDEX CONCURRENTLY "gone_a_idx2" ON "public"."gone" USING btree ("a")', [], {table: '"public"."gone"'}), session, ctx)
      expect(await applier.preflight(plan, session, ctx)).toMatchObject({ok: true})
      expect(await catalog()).toEqual(before)
      expect(await adminQuery(url, `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`)).toEqual([{n: 0}])
      await adminQuery(url, 'DROP TABLE gone')
      expect(await applier.preflight(plan, session, ctx)).toMatchObject({ok: false, reason: 'table "public"."gone" no longer exists (dropped or renamed since the audit)'})
      await expect(applier.apply(plan, session, ctx, ctx.record)).rejects.toThrow(/no longer exists/)
      expect(ctx.records).toEqual([])
    } finally {
      await applier.close(session)
    }
  })

  it('builds a partitioned table\'s index per partition, then ON ONLY the parent and attaches them; rollback drops it all', async () => {
    await adminQuery(url, `CREATE TABLE events (id int, k int) PARTITION BY RANGE (id);
      CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (1000); CREATE TABLE events_2 PARTITION OF events FOR VALUES FROM (1000) TO (2000);
      INSERT INTO events SELECT g, g FROM generate_series(0, 1999) g; ANALYZE events;`)
    const r = remedy('CREATE INDEX "events_k_idx" ON "public"."events" USING btree ("k")', [], {table: '"public"."events"'})
    const {plan, applied, ctx} = await applyOnce(r)
    expect(plan.statements).toEqual([
      'CREATE INDEX CONCURRENTLY "events_k_idx_events_1" ON "public"."events_1" USING btree ("k")',
      'CREATE INDEX CONCURRENTLY "events_k_idx_events_2" ON "public"."events_2" USING btree ("k")',
      'CREATE INDEX "events_k_idx" ON ONLY "public"."events" USING btree ("k")',
      'ALTER INDEX "public"."events_k_idx" ATTACH PARTITION "public"."events_k_idx_events_1"',
      'ALTER INDEX "public"."events_k_idx" ATTACH PARTITION "public"."events_k_idx_events_2"',
    ])
    expect(plan.rollback).toEqual(['DROP INDEX IF EXISTS "public"."events_k_idx"'])
    const session = await applier.connect(ctx)
    try {
      const v = await applier.verify(plan, applied, session, ctx)
      expect(v.ok, v.detail).toBe(true)
      expect((await applier.rollback(changeRecord(ctx, plan, applied.undo), session, ctx)).ok).toBe(true)
    } finally {
      await applier.close(session)
    }
    expect(await adminQuery(url, `SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'events_k_idx%'`)).toEqual([{n: 0}])
    await adminQuery(url, 'DROP TABLE events')
  })

  it('refuses a role that does not own the table, naming the GRANT it needs', async () => {
    await adminQuery(PRIMARY_URL, `CREATE ROLE ${ROLE} LOGIN`)
    await adminQuery(url, `GRANT SELECT ON orders TO ${ROLE}`)
    const ctx = applyContext({url: withUser(url, ROLE)})
    const session = await applier.connect(ctx)
    try {
      const plan = await applier.plan(remedy(CUSTOMER_SQL, [customerQuery]), session, ctx)
      const pre = await applier.preflight(plan, session, ctx)
      expect(pre).toEqual({ok: false, reason: `${ROLE} may not create an index on "public"."orders": that needs the table's owner (postgres) or a member of its role`, fix: `GRANT "postgres" TO "${ROLE}";`})
      await expect(applier.apply(plan, session, ctx, ctx.record)).rejects.toThrow(/may not create an index/)
    } finally {
      await applier.close(session)
      await adminQuery(url, `REVOKE ALL ON orders FROM ${ROLE}`)
    }
  })
})
