/**
 * N+1 detection on real pg_stat_statements window deltas: an application client loop reads 50 authors and then
 * each author's books one statement at a time (found, with the ratio and the batched rewrite, which is run to show
 * it works); the same data read with a join or with `= ANY($1)` batching (quiet); and many lookups by the same
 * foreign key with no parent statement whose rows they follow, as an API serving random keys (quiet).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type pg from 'pg'
import {DocumentSchemas} from '../../../src/core/document-schema.js'
import {remedyOfKind} from '../../../src/core/remedies.js'
import type {Finding, Report, Snapshot} from '../../../src/core/types.js'
import type {StatementsData} from '../../../src/readings/postgres.js'
import {quoteIdent, quoteQualified} from '../../../src/core/sql.js'
import {errorsOf, pasteForReal} from '../../helpers/paste.js'
import {adminQuery, auditTarget, connect, readingOf, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_adv_n_plus_one'
const url = withDatabase(PRIMARY_URL, DB)
const RULE = 'database/n-plus-one'

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE authors (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id bigserial PRIMARY KEY, author_id bigint NOT NULL REFERENCES authors (id), title text NOT NULL);
CREATE INDEX books_author_id ON books (author_id);
INSERT INTO authors SELECT g, 'author ' || g FROM generate_series(1, 2000) g;
INSERT INTO books (author_id, title) SELECT g, 'book ' || g FROM generate_series(1, 2000) g;
ANALYZE;
`
const PARENT = 'SELECT id FROM authors LIMIT 50'
const CHILD = 'SELECT * FROM books WHERE author_id = $1'

/** Audits a 3 s window while `step` runs without pause on an application connection of its own. */
async function auditDuring(step: (app: pg.Client) => Promise<void>, options: Record<string, unknown> = {}): Promise<{report: Report; snapshot: Snapshot}> {
  const app = await connect(url, 'cp-n-plus-one-app')
  let stop = false
  const loop = (async () => {
    while (!stop) await step(app)
  })()
  try {
    return await auditTarget(url, {onlyProbes: ['postgres.statements', 'postgres.plans'], windowSeconds: 3, failOn: 'never', options})
  } finally {
    stop = true
    await loop
    await app.end()
  }
}

const nPlusOne = (report: Report): Finding[] => report.findings.filter((f) => f.rule === RULE)

function statement(snapshot: Snapshot, pattern: RegExp) {
  const data = readingOf(snapshot, 'postgres.statements').data as StatementsData
  return [...data.statements, ...data.frequent!].find((s) => pattern.test(s.query))
}

const nPlusOneLoop = async (app: pg.Client) => {
  const {rows} = await app.query(PARENT)
  for (const row of rows) await app.query(CHILD, [row.id])
}

describe('n-plus-one advisor', () => {
  let admin: pg.Client

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    admin = await connect(url, 'cp-n-plus-one-check')
  }, 60_000)

  afterAll(async () => {
    await admin?.end().catch(() => {})
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('finds a child lookup run once per parent row by a client loop, with the ratio, its cost per second and the batched rewrite', async () => {
    const {report, snapshot} = await auditDuring(nPlusOneLoop)
    const child = statement(snapshot, /FROM books WHERE author_id = \$1/)!
    const parent = statement(snapshot, /FROM authors LIMIT/)!
    expect(child.calls).toBeGreaterThan(500)

    const findings = nPlusOne(report)
    expect(findings).toHaveLength(1)
    const [finding] = findings
    expect(finding.subject).toBe(`queryid ${child.queryid}`)
    expect(finding.severity).toBe('warning')
    const evidence = finding.evidence as Record<string, any>
    expect(evidence.parent).toMatchObject({queryid: parent.queryid})
    expect(evidence.foreignKey).toMatchObject({columns: ['author_id'], references: 'public.authors', referencedColumns: ['id']})
    // One child call per parent row, up to the loop iterations the window's edges cut and the skew of reading
    // pg_stat_statements entry by entry while the loop runs (hundreds of calls on a loaded machine).
    expect(evidence.ratio).toBeCloseTo(child.calls / parent.rows, 2)
    expect(evidence.ratio).toBeGreaterThan(0.8)
    expect(evidence.ratio).toBeLessThan(1.25)
    expect(evidence.parentRowsPerCall).toBe(50)
    expect(evidence.childRowsPerCall).toBe(1)
    expect(evidence.childCallsPerSecond).toBeCloseTo(child.calls / 3, 1)
    expect(evidence.childMsPerSecond).toBeCloseTo(child.totalMs / 3, 2)
    expect(evidence.roundTripsSavedPerSecond).toBeCloseTo((child.calls - parent.calls) / 3, 1)
    expect(evidence.confirmation).toMatch(/^not done/)
    expect(finding.message).toMatch(/runs once per row of statement/)

    const remedy = remedyOfKind(finding.remedies, 'query')!
    expect(remedy).toMatchObject({queryid: child.queryid, query: child.query})
    expect(remedy.sql).toBe('SELECT * FROM books WHERE author_id = ANY($1)')
    expect(remedy.summary).toMatch(/= ANY\(\$n\)/)
    expect(remedy.summary).toContain('LEFT JOIN "public"."books" AS "c" ON "c"."author_id" = "p"."id"')
    expect(evidence.join).toBe('LEFT JOIN "public"."books" AS "c" ON "c"."author_id" = "p"."id"')
    // The rewrite runs as it stands: one call for three parents returns their three books.
    const batched = await admin.query(remedy.sql!, [[1, 2, 3]])
    expect(batched.rows.map((r) => Number(r.author_id)).sort()).toEqual([1, 2, 3])

    // The child's cost is the loop's: the index advisor's costly-statement finding on it is listed under the N+1.
    const costly = report.findings.find((f) => f.rule === 'database/costly-statement' && f.evidence.queryid === child.queryid)!
    expect(costly.causeId).toBe(finding.id)
    expect(report.diagnosis[0]).toMatchObject({cause: finding.id, explains: [costly.id], remedy: remedy.id})
    expect(() => new DocumentSchemas().check('report', JSON.parse(JSON.stringify(report)), 'report.json')).not.toThrow()
  }, 60_000)

  it('finds it when the parent is too cheap to rank among the top statements by time: it is among the most frequent', async () => {
    const {report, snapshot} = await auditDuring(nPlusOneLoop, {statementsLimit: 1})
    const data = readingOf(snapshot, 'postgres.statements').data as StatementsData
    const parent = statement(snapshot, /FROM authors LIMIT/)!
    expect(data.statements.map((s) => s.queryid)).not.toContain(parent.queryid)
    expect(data.frequent!.map((s) => s.queryid)).toContain(parent.queryid)
    // The frequent ones feed advisors only: no metric, so no rule judges them twice or beyond the user's limit.
    expect(readingOf(snapshot, 'postgres.statements').metrics).toHaveLength(data.statements.length)
    expect(data.frequent!.length).toBeLessThanOrEqual(40)
    expect(nPlusOne(report).map((f) => (f.evidence.parent as {queryid: string}).queryid)).toEqual([parent.queryid])
  }, 60_000)

  it('stays quiet when the same data is read with a join or with = ANY($1) batching', async () => {
    const {report, snapshot} = await auditDuring(async (app) => {
      await app.query('SELECT a.id, b.title FROM authors a JOIN books b ON b.author_id = a.id WHERE a.id IN (SELECT id FROM authors LIMIT 50)')
      const {rows} = await app.query(PARENT)
      await app.query('SELECT * FROM books WHERE author_id = ANY($1)', [rows.map((r) => r.id)])
    })
    // Both healthy patterns ran in the window and were judged.
    expect(statement(snapshot, /JOIN books/)!.calls).toBeGreaterThan(10)
    expect(statement(snapshot, /author_id = ANY\(\$1\)/)!.calls).toBeGreaterThan(10)
    expect(nPlusOne(report)).toEqual([])
  }, 60_000)

  it('stays quiet on many foreign-key lookups that follow no parent statement (random keys from an API)', async () => {
    let n = 0
    const {report, snapshot} = await auditDuring(async (app) => {
      await app.query(CHILD, [1 + Math.floor(Math.random() * 2000)])
      // A listing of authors now and then: it reads the parent table, but its rows do not track the lookups.
      if (++n % 100 === 0) await app.query('SELECT id, name FROM authors ORDER BY id LIMIT 10')
    })
    const child = statement(snapshot, /FROM books WHERE author_id = \$1/)!
    // Lookups as hot, cheap and narrow as the loop's: only the missing parent keeps the advisor quiet.
    expect(child.calls / 3).toBeGreaterThan(100)
    expect(child.rows / child.calls).toBe(1)
    expect(statement(snapshot, /FROM authors ORDER BY id LIMIT/)!.calls).toBeGreaterThan(0)
    expect(nPlusOne(report)).toEqual([])
    // The lookup's costly-statement finding stands on its own: no N+1 to list it under.
    const costly = report.findings.find((f) => f.rule === 'database/costly-statement' && f.evidence.queryid === child.queryid)!
    expect(costly.causeId).toBeUndefined()
  }, 60_000)

  it('quotes hostile names in the join and leaves them as they were in the batched statement, which runs and pastes harmlessly', async () => {
    // A dot in the schema: the "schema.table" key cannot be split back into its parts at the first dot.
    const schema = 'cp.n1; DROP TABLE victim; --'
    const parentName = 'it\'s "p"; --'
    const childName = '$$c$$ \\ back\nnew'
    const fkColumn = 'a"b \\! touch pwned'
    const parentTable = quoteQualified(schema, parentName)
    const childTable = quoteQualified(schema, childName)
    await adminQuery(url, `CREATE TABLE victim (id int);
      CREATE SCHEMA ${quoteIdent(schema)};
      CREATE TABLE ${parentTable} (id int PRIMARY KEY);
      CREATE TABLE ${childTable} (id int PRIMARY KEY, ${quoteIdent(fkColumn)} int REFERENCES ${parentTable} (id));
      CREATE INDEX ON ${childTable} (${quoteIdent(fkColumn)});
      INSERT INTO ${parentTable} SELECT generate_series(1, 100);
      INSERT INTO ${childTable} SELECT g, g FROM generate_series(1, 100) g;
      ANALYZE`)
    const {report} = await auditDuring(async (app) => {
      const {rows} = await app.query(`SELECT id FROM ${parentTable} LIMIT 50`)
      for (const row of rows) await app.query(`SELECT * FROM ${childTable} WHERE ${quoteIdent(fkColumn)} = $1`, [row.id])
    })
    const finding = nPlusOne(report).find((f) => f.evidence.table === `${schema}.${childName}`)!
    expect(finding.evidence.foreignKey).toMatchObject({columns: [fkColumn], references: `${schema}.${parentName}`})
    const remedy = remedyOfKind(finding.remedies, 'query')!
    expect(remedy.sql).toBe(`SELECT * FROM ${childTable} WHERE ${quoteIdent(fkColumn)} = ANY($1)`)
    expect((await admin.query(remedy.sql!, [[1, 2]])).rows).toHaveLength(2)
    const joined = await admin.query(`SELECT count(*)::int AS n FROM ${parentTable} AS "p" ${finding.evidence.join}`)
    expect(joined.rows[0].n).toBe(100)
    // Pasted into psql it changes nothing: its only error is the parameter the application passes.
    const paste = await pasteForReal(url, remedy.sql!)
    expect(paste.diff).toEqual({added: [], removed: [], changed: []})
    expect(paste.strayFiles).toEqual([])
    expect(errorsOf(paste)).toEqual([expect.stringMatching(/there is no parameter \$1/)])
  }, 60_000)
})
