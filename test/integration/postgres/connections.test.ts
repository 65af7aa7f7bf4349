import type pg from 'pg'
import {afterEach, describe, expect, it} from 'vitest'
import {adminQuery, auditTarget, connect, PRIMARY_URL, readingOf, waitForSql, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_connections'

/** Live client backends and the usable slots of the primary, read right before we size the load on it. */
async function liveUsage(): Promise<{used: number; usable: number}> {
  const [row] = await adminQuery(PRIMARY_URL, `SELECT
      (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS used,
      current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
        - coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS usable`)
  return row as {used: number; usable: number}
}

describe('postgres.connections', () => {
  const held: pg.Client[] = []
  afterEach(async () => {
    await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})))
  })

  it('fires pool/utilization (critical, gate fails) when idle connections fill max_connections, and is quiet once they close', async () => {
    await withTempDatabase(DB, async (url) => {
      const before = await liveUsage()
      // Aim at ~94% of the usable slots, counting the audit's own connection: past the 90% action threshold with a
      // margin for colleagues' connections coming and going, and still short of the hard limit for everyone else.
      const goal = Math.ceil(before.usable * 0.94)
      const toOpen = goal - before.used - 1
      expect(toOpen, `the primary already has ${before.used} client connections`).toBeGreaterThan(0)
      for (let i = 0; i < toOpen; i += 10) {
        const batch = await Promise.all(Array.from({length: Math.min(10, toOpen - i)}, () => connect(url, 'cp-test-idle-pool')))
        held.push(...batch)
      }

      const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.connections'], failOn: 'critical'})
      const reading = readingOf(snapshot, 'postgres.connections')
      expect(reading.status).toBe('ok')
      const metric = reading.metrics.find((m) => m.name === 'pool.utilization')!
      expect(metric.subject).toBe('max_connections')
      const evidence = metric.evidence as Record<string, any>
      expect(evidence.usable).toBe(before.usable)
      expect(evidence.maxConnections - evidence.reserved).toBe(before.usable)
      expect(evidence.idle).toBeGreaterThanOrEqual(toOpen)
      const ours = evidence.byDatabase.find((d: {database: string}) => d.database === DB)
      expect(ours.connections).toBeGreaterThanOrEqual(toOpen)
      expect(ours.idle).toBeGreaterThanOrEqual(toOpen)
      expect(evidence.byApplication.some((a: {application: string}) => a.application === 'cp-test-idle-pool')).toBe(true)

      const finding = report.findings.find((f) => f.rule === 'pool/utilization' && f.subject === 'max_connections')
      expect(finding?.severity).toBe('critical')
      expect(finding!.value).toBeGreaterThan(0.9)
      expect(finding!.remedies.some((r) => r.kind === 'pool-size' && /idle/.test(r.summary))).toBe(true)
      expect(report.gate.passed).toBe(false)
      expect(report.gate.exitCode).toBe(1)

      await Promise.all(held.splice(0).map((c) => c.end()))
      // Closed client connections leave pg_stat_activity asynchronously: wait until ours are gone.
      await waitForSql(PRIMARY_URL, 'SELECT count(*) = 0 AS ok FROM pg_stat_activity WHERE datname = $1', [DB], 10_000)
      const quiet = await auditTarget(url, {onlyProbes: ['postgres.connections'], failOn: 'critical'})
      expect(readingOf(quiet.snapshot, 'postgres.connections').metrics[0].value).toBeLessThanOrEqual(0.8)
      expect(quiet.report.findings.filter((f) => f.rule === 'pool/utilization')).toEqual([])
      expect(quiet.report.gate.exitCode).toBe(0)
    })
  })

  it('counts idle-in-transaction sessions for the remedy that names idle_in_transaction_session_timeout', async () => {
    await withTempDatabase(DB, async (url) => {
      const client = await connect(url, 'cp-test-idle-tx')
      held.push(client)
      await client.query('BEGIN')
      await client.query('SELECT 1')
      // A low override makes the rule fire at today's load, so the remedies can be checked on a real reading.
      const {report, snapshot} = await auditTarget(url, {
        onlyProbes: ['postgres.connections'],
        config: {rules: {'pool/utilization': {target: '<= 0%', action: '> 0%'}}},
      })
      const evidence = readingOf(snapshot, 'postgres.connections').metrics[0].evidence as Record<string, any>
      expect(evidence.byDatabase.find((d: {database: string}) => d.database === DB).idleInTransaction).toBe(1)
      expect(evidence.idleInTransaction).toBeGreaterThanOrEqual(1)
      const finding = report.findings.find((f) => f.rule === 'pool/utilization')!
      expect(finding.remedies.some((r) => r.kind === 'config' && /idle_in_transaction_session_timeout/.test(r.summary))).toBe(true)
      await client.query('ROLLBACK')
    })
  })

  it('the health probes need no extension: all five read a fresh database, which has none (no pg_stat_statements)', async () => {
    const health = ['postgres.connections', 'postgres.activity', 'postgres.cache-hit', 'postgres.tables', 'postgres.xid-age']
    await withTempDatabase('cp_probe_health_noext', async (dbUrl) => {
      expect(await adminQuery(dbUrl, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")).toEqual([])
      const {report, snapshot} = await auditTarget(dbUrl, {onlyProbes: health, failOn: 'never'})
      for (const probe of health) expect(readingOf(snapshot, probe).status, probe).toBe('ok')
      expect(report.gate.incomplete).toBe(false)
      // One query each: the round trips do not depend on what the server holds.
      const perProbe = new Map<string, number>()
      for (const c of snapshot.overhead![0].commands) perProbe.set(c.probe, (perProbe.get(c.probe) ?? 0) + c.count)
      for (const probe of health) expect(perProbe.get(probe), probe).toBe(1)
    })
  })
})
