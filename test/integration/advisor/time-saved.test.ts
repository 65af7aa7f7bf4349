/**
 * Severity by the time an index would save (calls per second x mean time x fraction saved), not by its cost
 * ratio: a statement already served by an index in about a millisecond got a missing-index warning for a
 * covering index "cutting 91%". It is info now (or left out below the floor); a slow statement is still a warning.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Finding, Report} from '../../../src/core/types.js'
import {adminQuery, auditTarget, connect, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'

const DB = 'cp_idxw_time_saved'
const url = withDatabase(PRIMARY_URL, DB)

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, total numeric NOT NULL, note text NOT NULL);
INSERT INTO orders SELECT g, g % 10000, (ARRAY['new','paid','shipped','done'])[1 + g % 4], g % 500, 'note ' || g FROM generate_series(1, 200000) g;
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
`
// Served by orders_customer_id_idx (20 rows a customer): about a millisecond or less. A covering index would cut its
// estimated cost a lot, and save almost nothing.
const FAST = 'SELECT id, total FROM orders WHERE customer_id = $1 AND status = $2'
// A sequential scan of 200k rows a call: an index saves its whole time.
const SLOW = 'SELECT id FROM orders WHERE note = $1'

const advisorFindings = (r: Report) => r.findings.filter((f) => ['database/missing-index', 'database/costly-statement', 'database/index-workload'].includes(f.rule))
const missingFor = (r: Report, sql: string): Finding[] => {
  const costly = r.findings.find((f) => f.rule === 'database/costly-statement' && f.evidence.sql === sql)
  return r.findings.filter((f) => f.rule === 'database/missing-index' && costly && (f.evidence.statements as string[]).includes(String(costly.evidence.queryid)))
}

let base: Report

describe('index findings by the time they save', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
    await adminQuery(url, 'VACUUM ANALYZE orders')
    const app = await connect(url, 'cp-idxw-app')
    try {
      for (let i = 0; i < 300; i++) await app.query(FAST, [i * 7, 'paid'])
    } finally {
      await app.end()
    }
    // No floor, so the fast statement's index gets its finding whatever the statistics' age; the warning floor is the default.
    ;({report: base} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {minSavedMsPerSecond: 0}}}))
  }, 300_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('gives no warning for a statement already served by an index in about a millisecond', () => {
    const costly = base.findings.find((f) => f.rule === 'database/costly-statement' && f.evidence.sql === FAST)!
    expect(costly, JSON.stringify(base.findings.map((f) => f.message))).toBeDefined()
    expect(Number(costly.evidence.meanMs)).toBeLessThan(5)
    // What-if still finds an index that cuts its estimated cost: the case that used to be a warning.
    expect(costly.evidence.reason).toBe('improved')
    expect(Number(costly.evidence.improvement)).toBeGreaterThan(0.5)
    expect(advisorFindings(base).filter((f) => f.severity === 'warning').map((f) => f.message)).toEqual([])
    const missing = missingFor(base, FAST)
    expect(missing.length).toBeGreaterThan(0)
    for (const f of missing) {
      expect(f.severity).toBe('info')
      expect(f.message).toMatch(/saves about [\d.,e-]+ ms of statement time per second \(measured\)/)
    }
  })

  it('warns for the slow statement and puts the fast one at info, by time saved per second', async () => {
    const app = await connect(url, 'cp-idxw-app')
    try {
      for (let i = 0; i < 300; i++) await app.query(SLOW, [`note ${i * 13}`])
    } finally {
      await app.end()
    }
    const first = (await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {minSavedMsPerSecond: 0}}})).report
    const fast = missingFor(first, FAST)
    const slow = missingFor(first, SLOW)
    expect(fast.length).toBeGreaterThan(0)
    expect(slow.length).toBeGreaterThan(0)
    const savedFast = Math.max(...fast.map((f) => Number(f.evidence.timeSavedMsPerSecond)))
    const savedSlow = Math.min(...slow.map((f) => Number(f.evidence.timeSavedMsPerSecond)))
    // Same calls, 20 ms and more against a millisecond or less: the slow one saves far more per second.
    expect(savedSlow).toBeGreaterThan(savedFast * 10)
    const warnSavedMsPerSecond = Math.sqrt(savedFast * savedSlow)
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {minSavedMsPerSecond: 0, warnSavedMsPerSecond}}})
    expect(missingFor(report, SLOW).map((f) => f.severity)).toEqual(slow.map(() => 'warning'))
    expect(missingFor(report, FAST).map((f) => f.severity)).toEqual(fast.map(() => 'info'))
  })

  it('leaves the fast statement\'s index out below minSavedMsPerSecond, listed on the workload finding', async () => {
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {minSavedMsPerSecond: 1e6}}})
    expect(report.findings.filter((f) => f.rule === 'database/missing-index')).toEqual([])
    const workload = report.findings.find((f) => f.rule === 'database/index-workload')!
    expect(workload.severity).toBe('info')
    expect((workload.evidence.belowTimeSavedFloor as unknown[]).length).toBeGreaterThan(0)
    expect(workload.remedies.length).toBe((workload.evidence.belowTimeSavedFloor as unknown[]).length)
  })
})
