/**
 * An index with no scans on statistics too young to judge is said as info (how young, when it will be judged),
 * not passed over in silence; an index that was scanned stays quiet. The throwaway database is minutes old, so its
 * scan counts are (database created: PG_VERSION file time).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Finding} from '../../../src/core/types.js'
import type {IndexesData} from '../../../src/probes/postgres/indexes.js'
import {PRIMARY_URL, adminQuery, auditTarget, readingOf, waitForSql, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_unused_index_young'
const url = withDatabase(PRIMARY_URL, DB)
const ROLE = 'cp_unused_young_reader'
const dropDatabase = () => adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
const unusedRules = (findings: Finding[]) => findings.filter((f) => f.rule.startsWith('database/unused-index'))

describe('database/unused-index-young', () => {
  beforeAll(async () => {
    await dropDatabase()
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `
      CREATE TABLE events (id int PRIMARY KEY, kind int, owner int);
      INSERT INTO events SELECT g, g % 20, g % 300 FROM generate_series(1, 5000) g;
      CREATE INDEX events_kind_idx ON events (kind);    -- read below: used
      CREATE INDEX events_owner_idx ON events (owner);  -- never read: unused, on statistics minutes old
      ANALYZE events;`)
    // Force the read through events_kind_idx; the backend's counters reach pg_stat_user_indexes when it flushes.
    await adminQuery(url, 'SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM events WHERE kind = 3')
    await waitForSql(url, "SELECT idx_scan > 0 AS ok FROM pg_stat_user_indexes WHERE indexrelname = 'events_kind_idx'")
  })

  afterAll(async () => {
    await dropDatabase()
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`)
  })

  it('says an index with no scans in young statistics as info, with their age and when it is judged; a used one stays quiet', async () => {
    const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.indexes']})
    const data = readingOf(snapshot, 'postgres.indexes').data as IndexesData
    expect(data.statsAgeSeconds).not.toBeNull()
    expect(data.statsAgeSeconds!).toBeLessThan(7 * 86_400)

    const found = unusedRules(report.findings)
    const context = JSON.stringify({age: data.statsAgeSeconds, since: data.statsSinceSource, unused: data.unused.map((u) => u.index), skipped: report.skipped})
    expect(found.map((f) => [f.rule, f.subject, f.severity]), context).toEqual([['database/unused-index-young', '"public"."events_owner_idx"', 'info']])
    const young = found[0]
    expect(young.message, context).toMatch(/^"public"\."events_owner_idx" on "public"\."events" \(.+\): no scans in \d+ (ms|s|min|h) of statistics; judged after 7 d$/)
    expect(young.remedies).toEqual([])
    expect(report.checks.find((c) => c.rule === 'database/unused-index-young' && c.subject === '"public"."events_owner_idx"')).toMatchObject({status: 'info'})
    // Info does not fail the default gate.
    expect(report.gate, context).toMatchObject({passed: true, incomplete: false, exitCode: 0})
  })

  it('once the statistics are old enough, database/unused-index judges it and the young rule steps aside', async () => {
    // The same real reading, judged as if a week had passed: both rules' age boundary moved to 0 together.
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.indexes'], failOn: 'never', config: {rules: {
      'database/unused-index': {when: {statsAgeSeconds: '>= 0'}},
      'database/unused-index-young': {when: {statsAgeSeconds: '< 0'}},
    }}})
    expect(unusedRules(report.findings).map((f) => [f.rule, f.subject, f.severity])).toEqual([['database/unused-index', '"public"."events_owner_idx"', 'warning']])
  })

  it('when the age of the statistics is unknown (no pg_stat_file), the unjudged index is listed under Not read, not passed over', async () => {
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`)
    await adminQuery(PRIMARY_URL, `CREATE ROLE ${ROLE} LOGIN`)
    const {report, snapshot} = await auditTarget(url.replace('//postgres@', `//${ROLE}@`), {onlyProbes: ['postgres.indexes']})
    expect((readingOf(snapshot, 'postgres.indexes').data as IndexesData).statsAgeSeconds).toBeNull()
    expect(unusedRules(report.findings)).toEqual([])
    expect(report.notRead).toEqual([{target: 'pg', probe: 'postgres.indexes', what: 'unused indexes not judged', missing: 1,
      reason: expect.stringMatching(/^no scans, but the age of the scan counts is unknown: .*pg_stat_file is not permitted/)}])
    expect(report.gate.incomplete).toBe(false)
  })
})
