/**
 * The server going down in the middle of an index build, through the CLI, on a PostgreSQL cluster of this test's
 * own (never the harness's shared primary). A session holding an old snapshot keeps CREATE INDEX CONCURRENTLY
 * waiting with its INVALID index in the catalog; the server is then stopped. The applier cannot reconnect to drop
 * it, so the journal says "interrupted" with what is left (exit 1); once the server is back, the next apply
 * recovers it first (drops the INVALID index), then builds the index; no INVALID index remains.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Journal} from '../../../src/core/applier.js'
import type {Report} from '../../../src/core/types.js'
import {applyWorkspace, runCli, runCliAsync} from '../../helpers/cli.js'
import {adminQuery, connect} from '../../helpers/pg.js'
import {startPrivateCluster, type PrivateCluster} from '../../helpers/pg-cluster.js'

describe('chokepoint apply: the server stopping mid-build', () => {
  let cluster: PrivateCluster
  const {work, env, remove} = applyWorkspace('apply-restart')
  const indexes = async () => adminQuery(cluster.url, `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'public.orders'::regclass ORDER BY 1`)

  beforeAll(async () => {
    cluster = await startPrivateCluster({shared_preload_libraries: 'pg_stat_statements'})
    await adminQuery(cluster.url, `CREATE EXTENSION hypopg; CREATE EXTENSION pg_stat_statements;
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, pad text);
      INSERT INTO orders SELECT g, g % 5000, repeat('x', 100) FROM generate_series(1, 100000) g`)
    await adminQuery(cluster.url, 'VACUUM ANALYZE orders')
    await adminQuery(cluster.url, 'SELECT pg_stat_statements_reset()')
    for (let i = 0; i < 30; i++) await adminQuery(cluster.url, 'SELECT id, pad FROM orders WHERE customer_id = $1', [i])
  }, 120_000)

  afterAll(() => {
    cluster?.destroy()
    remove()
  })

  it('journals the INVALID leftover it could not drop as "interrupted", and the next apply drops it first', async () => {
    const audited = runCli(['audit', '--pg', cluster.url, '--window', '0', '--json', '--fail-on', 'never'], {cwd: work, env})
    const report = JSON.parse(audited.stdout) as Report
    const remedy = report.findings.flatMap((f) => f.remedies).find((r) => r.kind === 'index')!
    expect(remedy, audited.stderr).toBeDefined()
    const reportFile = join(work, 'report.json')
    writeFileSync(reportFile, JSON.stringify(report))
    // Named like a default journal: the next apply looks for unfinished changes in those of its directory.
    const first = join(work, 'chokepoint-apply-first.json')
    const args = ['apply', '--from', reportFile, '--pg', cluster.url, '--only', remedy.id, '--verify-window', '0']

    // An old snapshot: CREATE INDEX CONCURRENTLY waits for it at its end, its INVALID index in the catalog.
    const holder: pg.Client = await connect(cluster.url, 'cp-test-snapshot')
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1')
    const run = runCliAsync([...args, '--confirm', '--journal', first, '--max-lock-wait', '300s'], {cwd: work, env, timeoutMs: 120_000})
    const waiting = async () => (await adminQuery(cluster.url, `SELECT EXISTS (SELECT 1 FROM pg_stat_progress_create_index WHERE phase LIKE 'waiting for old snapshots%')
        AND EXISTS (SELECT 1 FROM pg_index WHERE indrelid = 'public.orders'::regclass AND NOT indisvalid) AS ok`))[0].ok as boolean
    let seen = 0
    for (const deadline = Date.now() + 60_000; seen < 2 && Date.now() < deadline;) {
      seen = (await waiting()) ? seen + 1 : 0
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(seen).toBe(2)
    cluster.stop('fast')
    const stopped = await run
    await holder.end().catch(() => {})
    expect(stopped.status, `${stopped.stdout}\n${stopped.stderr}`).toBe(1)
    // The server may go while the build waits (its backend terminated) or between two tries (the connection lost).
    expect(stopped.stdout).toMatch(/status: interrupted: create index "public"."\w+": (terminating connection due to administrator command|[^;]*connection[^;]*); could not reconnect to drop "public"."\w+": the journal records them and the next apply drops them first/)
    const journal = JSON.parse(readFileSync(first, 'utf8')) as Journal
    expect(journal.changes[0]).toMatchObject({status: 'interrupted', undo: {kind: 'index', schema: 'public'}})
    const name = (journal.changes[0].undo as {name: string}).name

    cluster.start()
    // The wait for the old snapshot is under lock_timeout escalation: a try that times out drops its INVALID index
    // before the next try builds it again. The server may go between two tries, with no leftover at all. Either way
    // the journal says interrupted, and the next apply settles it: it drops the leftover, or finds it gone.
    const after = await indexes()
    const leftover = after.some((i) => i.name === name)
    expect(after).toEqual(leftover ? [{name, valid: false}, {name: 'orders_pkey', valid: true}] : [{name: 'orders_pkey', valid: true}])
    // The dry run says it will be recovered first, and changes nothing.
    const dry = runCli(args, {cwd: work, env})
    expect(dry.status, `${dry.stdout}\n${dry.stderr}`).toBe(0)
    expect(dry.stdout).toContain(`recover: change-1 of ${first} on ${report.targets[0].name} (left interrupted; cleaned up first with --confirm)`)
    expect(await indexes()).toEqual(after)

    const second = runCli([...args, '--confirm', '--journal', join(work, 'second.json')], {cwd: work, env})
    expect(second.status, `${second.stdout}\n${second.stderr}`).toBe(0)
    expect(second.stderr).toMatch(new RegExp(leftover
      ? `recovered change change-1: cleaned up after an interrupted apply: dropped index INVALID "public"."${name}"`
      : `recovered change change-1: cleaned up after an interrupted apply: index "public"."${name}" was not there`))
    expect((JSON.parse(readFileSync(first, 'utf8')) as Journal).changes[0].status).toBe('rolled-back')
    expect(await indexes()).toEqual([{name, valid: true}, {name: 'orders_pkey', valid: true}])
  }, 180_000)
})
