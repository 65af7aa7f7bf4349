/**
 * The default workload: statements a normal client ran, read back from pg_stat_statements (normalized with $n),
 * of this database only, planned, and indexed for with hypopg what-if costs.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Report, Snapshot} from '../../../src/core/types.js'
import {adminQuery, auditTarget, connect, forgetLoadWrites, readingOf, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_advfu_pss'
const OTHER = 'cp_advfu_pss_other'
const url = withDatabase(PRIMARY_URL, DB)
const otherUrl = withDatabase(PRIMARY_URL, OTHER)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, region int NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO accounts SELECT g, 'user' || g || '@example.com', g % 400, now() - g * interval '1 minute' FROM generate_series(1, 200000) g;
ANALYZE;
`

let report: Report
let snapshot: Snapshot

describe('index advisor on the pg_stat_statements workload', () => {
  beforeAll(async () => {
    for (const db of [DB, OTHER]) {
      await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
      await adminQuery(PRIMARY_URL, `CREATE DATABASE ${db}`)
    }
    await adminQuery(url, SCHEMA)
    await forgetLoadWrites(url)
    // Another database of the same cluster, with a table of the same name and statements of its own: they would
    // plan fine here, so only the dbid filter keeps them out.
    await adminQuery(otherUrl, `CREATE TABLE accounts (id int, email text, region int, created_at timestamptz)`)
    const other = await connect(otherUrl)
    try {
      for (let i = 0; i < 200; i++) await other.query('SELECT id FROM accounts WHERE created_at < $1 AND region <> $2', [new Date(), i])
    } finally {
      await other.end()
    }
    // The application's workload: a lookup by e-mail with a bind parameter, a count with a literal (normalized to $1).
    const app = await connect(url, 'cp-advfu-app')
    try {
      for (let i = 0; i < 300; i++) {
        await app.query('SELECT id, region FROM accounts WHERE email = $1', [`user${i * 37}@example.com`])
        await app.query(`SELECT count(*) FROM accounts WHERE region = ${i % 400}`)
      }
    } finally {
      await app.end()
    }
    ;({report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never'}))
  }, 300_000)

  afterAll(async () => {
    for (const db of [DB, OTHER]) await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
  })

  it('reads the normalized statements of this database from pg_stat_statements and plans them', () => {
    const data = readingOf(snapshot, 'postgres.plans').data as any
    expect(data.source).toBe('pg_stat_statements')
    const byEmail = data.statements.find((s: any) => /FROM accounts WHERE email = \$1/.test(s.sql))
    const byRegion = data.statements.find((s: any) => /FROM accounts WHERE region = \$1$/.test(s.sql))
    expect(byEmail, JSON.stringify(data.statements.map((s: any) => s.sql))).toBeDefined()
    expect(byRegion).toBeDefined()
    for (const s of [byEmail, byRegion]) {
      expect(s.id).toMatch(/^-?\d+$/)
      expect(s.calls).toBe(300)
      expect(s.weight).toBeGreaterThan(0)
      expect(s.cost).toBeGreaterThan(0)
      expect(s.error).toBeUndefined()
    }
    expect(byEmail.paramCount).toBe(1)
  })

  it('never plans statements of other databases', () => {
    const data = readingOf(snapshot, 'postgres.plans').data as any
    expect(data.statements.filter((s: any) => /created_at < \$1 AND region <> \$2/.test(s.sql))).toEqual([])
    expect(data.statements.length).toBeGreaterThanOrEqual(2)
    expect(report.findings.filter((f) => f.rule === 'database/unplannable-statement')).toEqual([])
  })

  it('proposes the missing indexes, verified with what-if plans', () => {
    const missing = report.findings.filter((f) => f.rule === 'database/missing-index')
    const defs = missing.map((f) => String(f.remedies[0].sql))
    expect(defs.some((d) => /^CREATE INDEX CONCURRENTLY "[^"]+" ON "public"."accounts" USING btree \("email"/.test(d)), defs.join('\n')).toBe(true)
    expect(defs.some((d) => /ON "public"."accounts" USING btree \("region"/.test(d)), defs.join('\n')).toBe(true)
    for (const f of missing) {
      const r = f.remedies[0] as any
      expect(r.verified).toBe('what-if')
      expect(r.estimate.costAfter).toBeLessThan(r.estimate.costBefore)
      expect(r.statements.every((id: string) => /^-?\d+$/.test(id))).toBe(true)
    }
    const costly = report.findings.filter((f) => f.rule === 'database/costly-statement' && /accounts WHERE email/.test(String(f.evidence.sql)))
    expect(costly).toHaveLength(1)
    expect(costly[0].evidence.reason).toBe('improved')
    expect(costly[0].evidence.calls).toBe(300)
    const workload = report.findings.find((f) => f.rule === 'database/index-workload')!
    expect(workload.evidence.source).toBe('pg_stat_statements')
    expect(workload.evidence.verified).toBe('what-if')
  })
})
