/**
 * No silent gap: a role without pg_read_all_stats sees other users' pg_stat_statements entries as
 * '<insufficient privilege>' (no text, no queryid). The index advisor is then left with nothing to plan. The report
 * lists both under "Not read", with the GRANT that fixes it; after the GRANT the gap is gone.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {renderReport} from '../../../src/index.js'
import {DocumentSchemas} from '../../../src/core/document-schema.js'
import type {StatementsData} from '../../../src/probes/postgres/statements.js'
import type {NotReadEntry, Report} from '../../../src/core/types.js'
import {PRIMARY_URL, adminQuery, auditTarget, readingOf, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_statements_hidden'
const ROLE = 'cp_hidden_stmts'
const url = withDatabase(PRIMARY_URL, DB)
const asRole = url.replace('//postgres@', `//${ROLE}@`)
const FIX = `GRANT pg_read_all_stats TO "${ROLE}";`
const PROBES = ['postgres.statements', 'postgres.plans']

const dropDatabase = () => adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
const gap = (report: Report, probe: string): NotReadEntry | undefined => report.notRead?.find((g) => g.probe === probe)

describe('statements hidden from a role without pg_read_all_stats', () => {
  beforeAll(async () => {
    await dropDatabase()
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`)
    await adminQuery(PRIMARY_URL, `CREATE ROLE ${ROLE} LOGIN`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `
      CREATE EXTENSION pg_stat_statements;
      CREATE TABLE hidden_orders (id int PRIMARY KEY, customer int, total numeric);
      INSERT INTO hidden_orders SELECT g, g % 500, g FROM generate_series(1, 20000) g;
      ANALYZE hidden_orders;
      GRANT SELECT ON hidden_orders TO ${ROLE};`)
    // The workload, run by another user (postgres): its texts are what the role cannot see.
    for (let i = 0; i < 20; i++) {
      await adminQuery(url, 'SELECT count(*) FROM hidden_orders WHERE customer = $1', [i])
      await adminQuery(url, 'SELECT sum(total) FROM hidden_orders WHERE total > $1 AND customer < $2', [i * 100, 50])
    }
  })

  afterAll(async () => {
    await dropDatabase()
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`)
  })

  it('lists the hidden statement texts and the starved index advisor under Not read, with the GRANT', async () => {
    const {report, snapshot} = await auditTarget(asRole, {onlyProbes: PROBES, failOn: 'never'})
    const data = readingOf(snapshot, 'postgres.statements').data as StatementsData
    expect(data.hiddenStatements).toBeGreaterThanOrEqual(2)

    const texts = gap(report, 'postgres.statements')!
    expect(texts).toMatchObject({target: 'pg', what: 'statement texts', missing: data.hiddenStatements, fix: FIX})
    expect(texts.of!).toBeGreaterThanOrEqual(texts.missing!)
    // The same gap is recorded in the snapshot, so a report of it says the same.
    expect(readingOf(snapshot, 'postgres.statements').notRead).toEqual([expect.objectContaining({what: 'statement texts', fix: FIX})])

    // The advisor saw none of the workload: 0 planned of the hidden ones.
    const advisor = gap(report, 'advisor.index')!
    expect(advisor).toMatchObject({what: 'statements to advise on', missing: data.hiddenStatements, of: data.hiddenStatements, fix: FIX})
    expect(report.findings.find((f) => f.rule === 'database/index-workload')?.message).toMatch(/^no index recommended for 0 statement\(s\)( \(not verified: .*\))?; \d+ more statement\(s\) have texts hidden from this role \(see Not read for the GRANT\)$/)
    // A gap is not a failure: the rest of the target was read.
    expect(report.gate.incomplete).toBe(false)

    const table = await renderReport(report, 'table', {options: {color: false}})
    expect(table).toMatch(new RegExp(`Not read\\n {2}pg postgres\\.statements: statement texts: ${texts.missing} of ${texts.of} not read: other users' statements`))
    expect(table).toContain(`      fix: ${FIX}`)
    expect(table).toMatch(/pg advisor\.index: statements to advise on: \d+ of \d+ not read: the index advisor planned 0 statement\(s\)/)
    const markdown = await renderReport(report, 'markdown')
    expect(markdown).toContain(`- pg \`postgres.statements\`: statement texts: ${texts.missing} of ${texts.of} not read:`)
    expect(markdown).toContain(`; fix: \`${FIX}\``)
    const json = JSON.parse(await renderReport(report, 'json')) as Report
    expect(json.notRead).toEqual(report.notRead)
    // Both documents still validate against their shipped schemas (the gap's shape included).
    const schemas = new DocumentSchemas()
    expect(() => schemas.check('report', json, 'report.json')).not.toThrow()
    expect(() => schemas.check('snapshot', JSON.parse(JSON.stringify(snapshot)), 'snapshot.json')).not.toThrow()
    expect(() => schemas.check('report', {...json, notRead: [{target: 'pg', probe: 'p', what: 'x'}]}, 'bad.json')).toThrow(/notRead\/0\/reason: is required/)
  })

  it('after the GRANT the texts are read, the advisor plans them, and nothing is listed as not read', async () => {
    await adminQuery(PRIMARY_URL, `GRANT pg_read_all_stats TO ${ROLE}`)
    try {
      const {report, snapshot} = await auditTarget(asRole, {onlyProbes: PROBES, failOn: 'never'})
      expect((readingOf(snapshot, 'postgres.statements').data as StatementsData).hiddenStatements).toBe(0)
      expect(report.notRead).toEqual([])
      expect(report.findings.find((f) => f.rule === 'database/index-workload')?.evidence.statements).toBeGreaterThanOrEqual(2)
    } finally {
      await adminQuery(PRIMARY_URL, `REVOKE pg_read_all_stats FROM ${ROLE}`)
    }
  })
})
