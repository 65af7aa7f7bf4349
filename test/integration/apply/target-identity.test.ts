/**
 * `apply --from` refuses a report of another PostgreSQL cluster behind the same address: the audit records the
 * server's system identifier (pg_control_system()) in the target's facts, and the PostgreSQL appliers compare it
 * with the live server's on connecting. An edited identifier is refused (one line naming both, exit 2, nothing
 * changed, no journal); the real one passes; a report from before the fact existed is applied with a line saying it
 * was not checked. The same holds for --rollback of a journal whose target carries another identifier.
 */
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Journal} from '../../../src/core/applier.js'
import type {Report} from '../../../src/core/types.js'
import {applyWorkspace} from '../../helpers/cli.js'
import {adminQuery, PRIMARY_URL, withDatabase, withUser} from '../../helpers/pg.js'

const DB = 'cp_apply_identity'
const ROLE = 'cp_apply_identity_nocontrol'

describe('chokepoint apply: the target must be the cluster the report audited', () => {
  const url = withDatabase(PRIMARY_URL, DB)
  const {work, cli, remove} = applyWorkspace('apply-identity')
  const target = ['--pg', url, '--window', '0']
  const indexes = async () => (await adminQuery(url, `SELECT indexname FROM pg_indexes WHERE tablename = 't' ORDER BY 1`)).map((r) => r.indexname as string)
  let report: Report
  let liveId: string
  const saved = (name: string, edit: (facts: Record<string, unknown>) => void): string => {
    const copy = JSON.parse(JSON.stringify(report)) as Report
    edit(copy.targets[0].facts!)
    const file = join(work, name)
    writeFileSync(file, JSON.stringify(copy))
    return file
  }

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `CREATE TABLE t (id int PRIMARY KEY, a int, b int); INSERT INTO t SELECT g, g % 100, g FROM generate_series(1, 5000) g;
      CREATE INDEX t_a_idx ON t (a); CREATE INDEX t_a_b_idx ON t (a, b); ANALYZE t`)
    liveId = (await adminQuery(url, 'SELECT system_identifier::text AS id FROM pg_control_system()'))[0].id
    const audited = cli(['audit', ...target, '--json', '--fail-on', 'never'])
    expect(audited.status, audited.stderr).toBe(0)
    report = JSON.parse(audited.stdout)
  })

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`).catch(() => {})
    remove()
  })

  it('records the server\'s system identifier in the report', () => {
    expect(report.targets[0].facts).toMatchObject({role: 'primary', systemIdentifier: liveId})
  })

  it('refuses a report whose system identifier is not the live server\'s, naming both; changes nothing', async () => {
    const before = await indexes()
    const other = saved('other-cluster.json', (f) => {
      f.systemIdentifier = '7000000000000000001'
    })
    for (const confirm of [[], ['--confirm', '--journal', join(work, 'refused-journal.json')]]) {
      const r = cli(['apply', '--from', other, ...target, '--kind', 'drop-index', ...confirm])
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(2)
      const lines = r.stderr.trim().split('\n').filter((l) => /system/.test(l))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(new RegExp(`is PostgreSQL system ${liveId} now, but the report audited system 7000000000000000001 \\(pg_control_system\\(\\)\\)`))
    }
    expect(await indexes()).toEqual(before)
    // The refused confirm wrote a journal of nothing done, or none: no change in it ever started.
    const journals = readdirSync(work).filter((f) => f.endsWith('journal.json'))
    for (const j of journals) expect((JSON.parse(readFileSync(join(work, j), 'utf8')) as Journal).changes.every((c) => c.status === 'planned' && !c.startedAt)).toBe(true)
  })

  it('passes the report\'s own identifier, and applies an older report without one, saying it was not checked', () => {
    const real = cli(['apply', '--from', saved('real.json', () => {}), ...target, '--kind', 'drop-index'])
    expect(real.status, `${real.stdout}\n${real.stderr}`).toBe(0)
    expect(real.stdout).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."t_a_idx"')
    expect(real.stderr).not.toMatch(/system identifier/)
    const old = cli(['apply', '--from', saved('old.json', (f) => {
      delete f.systemIdentifier
    }), ...target, '--kind', 'drop-index'])
    expect(old.status, `${old.stdout}\n${old.stderr}`).toBe(0)
    expect(old.stderr).toMatch(/system identifier not checked: the report predates system identifiers/)
  })

  it('a role that may not run pg_control_system() audits without the fact, and applies saying it was not checked', async () => {
    // Revoked in this database only (function privileges live in each database's catalog).
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}; CREATE ROLE ${ROLE} LOGIN`)
    await adminQuery(url, 'REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC')
    try {
      const asRole = ['--pg', withUser(url, ROLE), '--window', '0']
      const audited = cli(['audit', ...asRole, '--json', '--fail-on', 'never'])
      const facts = (JSON.parse(audited.stdout) as Report).targets[0]
      expect(facts, audited.stderr).toMatchObject({status: 'ok', facts: {role: 'primary', user: ROLE}})
      expect(facts.facts).not.toHaveProperty('systemIdentifier')
      // The superuser's report carries the identifier; this role cannot read the live one: said, not refused (exit 1
      // here only because the role does not own the table: its preflight says so).
      const r = cli(['apply', '--from', saved('for-role.json', () => {}), ...asRole, '--kind', 'drop-index'])
      expect(r.stderr).toMatch(/system identifier not checked: this role may not run pg_control_system\(\)/)
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(1)
      expect(r.stdout).toMatch(/preflight: refused: cp_apply_identity_nocontrol may not drop an index/)
    } finally {
      await adminQuery(url, 'GRANT EXECUTE ON FUNCTION pg_control_system() TO PUBLIC')
    }
  })

  it('--rollback refuses a journal whose target carries another system identifier', async () => {
    const journalFile = join(work, 'journal.json')
    const applied = cli(['apply', '--from', saved('apply.json', () => {}), ...target, '--kind', 'drop-index', '--confirm', '--journal', journalFile])
    expect(applied.status, `${applied.stdout}\n${applied.stderr}`).toBe(0)
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as Journal
    expect(journal.report.targets[0].facts).toMatchObject({systemIdentifier: liveId})
    journal.report.targets[0].facts!.systemIdentifier = '7000000000000000001'
    const edited = join(work, 'edited-journal.json')
    writeFileSync(edited, JSON.stringify(journal))
    const refused = cli(['apply', '--rollback', edited, '--confirm', ...target])
    expect(refused.status, `${refused.stdout}\n${refused.stderr}`).toBe(2)
    expect(refused.stderr).toMatch(/but the report audited system 7000000000000000001/)
    expect(await indexes()).toEqual(['t_a_b_idx', 't_pkey'])
    const back = cli(['apply', '--rollback', journalFile, '--confirm', ...target])
    expect(back.status, `${back.stdout}\n${back.stderr}`).toBe(0)
    expect(await indexes()).toEqual(['t_a_b_idx', 't_a_idx', 't_pkey'])
  })
})
