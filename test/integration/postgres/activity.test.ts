import type pg from 'pg'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {ProbeSkip} from '../../../src/core/errors.js'
import {PgSession} from '../../../src/drivers/postgres.js'
import {queryRow, skipIfNotApplicable} from '../../../src/probes/postgres/skip.js'
import {adminQuery, auditTarget, connect, PRIMARY_URL, readingOf, waitForSql, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_activity'
const NOPRIV_ROLE = 'cp_noprivs'

async function backendPid(client: pg.Client): Promise<number> {
  return (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
}

describe('postgres.activity', () => {
  const held: pg.Client[] = []
  afterEach(async () => {
    await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})))
  })

  it('fires database/idle-in-transaction on a session that sits in an open transaction, and not once it commits', async () => {
    await withTempDatabase(DB, async (url) => {
      const client = await connect(url, 'cp-test-idle-tx')
      held.push(client)
      const pid = await backendPid(client)
      await client.query('BEGIN')
      await client.query('SELECT 1 AS left_open')
      await waitForSql(PRIMARY_URL, `SELECT now() - state_change > interval '2.5 seconds' AS ok FROM pg_stat_activity
                       WHERE pid = $1 AND state = 'idle in transaction'`, [pid])
      const config = {rules: {'database/idle-in-transaction': {target: '< 1s', action: '> 2s'}}}

      const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.activity'], config})
      const metric = readingOf(snapshot, 'postgres.activity').metrics
        .find((m) => m.name === 'db.idle_in_transaction.seconds' && m.subject === `pid ${pid}`)!
      expect(metric.value).toBeGreaterThan(2)
      expect(metric.evidence).toMatchObject({pid, datname: DB, usename: 'postgres', application_name: 'cp-test-idle-tx', query: 'SELECT $1 AS left_open'})
      const finding = report.findings.find((f) => f.rule === 'database/idle-in-transaction' && f.subject === `pid ${pid}`)
      expect(finding?.severity).toBe('critical')
      expect(finding!.remedies.some((r) => /idle_in_transaction_session_timeout/.test(`${r.summary} ${r.sql}`))).toBe(true)
      const terminate = finding!.remedies.find((r) => /pg_terminate_backend/.test(r.sql ?? ''))!
      expect(terminate.sql).toMatch(new RegExp(`^SELECT pg_terminate_backend\\(pid\\) FROM pg_stat_activity WHERE pid = ${pid} AND backend_start = '[^']+'::timestamptz AND xact_start = '[^']+'::timestamptz$`))

      await client.query('COMMIT')
      // Pasted after that transaction ended, it ends nothing: the session is still there.
      expect(await adminQuery(PRIMARY_URL, terminate.sql!)).toEqual([])
      expect(await adminQuery(PRIMARY_URL, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid])).toEqual([{n: 1}])
      const quiet = await auditTarget(url, {onlyProbes: ['postgres.activity'], config})
      expect(readingOf(quiet.snapshot, 'postgres.activity').metrics.some((m) => m.subject === `pid ${pid}`)).toBe(false)
      expect(quiet.report.findings.some((f) => f.subject === `pid ${pid}`)).toBe(false)
    })
  })

  it('fires database/long-running-query on an active query, leaves out its own session, and is quiet once it ends', async () => {
    await withTempDatabase(DB, async (url) => {
      const client = await connect(url, 'cp-test-long-query')
      held.push(client)
      const pid = await backendPid(client)
      const running = client.query('SELECT pg_sleep(60) AS long_sleep').catch((e: Error) => e)
      await waitForSql(PRIMARY_URL, `SELECT now() - query_start > interval '2.5 seconds' AS ok FROM pg_stat_activity
                       WHERE pid = $1 AND state = 'active'`, [pid])
      const config = {rules: {'database/long-running-query': {target: '< 1s', action: '> 2s'}}}

      const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.activity'], config})
      const reading = readingOf(snapshot, 'postgres.activity')
      expect(reading.status).toBe('ok')
      const metric = reading.metrics.find((m) => m.name === 'db.query.duration_seconds' && m.subject === `pid ${pid}`)!
      expect(metric.value).toBeGreaterThan(2)
      expect(metric.evidence).toMatchObject({datname: DB, application_name: 'cp-test-long-query', wait_event: 'PgSleep'})
      // Normalised: literals in session texts can be secrets (data-secrets.test.ts).
      expect((metric.evidence as Record<string, unknown>).query).toBe('SELECT pg_sleep($1) AS long_sleep')
      // chokepoint's own session is never reported.
      expect(reading.metrics.every((m) => (m.evidence as Record<string, unknown>).application_name !== 'chokepoint')).toBe(true)
      const finding = report.findings.find((f) => f.rule === 'database/long-running-query' && f.subject === `pid ${pid}`)
      expect(finding?.severity).toBe('critical')
      expect(finding!.message).toContain('SELECT pg_sleep($1) AS long_sleep')

      await adminQuery(PRIMARY_URL, 'SELECT pg_cancel_backend($1)', [pid])
      expect(await running).toBeInstanceOf(Error)
      const quiet = await auditTarget(url, {onlyProbes: ['postgres.activity'], config})
      expect(quiet.report.findings.some((f) => f.subject === `pid ${pid}`)).toBe(false)
    })
  })

  describe(`as a role without pg_read_all_stats (${NOPRIV_ROLE})`, () => {
    beforeAll(async () => {
      await adminQuery(PRIMARY_URL, `DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${NOPRIV_ROLE}') THEN CREATE ROLE ${NOPRIV_ROLE} LOGIN; END IF;
      END $$`)
      await adminQuery(PRIMARY_URL, `REVOKE pg_read_all_stats FROM ${NOPRIV_ROLE}`)
    })
    afterAll(async () => {
      await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${NOPRIV_ROLE}`)
    })

    it('turns a real permission error into ProbeSkip naming the GRANT, and passes other errors through', async () => {
      const session = await PgSession.open(PRIMARY_URL.replace('//postgres@', `//${NOPRIV_ROLE}@`))
      try {
        const denied = await session.query(`SELECT pg_read_file('postmaster.pid')`).catch((e: unknown) => e)
        expect((denied as {code: string}).code).toBe('42501')
        let skip: unknown
        try {
          skipIfNotApplicable(denied, session, 'postgres.example')
        } catch (error) {
          skip = error
        }
        expect(skip).toBeInstanceOf(ProbeSkip)
        expect((skip as Error).message).toMatch(/^postgres\.example: permission denied .*GRANT pg_read_all_stats TO cp_noprivs$/)
        const syntax = await session.query('SELEC 1').catch((e: unknown) => e)
        expect(() => skipIfNotApplicable(syntax, session, 'postgres.example')).toThrow(/syntax error/)
        expect(() => skipIfNotApplicable(syntax, session, 'postgres.example')).not.toThrow(ProbeSkip)
        // queryRow, the probes' one-row read: the first row, the same skip for what does not apply, other errors as they are.
        expect(await queryRow(session, 'postgres.example', 'SELECT 1 AS n UNION ALL SELECT 2')).toEqual({n: 1})
        const rowDenied = await queryRow(session, 'postgres.example', `SELECT pg_read_file('postmaster.pid')`).catch((e: unknown) => e)
        expect(rowDenied).toBeInstanceOf(ProbeSkip)
        expect((rowDenied as Error).message).toMatch(/^postgres\.example: permission denied .*GRANT pg_read_all_stats TO cp_noprivs$/)
        const rowSyntax = await queryRow(session, 'postgres.example', 'SELEC 1').catch((e: unknown) => e)
        expect(rowSyntax).not.toBeInstanceOf(ProbeSkip)
        expect((rowSyntax as Error).message).toMatch(/syntax error/)
      } finally {
        await session.close()
      }
    })

    it("reports the sessions it cannot see and how to grant it, instead of failing; after the GRANT it sees them", async () => {
      await withTempDatabase(DB, async (url) => {
        const other = await connect(url, 'cp-test-hidden')
        held.push(other)
        const pid = await backendPid(other)
        await other.query('BEGIN')
        await other.query('SELECT 1')
        const asNoPrivs = url.replace('//postgres@', `//${NOPRIV_ROLE}@`)

        const {report, snapshot} = await auditTarget(asNoPrivs, {onlyProbes: ['postgres.activity', 'postgres.connections']})
        const activity = readingOf(snapshot, 'postgres.activity')
        expect(activity.status).toBe('skipped')
        expect(activity.reason).toMatch(/insufficient privilege.*GRANT pg_read_all_stats TO cp_noprivs/)
        expect((activity.data as Record<string, number>).hiddenSessions).toBeGreaterThanOrEqual(1)
        expect(report.skipped.some((s) => s.probe === 'postgres.activity' && s.status === 'skipped')).toBe(true)
        // Still a complete audit: a limitation is not an error.
        expect(report.gate.incomplete).toBe(false)
        const connections = readingOf(snapshot, 'postgres.connections')
        expect(connections.status).toBe('ok')
        expect((connections.data as Record<string, unknown>).limitation).toMatch(/GRANT pg_read_all_stats TO cp_noprivs/)
        // Other roles' connections still count towards max_connections, though their state is hidden.
        const usage = connections.metrics[0].evidence as Record<string, any>
        expect(usage.stateHidden).toBeGreaterThanOrEqual(1)
        expect(usage.byDatabase.find((d: {database: string}) => d.database === DB).connections).toBe(2)
        // Read, but not all of it: the report lists the hidden states under Not read, with the GRANT.
        expect(report.notRead).toContainEqual({target: 'pg', probe: 'postgres.connections', what: 'session states', missing: usage.stateHidden,
          of: expect.any(Number), reason: expect.stringMatching(/state .* is hidden/), fix: `GRANT pg_read_all_stats TO "${NOPRIV_ROLE}";`})

        await adminQuery(PRIMARY_URL, `GRANT pg_read_all_stats TO ${NOPRIV_ROLE}`)
        const granted = await auditTarget(asNoPrivs, {onlyProbes: ['postgres.activity', 'postgres.connections']})
        expect(granted.report.notRead).toEqual([])
        const seen = readingOf(granted.snapshot, 'postgres.activity')
        expect(seen.status).toBe('ok')
        expect(seen.metrics.some((m) => m.subject === `pid ${pid}` && m.name === 'db.idle_in_transaction.seconds')).toBe(true)
        await adminQuery(PRIMARY_URL, `REVOKE pg_read_all_stats FROM ${NOPRIV_ROLE}`)
        await other.query('ROLLBACK')
      })
    })
  })
})
