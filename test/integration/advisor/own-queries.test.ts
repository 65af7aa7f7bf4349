/**
 * chokepoint's own catalog and statistics reads are recorded by pg_stat_statements like the application's
 * statements (it has no application_name): they must never count as the workload. Tables named like the CTEs of
 * the probes' queries (t, base, clock, rel) made them look like statements over user tables, planned and reported
 * as unplannable ("syntax error at or near $11").
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Report, Snapshot} from '../../../src/core/types.js'
import {CHOKEPOINT_SQL_MARKER, PgSession} from '../../../src/drivers/postgres.js'
import {adminQuery, auditTarget, connect, readingOf, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_idxw_own_queries'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE t (id int, v int);
CREATE TABLE base (x int);
CREATE TABLE clock (x int);
CREATE TABLE rel (x int);
CREATE TABLE items (id int PRIMARY KEY, sku int NOT NULL);
INSERT INTO t SELECT g, g FROM generate_series(1, 20000) g;
INSERT INTO items SELECT g, g % 5000 FROM generate_series(1, 50000) g;
ANALYZE;
`
// A statement of the shape of chokepoint's own (a CTE named like a user table over the statistics views), run
// without the marker: as pg_stat_statements keeps it when an older chokepoint ran first under the same queryid.
const UNMARKED_OWN = `WITH t AS (SELECT relid, n_tup_ins FROM pg_stat_user_tables), base AS (SELECT relid FROM t WHERE n_tup_ins > $1)
SELECT count(*) FROM base JOIN pg_class c ON c.oid = base.relid`

let report: Report
let snapshot: Snapshot

describe('chokepoint\'s own queries are not the workload', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    const app = await connect(url, 'cp-idxw-app')
    try {
      for (let i = 0; i < 50; i++) await app.query('SELECT id FROM items WHERE sku = $1', [i])
      for (let i = 0; i < 3; i++) await app.query(UNMARKED_OWN, [i])
    } finally {
      await app.end()
    }
    // A query of chokepoint's over a user table (as a probe that samples one would send): only the marker tells.
    const session = await PgSession.open(url)
    try {
      for (let i = 0; i < 3; i++) await session.query('SELECT count(*) FROM items WHERE sku > $1', [i])
    } finally {
      await session.close()
    }
    // Two audits put chokepoint's probe queries into pg_stat_statements; the third reads them back.
    for (let i = 0; i < 2; i++) await auditTarget(url, {failOn: 'never'})
    ;({report, snapshot} = await auditTarget(url, {failOn: 'never'}))
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('marks every query it sends, and plans none of them', async () => {
    const rows = await adminQuery(url, `SELECT queryid::text AS id FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND left(query, $2) = $1`, [CHOKEPOINT_SQL_MARKER, CHOKEPOINT_SQL_MARKER.length])
    expect(rows.length).toBeGreaterThan(5)
    const own = new Set(rows.map((r) => r.id))
    const data = readingOf(snapshot, 'postgres.plans').data as any
    const sqls: string[] = data.statements.map((s: any) => s.sql)
    expect(sqls.some((s) => /FROM items WHERE sku = \$1/.test(s)), sqls.join('\n')).toBe(true)
    expect(data.statements.filter((s: any) => own.has(s.id)).map((s: any) => s.sql)).toEqual([])
    expect(sqls.filter((s) => /FROM items WHERE sku > \$1/.test(s))).toEqual([])
    expect(report.findings.filter((f) => f.rule === 'database/unplannable-statement').map((f) => f.message)).toEqual([])
  })

  it('leaves out an unmarked statement over the statistics views whose CTEs share names with user tables', () => {
    const data = readingOf(snapshot, 'postgres.plans').data as any
    const sqls: string[] = data.statements.map((s: any) => s.sql)
    expect(sqls.filter((s) => /pg_stat_|pg_class|pg_namespace|pg_attribute/.test(s)), sqls.join('\n')).toEqual([])
  })
})
