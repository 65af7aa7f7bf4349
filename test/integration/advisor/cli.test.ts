/**
 * End to end through the built CLI (`npm run build` first): --queries file, --index-budget, --min-improvement,
 * --json, and the structured index remedies in the report.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli} from '../../helpers/cli.js'
import {adminQuery, forgetLoadWrites, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_advfu_cli'
const url = withDatabase(PRIMARY_URL, DB)
let dir: string

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE SCHEMA "Shop";
CREATE TABLE "Shop"."Orders" (id int PRIMARY KEY, "Customer Id" int NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO "Shop"."Orders" SELECT g, g % 20000, (ARRAY['paid','shipped'])[1 + g % 2], now() - g * interval '1 minute' FROM generate_series(1, 200000) g;
ANALYZE;
`
const QUERIES = `
-- weight: 50
SELECT * FROM "Shop"."Orders" WHERE "Customer Id" = $1 ORDER BY created_at DESC LIMIT 10;
-- a statement with a ; inside a string literal, split by the parser
SELECT count(*) FROM "Shop"."Orders" WHERE status = 'paid;shipped';
`

describe('chokepoint audit --queries (built CLI)', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    // Forget the bulk load's writes once they reached the statistics (a fresh database counts them as a write rate).
    await forgetLoadWrites(url)
    dir = mkdtempSync(join(tmpdir(), 'cp-advfu-cli-'))
    writeFileSync(join(dir, 'workload.sql'), QUERIES)
  }, 120_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('prints index remedies with table, columns, method, quoted CONCURRENTLY SQL, estimate and verified', () => {
    const r = runCli(['audit', '--pg', url, '--window', '0', '--queries', join(dir, 'workload.sql'), '--index-budget', '50MB', '--min-improvement', '10%', '--json', '--fail-on', 'never'])
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout)
    const missing = report.findings.filter((f: any) => f.rule === 'database/missing-index')
    expect(missing.length).toBeGreaterThanOrEqual(1)
    for (const f of missing) {
      const rem = f.remedies[0]
      expect(rem.sql).toMatch(/^CREATE INDEX CONCURRENTLY "[^"]+" ON "Shop"."Orders" USING (btree|gin) \(/)
      expect(rem).toHaveProperty('estimate.costAfter')
      expect(rem.verified).toBe('what-if')
    }
    const remedy = missing.find((f: any) => f.remedies[0].columns[0] === 'Customer Id').remedies[0]
    expect(remedy).toMatchObject({
      kind: 'index', table: 'Shop.Orders', method: 'btree', where: null, include: [], verified: 'what-if',
    })
    // 10 rows per customer: the narrow ("Customer Id") index wins per byte over ("Customer Id", created_at).
    expect(remedy.sql).toBe(`CREATE INDEX CONCURRENTLY "Orders_${remedy.columns.join('_')}_idx" ON "Shop"."Orders" USING btree (${remedy.columns.map((c: string) => `"${c}"`).join(', ')})`)
    expect(remedy.estimate.costBefore).toBeGreaterThan(remedy.estimate.costAfter)
    expect(remedy.estimate.queriesImproved).toBe(1)
    expect(remedy.estimate.sizeBytes).toBeGreaterThan(0)
    expect(remedy.estimate.sizeBytes).toBeLessThanOrEqual(50 * 1024 * 1024)
    const workload = report.findings.find((f: any) => f.rule === 'database/index-workload')
    expect(workload.evidence).toMatchObject({source: 'queries', statements: 2, minImprovement: 0.1, budgetBytes: 50 * 1024 * 1024})
    const statements = report.findings.filter((f: any) => f.rule === 'database/costly-statement')
    expect(statements.map((f: any) => f.evidence.sql).sort()).toEqual([
      'SELECT * FROM "Shop"."Orders" WHERE "Customer Id" = $1 ORDER BY created_at DESC LIMIT 10',
      `SELECT count(*) FROM "Shop"."Orders" WHERE status = 'paid;shipped'`,
    ])
    expect(statements.find((f: any) => f.evidence.queryid === 'q1').evidence.weight).toBe(50)
  })

  it('an index budget below the index size leaves the statement with the budget reason', () => {
    const r = runCli(['audit', '--pg', url, '--window', '0', '--queries', join(dir, 'workload.sql'), '--index-budget', '100kB', '--json', '--fail-on', 'never'])
    const report = JSON.parse(r.stdout)
    expect(report.findings.filter((f: any) => f.rule === 'database/missing-index')).toEqual([])
    expect(report.findings.find((f: any) => f.evidence?.queryid === 'q1').evidence.reason).toBe('budget')
  })
})
