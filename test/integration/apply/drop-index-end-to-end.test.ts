/**
 * `chokepoint apply` with the built-in drop-index applier, end to end through the CLI on the harness primary: an
 * audit proposes dropping a duplicate index, the dry run changes nothing (catalog compared), --confirm drops it,
 * verifies it and journals its definition, the next audit no longer proposes it, and --rollback recreates it.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Journal} from '../../../src/core/applier.js'
import type {Report} from '../../../src/core/types.js'
import {applyWorkspace} from '../../helpers/cli.js'
import {adminQuery, PRIMARY_URL, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_apply_drop_e2e'

describe('chokepoint apply: the drop-index applier end to end', () => {
  const url = withDatabase(PRIMARY_URL, DB)
  const {work, cli, remove} = applyWorkspace('apply-drop-e2e')
  const target = ['--pg', url, '--window', '0']
  const catalog = async () => adminQuery(url, `SELECT c.relname, i.indisvalid, i.indisready, pg_get_indexdef(c.oid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'public.t'::regclass ORDER BY 1`)
  const audit = (): Report => JSON.parse(cli(['audit', ...target, '--json', '--fail-on', 'never']).stdout)
  const dropRemedies = (report: Report) => report.findings.filter((f) => f.rule === 'database/duplicate-index').flatMap((f) => f.remedies.filter((r) => r.kind === 'drop-index'))

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      -- (a, pad) over distinct pads is far larger than (a), which btree deduplicates: the planner reads t_a_idx while it
      -- exists, so verification has a statement to check.
      CREATE TABLE t (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, pad text);
      INSERT INTO t SELECT g, g % 1000, g % 7, md5(g::text) FROM generate_series(1, 50000) g;
      CREATE INDEX t_a_idx ON t (a); CREATE INDEX t_a_pad_idx ON t (a, pad)`)
    await adminQuery(url, 'VACUUM ANALYZE t')
    await adminQuery(url, `SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
    for (let i = 0; i < 20; i++) await adminQuery(url, 'SELECT id FROM t WHERE a = $1', [i])
  })

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    remove()
  })

  it('proposes, dry-runs, drops, verifies, journals and recreates the duplicate index', async () => {
    const before = await catalog()
    const [remedy] = dropRemedies(audit())
    expect(remedy).toMatchObject({applier: 'postgres-drop-index', index: '"public"."t_a_idx"'})

    // Without --confirm: the plan, each note once, and nothing changes.
    const dry = cli(['apply', ...target, '--only', remedy.id])
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('run:  DROP INDEX CONCURRENTLY IF EXISTS "public"."t_a_idx"')
    expect(dry.stdout).toContain('undo: CREATE INDEX CONCURRENTLY "t_a_idx" ON "public"."t" USING btree (a)')
    const notes = dry.stdout.split('\n').filter((l) => l.trim().startsWith('note:'))
    expect(notes.length).toBeGreaterThan(0)
    expect(new Set(notes).size).toBe(notes.length)
    expect(await catalog()).toEqual(before)
    expect(readdirSync(work).filter((f) => f.startsWith('chokepoint-apply-'))).toEqual([])

    // --confirm: dropped, verified, journalled with the definition. --verify-window 0: the statement has calls, so
    // the default would watch it for 60 s (the window has tests of its own).
    const journalFile = join(work, 'journal.json')
    const applied = cli(['apply', ...target, '--only', remedy.id, '--confirm', '--journal', journalFile, '--verify-window', '0'])
    expect(applied.status, `${applied.stdout}\n${applied.stderr}`).toBe(0)
    expect((await catalog()).map((r) => r.relname)).toEqual(['t_a_pad_idx', 't_pkey'])
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as Journal
    expect(journal.changes).toHaveLength(1)
    expect(journal.changes[0]).toMatchObject({remedyId: remedy.id, applier: 'postgres-drop-index', status: 'verified',
      statements: ['DROP INDEX CONCURRENTLY IF EXISTS "public"."t_a_idx"'], undo: {kind: 'drop-index', definition: 'CREATE INDEX t_a_idx ON public.t USING btree (a)'}})
    expect(journal.changes[0].verification).toMatchObject({ok: true, detail: expect.stringMatching(/^index "public"."t_a_idx" is gone; the 1 statement\(s\) that used it are no slower in plan cost$/)})

    // The next audit no longer asks for it.
    expect(dropRemedies(audit())).toEqual([])

    // --rollback: a dry run, then with --confirm the index is back as it was.
    const dryBack = cli(['apply', '--rollback', journalFile, ...target])
    expect(dryBack.status, dryBack.stderr).toBe(0)
    expect(dryBack.stdout).toContain('undo: CREATE INDEX CONCURRENTLY "t_a_idx" ON "public"."t" USING btree (a)')
    expect((await catalog()).map((r) => r.relname)).toEqual(['t_a_pad_idx', 't_pkey'])
    const back = cli(['apply', '--rollback', journalFile, '--confirm', ...target])
    expect(back.status, `${back.stdout}\n${back.stderr}`).toBe(0)
    expect(await catalog()).toEqual(before)
    expect((JSON.parse(readFileSync(journalFile, 'utf8')) as Journal).changes[0].status).toBe('rolled-back')
  })
})
