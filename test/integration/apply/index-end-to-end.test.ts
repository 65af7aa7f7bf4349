/**
 * `chokepoint apply` with the built-in index applier, end to end through the CLI on a real PostgreSQL with hypopg: an
 * audit proposes the missing index, the dry run changes nothing, --confirm builds it, verifies it and journals it,
 * the next audit no longer proposes it, and --rollback drops it again.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Journal} from '../../../src/core/applier.js'
import type {Report} from '../../../src/core/types.js'
import {applyWorkspace} from '../../helpers/cli.js'
import {adminQuery, PRIMARY_URL, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_apply_index_e2e'

describe('chokepoint apply: the index applier end to end', () => {
  const url = withDatabase(PRIMARY_URL, DB)
  const {work, cli, remove} = applyWorkspace('apply-e2e')
  const target = ['--pg', url, '--window', '0']
  const indexes = async () => (await adminQuery(url, `SELECT indexname FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1`)).map((r) => r.indexname as string)
  const audit = (): Report => JSON.parse(cli(['audit', ...target, '--json', '--fail-on', 'never']).stdout)
  const indexRemedies = (report: Report) => report.findings.filter((f) => f.rule === 'database/missing-index').flatMap((f) => f.remedies.filter((r) => r.kind === 'index'))

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS hypopg; CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, pad text);
      INSERT INTO orders SELECT g, g % 5000, repeat('x', 100) FROM generate_series(1, 100000) g`)
    // Vacuumed now, not by autovacuum between two audits: a visibility map set half-way makes the advisor switch to a
    // covering index (INCLUDE) under another remedy id, and the id the test picked would no longer be in the report.
    await adminQuery(url, 'VACUUM ANALYZE orders')
    await adminQuery(url, `SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
    for (let i = 0; i < 30; i++) await adminQuery(url, 'SELECT id, pad FROM orders WHERE customer_id = $1', [i])
  })

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    remove()
  })

  it('proposes, dry-runs, builds, verifies, journals and rolls back the missing index', async () => {
    const before = await indexes()
    const [remedy] = indexRemedies(audit())
    expect(remedy).toMatchObject({applier: 'postgres-index', columns: ['customer_id']})

    // Without --confirm: the plan, and nothing changes.
    const dry = cli(['apply', ...target, '--only', remedy.id])
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('CREATE INDEX CONCURRENTLY')
    // Its statement has calls: verification will watch it for the default window, and the plan says so.
    expect(dry.stdout).toContain('note: verification watches 1 statement(s) in pg_stat_statements for 60 s after the change (--verify-window 0 skips)')
    expect(await indexes()).toEqual(before)
    expect(readdirSync(work).filter((f) => f.startsWith('chokepoint-apply-'))).toEqual([])

    // --confirm: built, verified, journalled.
    const journalFile = join(work, 'journal.json')
    // --verify-window 0: the statement has calls, so the default would watch it for 60 s (the window has tests of its own).
    const applied = cli(['apply', ...target, '--only', remedy.id, '--confirm', '--journal', journalFile, '--verify-window', '0'])
    expect(applied.status, `${applied.stdout}\n${applied.stderr}`).toBe(0)
    const created = (await indexes()).filter((i) => !before.includes(i))
    expect(created).toHaveLength(1)
    const [valid] = await adminQuery(url, `SELECT i.indisvalid AND i.indisready AS ok FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`, [created[0]])
    expect(valid.ok).toBe(true)
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as Journal
    expect(journal.changes).toHaveLength(1)
    expect(journal.changes[0]).toMatchObject({remedyId: remedy.id, applier: 'postgres-index', status: 'verified'})
    expect(journal.changes[0].statements.join('\n')).toContain('CREATE INDEX CONCURRENTLY')

    // The next audit no longer asks for it.
    expect(indexRemedies(audit()).filter((r) => (r as {columns?: string[]}).columns?.join() === 'customer_id')).toEqual([])

    // --rollback: a dry run, then with --confirm the index is gone.
    const dryBack = cli(['apply', '--rollback', journalFile, ...target])
    expect(dryBack.status, dryBack.stderr).toBe(0)
    expect((await indexes()).filter((i) => !before.includes(i))).toHaveLength(1)
    const back = cli(['apply', '--rollback', journalFile, '--confirm', ...target])
    expect(back.status, `${back.stdout}\n${back.stderr}`).toBe(0)
    expect(await indexes()).toEqual(before)
    const after = JSON.parse(readFileSync(journalFile, 'utf8')) as Journal
    expect(after.changes[0].status).toBe('rolled-back')
  })
})
