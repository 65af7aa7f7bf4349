/**
 * Human reports name a statement by its (safe, normalised) SQL with its calls and times, not by queryid alone:
 * slow-statement, costly-statement and the index advisor's messages, in the table and the Markdown output.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {builtinRegistry} from '../../../src/builtin.js'
import {newSecrets} from '../../../src/cli/context.js'
import {renderReport} from '../../../src/core/render.js'
import type {Report} from '../../../src/core/types.js'
import {adminQuery, auditTarget, connect, forgetLoadWrites, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_st_text'
const url = withDatabase(PRIMARY_URL, DB)

let report: Report
let table: string
let markdown: string
let fromQueries: Report

describe('statements in human reports', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `
      CREATE EXTENSION IF NOT EXISTS hypopg;
      CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, region int NOT NULL);
      INSERT INTO accounts SELECT g, 'user' || g || '@example.com', g % 400 FROM generate_series(1, 200000) g;
      ANALYZE;`)
    await forgetLoadWrites(url)
    const app = await connect(url, 'cp-st-app')
    try {
      // A seq scan of 200k rows per call (tens of ms), with a literal pg_stat_statements normalises to $1.
      for (let i = 0; i < 40; i++) await app.query(`SELECT id, region FROM accounts WHERE email = 'user${i * 37}@example.com'`)
      // Longer than a message shows: cut there, whole in the evidence.
      for (let i = 0; i < 20; i++) {
        await app.query(`SELECT id AS account_identifier, region AS account_region_number, email AS account_email_address FROM accounts WHERE region = ${i} AND email LIKE 'x%'`)
      }
    } finally {
      await app.end()
    }
    ;({report} = await auditTarget(url, {onlyProbes: ['postgres.plans', 'postgres.statements'], failOn: 'never',
      config: {rules: {'database/slow-statement': {target: '< 1ms', action: '> 10s'}}} as any}))
    const registry = builtinRegistry()
    table = await renderReport(report, 'table', {registry, secrets: newSecrets()})
    markdown = await renderReport(report, 'markdown', {registry, secrets: newSecrets()})
    // A --queries workload: the user's own texts, shown made safe (the literal becomes $n).
    ;({report: fromQueries} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {queries: [
      {sql: "SELECT id FROM accounts WHERE email = 'hunter2@example.com'", weight: 5},
      {sql: "SELECT id FROM no_such_table WHERE secret = 'hunter2'"},
    ]}}}))
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  const SQL = /SELECT id, region FROM accounts WHERE email = \$1/

  for (const rule of ['database/costly-statement', 'database/slow-statement']) {
    it(`${rule}: the message names the statement by its SQL, calls, mean and total time and share`, () => {
      const f = report.findings.find((x) => x.rule === rule && SQL.test(String(x.evidence.sql ?? x.evidence.query)))
      expect(f, JSON.stringify(report.findings.map((x) => [x.rule, x.subject, x.message]))).toBeDefined()
      expect(f!.message).toMatch(SQL)
      expect(f!.message).toMatch(/40 calls/)
      expect(f!.message).toMatch(/mean \d[\d.]* (ms|s)/)
      expect(f!.message).toMatch(/total \d[\d.]* (ms|s)/)
      expect(f!.message).toMatch(/\d[\d.]*% of (this )?database('s)? (statement )?time/)
      // Subjects stay as they were, so finding ids do not move.
      expect(f!.subject).toMatch(/^(statement|queryid) -?\d+$/)
      // The table wraps cells: join the finding column's lines back together.
      const column = (i: number) => table.split('\n').map((l) => l.split('│')).filter((c) => c.length >= 7).map((c) => c[i].trim()).join(' ')
      expect(column(4)).toContain(f!.subject)
      expect(column(5)).toMatch(SQL)
      expect(column(5)).toMatch(/40 calls/)
      expect(markdown).toContain(f!.message.replace(/\|/g, '\\|'))
    })
  }

  it('a long statement is shortened in messages and kept whole in the evidence', () => {
    const long = /SELECT id AS account_identifier, region AS account_region_number/
    for (const rule of ['database/costly-statement', 'database/slow-statement']) {
      const f = report.findings.find((x) => x.rule === rule && long.test(String(x.evidence.sql ?? x.evidence.query)))
      expect(f, `${rule}: ${JSON.stringify(report.findings.map((x) => x.message))}`).toBeDefined()
      const sql = /`([^`]*)`/.exec(f!.message)![1]
      expect(Array.from(sql).length).toBeLessThanOrEqual(80)
      expect(sql).toMatch(long)
      expect(sql.endsWith('…')).toBe(true)
      expect(String(f!.evidence.sql ?? f!.evidence.query)).toMatch(/FROM accounts WHERE region = \$1 AND email LIKE \$2$/)
      expect(f!.message).toMatch(/20 calls/)
    }
  })

  it('the missing-index finding names the statement it serves', () => {
    const f = report.findings.find((x) => x.rule === 'database/missing-index' && /email/.test(x.subject))
    expect(f, JSON.stringify(report.findings.map((x) => x.message))).toBeDefined()
    expect(f!.message).toMatch(/for statement -?\d+ `SELECT id, region FROM accounts WHERE email = \$1` \(40 calls, mean /)
  })

  it('--queries statements are shown made safe, with their weight, planned or not', () => {
    const costly = fromQueries.findings.find((x) => x.rule === 'database/costly-statement')
    expect(costly?.message).toMatch(/^statement q1 `SELECT id FROM accounts WHERE email = \$1` \(weight 5, 100% of workload cost\): /)
    const unplannable = fromQueries.findings.find((x) => x.rule === 'database/unplannable-statement')
    expect(unplannable?.subject).toBe('statement q2')
    expect(unplannable?.message).toMatch(/^statement q2 `SELECT id FROM no_such_table WHERE secret = \$1` \(weight 1\) could not be planned: /)
    for (const f of fromQueries.findings) expect(f.message).not.toContain('hunter2')
  })
})
