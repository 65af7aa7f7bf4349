import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runAudit} from '../../../src/index.js'
import type {Report, Snapshot, TargetSpec} from '../../../src/core/types.js'
import {PGBOUNCER_APP_URL, PGBOUNCER_STATS_URL} from '../../helpers/pg.js'
import {startPgBouncer, type PgBouncerServer} from '../../helpers/pgbouncer-server.js'

const audit = (targets: TargetSpec[]) => runAudit({targets, windowSeconds: 0, failOn: 'critical'})
const target = (url: string, name = 'bouncer'): TargetSpec => ({name, kind: 'pgbouncer', url, options: {}})

function findings(report: Report, rule: string) {
  return report.findings.filter((f) => f.rule === rule)
}

function poolsReading(snapshot: Snapshot, targetName = 'bouncer') {
  const reading = snapshot.readings.find((r) => r.target === targetName && r.probe === 'pgbouncer.pools')
  if (!reading) throw new Error(`no pgbouncer.pools reading: ${JSON.stringify(snapshot.targets)}`)
  return reading
}

async function showPools(url: string): Promise<Array<Record<string, string>>> {
  const client = new pg.Client({connectionString: url})
  client.on('error', () => {})
  await client.connect()
  try {
    return (await client.query('SHOW POOLS')).rows
  } finally {
    await client.end()
  }
}

describe('PgBouncer probes against the shared test PgBouncer', () => {
  it('reads SHOW POOLS/DATABASES/CONFIG/STATS as a stats user, with pool_size from SHOW DATABASES', async () => {
    // A query through the pooler makes sure the appdb pool exists (user postgres: the [databases] entry forces it).
    const app = new pg.Client({connectionString: PGBOUNCER_APP_URL})
    await app.connect()
    await app.query('SELECT 1')
    const {report, snapshot} = await audit([target(PGBOUNCER_STATS_URL)])
    await app.end()
    expect(report.targets[0].status).toBe('ok')
    expect(report.targets[0].facts?.version).toMatch(/PgBouncer/)
    const reading = poolsReading(snapshot)
    expect(reading.status).toBe('ok')
    const util = reading.metrics.find((m) => m.name === 'pool.utilization' && m.subject === 'pgbouncer appdb/postgres')
    expect(util?.evidence).toMatchObject({poolSize: 5, limit: 5, limitedBy: 'pool_size', poolMode: 'transaction'})
    // The admin console's own pseudo-pool is not reported.
    expect(reading.metrics.some((m) => m.subject?.startsWith('pgbouncer pgbouncer/'))).toBe(false)
    const stats = snapshot.readings.find((r) => r.probe === 'pgbouncer.stats')
    expect(stats?.status).toBe('ok')
    expect(stats?.metrics.some((m) => m.subject === 'pgbouncer appdb')).toBe(true)
    // Every command is counted, and only SHOW commands were sent.
    const commands = report.overhead?.find((o) => o.target === 'bouncer')?.commands.map((c) => c.text) ?? []
    expect(commands).toEqual(expect.arrayContaining(['SHOW VERSION', 'SHOW POOLS', 'SHOW DATABASES', 'SHOW CONFIG', 'SHOW STATS']))
    expect(commands.every((c) => c.startsWith('SHOW '))).toBe(true)
  })

  it('a wrong password skips the target with a clear reason, the rest of the audit completes, exit 3', async () => {
    const {report, snapshot} = await audit([
      target(PGBOUNCER_STATS_URL.replace(':stats-secret@', ':not-the-password@'), 'wrong'),
      target(PGBOUNCER_STATS_URL, 'bouncer'),
    ])
    const wrong = report.targets.find((t) => t.name === 'wrong')!
    expect(wrong.status).toBe('error')
    expect(wrong.error).toBe("could not connect: PgBouncer refused the login for user 'chokepoint_stats': check the user and password")
    expect(poolsReading(snapshot, 'bouncer').status).toBe('ok')
    expect(report.gate.incomplete).toBe(true)
    expect(report.gate.exitCode).toBe(3)
    // The password is in no output.
    expect(JSON.stringify({report, snapshot})).not.toContain('not-the-password')
  })
})

describe('PgBouncer with a one-connection pool (private instance)', () => {
  let bouncer: PgBouncerServer
  beforeAll(async () => {
    bouncer = await startPgBouncer({poolSize: 1})
  })
  afterAll(async () => {
    await bouncer?.stop()
  })

  it('is quiet while idle', async () => {
    const app = new pg.Client({connectionString: bouncer.appUrl})
    await app.connect()
    await app.query('SELECT 1')
    await app.end()
    const {report, snapshot} = await audit([target(bouncer.statsUrl)])
    expect(poolsReading(snapshot).metrics.find((m) => m.name === 'pool.clients_waiting')?.value).toBe(0)
    expect(report.findings.filter((f) => f.area === 'pool')).toEqual([])
    expect(report.gate.exitCode).toBe(0)
  })

  it('five clients in pg_sleep behind it: clients-waiting warns, max-wait and utilization are critical', async () => {
    const clients = await Promise.all(Array.from({length: 5}, async () => {
      const c = new pg.Client({connectionString: bouncer.appUrl})
      c.on('error', () => {})
      await c.connect()
      return c
    }))
    // Each sleep holds the only server connection; the other four queue in PgBouncer.
    const running = clients.map((c) => c.query('SELECT pg_sleep(1.5)').catch(() => {}))
    try {
      // Wait (bounded) until the queue is there and the oldest has waited over a second.
      let pool: Record<string, string> | undefined
      for (let i = 0; i < 100; i++) {
        pool = (await showPools(bouncer.statsUrl)).find((p) => p.database === 'appdb')
        if (pool && Number(pool.cl_waiting) >= 3 && Number(pool.maxwait) >= 1) break
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(Number(pool?.cl_waiting)).toBeGreaterThanOrEqual(3)
      const {report, snapshot} = await audit([target(bouncer.statsUrl)])
      const subject = 'pgbouncer appdb/postgres'
      const waiting = findings(report, 'pool/clients-waiting').find((f) => f.subject === subject)
      expect(waiting?.severity).toBe('warning')
      expect(waiting?.value).toBeGreaterThanOrEqual(3)
      const maxWait = findings(report, 'pool/max-wait').find((f) => f.subject === subject)
      expect(maxWait?.severity).toBe('critical')
      expect(maxWait?.value).toBeGreaterThan(1)
      expect(maxWait?.remedies[0]).toMatchObject({kind: 'pool-size'})
      const util = findings(report, 'pool/utilization').find((f) => f.subject === subject)
      expect(util?.severity).toBe('critical')
      expect(util?.evidence).toMatchObject({limit: 1, svActive: 1})
      expect(poolsReading(snapshot).data).toMatchObject({config: {defaultPoolSize: 1}})
      expect(report.gate.exitCode).toBe(1)
    } finally {
      await Promise.all(running)
      await Promise.all(clients.map((c) => c.end().catch(() => {})))
    }
    // Once the queue has drained the same pool is quiet again.
    const {report} = await audit([target(bouncer.statsUrl)])
    expect(report.findings.filter((f) => f.rule === 'pool/clients-waiting' || f.rule === 'pool/max-wait')).toEqual([])
  })
})
