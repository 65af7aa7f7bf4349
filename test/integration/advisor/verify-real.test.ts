/**
 * --verify-real: real indexes inside a rolled-back transaction, only on a database marked scratch (the COMMENT ON
 * DATABASE mark and the scratch option), never from a snapshot. The real builds are observed through
 * pg_stat_statements (utility statements are tracked: a CREATE INDEX is recorded even when its transaction rolls back).
 */
import {remediesOfKind} from '../../../src/core/remedies.js'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {analyseSnapshot} from '../../../src/index.js'
import type {Finding, Report, Snapshot} from '../../../src/core/types.js'
import {adminQuery, auditTarget, forgetLoadWrites, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_advfu_verify'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE "Order Lines" (id int PRIMARY KEY, "Customer Id" int NOT NULL, placed_at timestamptz NOT NULL, note text);
INSERT INTO "Order Lines" SELECT g, g % 5000, now() - g * interval '1 minute', 'n' || g FROM generate_series(1, 200000) g;
ANALYZE;
`
const WORKLOAD = [
  {sql: 'SELECT * FROM "Order Lines" WHERE "Customer Id" = $1 ORDER BY placed_at DESC LIMIT 20', weight: 20},
  {sql: 'SELECT count(*) FROM "Order Lines" WHERE "Customer Id" = 42', weight: 5},
]

const advisorOptions = (extra: Record<string, unknown>) => ({indexAdvisor: {queries: WORKLOAD, verifyReal: true, ...extra}})

async function setComment(text: string | null): Promise<void> {
  await adminQuery(PRIMARY_URL, `COMMENT ON DATABASE ${DB} IS ${text === null ? 'NULL' : `'${text}'`}`)
}

/** Indexes on the table (pg_indexes), to show nothing was left behind. */
async function indexesOnTable(): Promise<string[]> {
  return (await adminQuery(url, `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'Order Lines' ORDER BY 1`)).map((r) => r.indexname)
}

/** CREATE INDEX statements this database ran (pg_stat_statements, this database only). */
async function realBuilds(): Promise<number> {
  const [row] = await adminQuery(url, `SELECT coalesce(sum(calls), 0)::int AS n FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query ILIKE '%CREATE INDEX%'`) // after chokepoint's marker comment
  return row.n
}

function missingIndexes(report: Report): Finding[] {
  return report.findings.filter((f) => f.rule === 'database/missing-index')
}

describe('--verify-real on PostgreSQL 15', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    await forgetLoadWrites(url)
  }, 120_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('refuses a database without the scratch comment, even with scratch: true, and says why in the report', async () => {
    await setComment(null)
    const before = await realBuilds()
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: advisorOptions({scratch: true})})
    // The refusal is reported on the workload finding; the what-if proposals are kept and the audit stays complete.
    const workload = report.findings.find((f) => f.rule === 'database/index-workload')
    expect(workload?.message).toMatch(/--verify-real refused: the database must be marked scratch \(COMMENT ON DATABASE cp_advfu_verify IS 'chokepoint:scratch' is missing\)/)
    expect(workload?.evidence.verifyRealRefused).toMatch(/refused/)
    expect(report.skipped.find((s) => s.probe === 'advisor.index')).toBeUndefined()
    expect(report.gate.incomplete).toBe(false)
    expect(missingIndexes(report).length).toBeGreaterThan(0)
    for (const f of missingIndexes(report)) expect(remediesOfKind(f.remedies, 'index').every((r) => r.verified === 'what-if')).toBe(true)
    expect(await realBuilds()).toBe(before)
    expect(await indexesOnTable()).toEqual(['Order Lines_pkey'])
  })

  it('refuses a database marked scratch when the scratch option is not set', async () => {
    await setComment('chokepoint:scratch (test database)')
    const before = await realBuilds()
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: advisorOptions({})})
    const refusal = String(report.findings.find((f) => f.rule === 'database/index-workload')?.evidence.verifyRealRefused)
    expect(refusal).toMatch(/--verify-real refused: .*the target option scratch: true is not set/)
    expect(refusal).not.toMatch(/COMMENT ON DATABASE/)
    expect(await realBuilds()).toBe(before)
  })

  let scratchSnapshot: Snapshot

  it('on a marked scratch database builds the indexes for real in the read-only session, measures, and rolls back', async () => {
    await setComment('chokepoint:scratch')
    const before = await realBuilds()
    const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: advisorOptions({scratch: true})})
    scratchSnapshot = snapshot
    expect(report.skipped.filter((s) => s.probe.startsWith('advisor'))).toEqual([])
    const missing = missingIndexes(report)
    expect(missing.length).toBeGreaterThan(0)
    const defs = missing.map((f) => String(f.remedies[0].sql))
    expect(defs.some((d) => d.includes('ON "public"."Order Lines" USING btree ("Customer Id"'))).toBe(true)
    for (const f of missing) {
      const r = f.remedies[0] as any
      expect(r.verified).toBe('real')
      expect(r.estimate.costAfter).toBeLessThan(r.estimate.costBefore)
    }
    const workload = report.findings.find((f) => f.rule === 'database/index-workload')!
    expect(workload.evidence.verified).toBe('real')
    expect(workload.value).toBeLessThan(0.5)
    // Built for real (one CREATE INDEX per chosen index) ...
    expect(await realBuilds()).toBe(before + missing.length)
    // ... and rolled back: nothing left in the catalog, no hypothetical index either.
    expect(await indexesOnTable()).toEqual(['Order Lines_pkey'])
    const [{n}] = await adminQuery(url, `SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'i' AND relnamespace = 'public'::regnamespace`)
    expect(n).toBe(1)
  })

  it('never builds anything when analysing a snapshot', async () => {
    const before = await realBuilds()
    const offline = await analyseSnapshot(scratchSnapshot, {failOn: 'never', source: 'snapshot', specs: [{name: 'pg', kind: 'postgres', url, options: advisorOptions({scratch: true})}]})
    const missing = missingIndexes(offline)
    expect(missing.length).toBeGreaterThan(0)
    for (const f of missing) {
      expect((f.remedies[0] as any).verified).toBe(false)
      expect(String((f.remedies[0] as any).notVerified)).toMatch(/audited from a snapshot/)
    }
    expect(await realBuilds()).toBe(before)
    expect(await indexesOnTable()).toEqual(['Order Lines_pkey'])
  })
})
