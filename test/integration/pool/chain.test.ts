import pg from 'pg'
import {remedyOfKind} from '../../../src/core/remedies.js'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runAudit} from '../../../src/index.js'
import type {Report, TargetSpec} from '../../../src/core/types.js'
import {postgresProbes} from '../../../src/probes/postgres/index.js'
import {startMetricsApp, type MetricsApp} from '../../helpers/metrics-app.js'
import {PGBOUNCER_APP_URL, PGBOUNCER_STATS_URL, PRIMARY_URL} from '../../helpers/pg.js'
import {startPgBouncer, type PgBouncerServer} from '../../helpers/pgbouncer-server.js'

/** Only the probes the chain needs: postgres.connections, pgbouncer.pools, prometheus.app-pools. */
const SKIP = [
  ...postgresProbes.map((p) => p.id).filter((id) => id !== 'postgres.connections'),
  'pgbouncer.stats', 'prometheus.latency', 'prometheus.errors', 'prometheus.cpu', 'prometheus.memory',
]

async function auditStack(apps: MetricsApp[], bouncerUrl: string): Promise<Report> {
  const targets: TargetSpec[] = [
    {name: 'pg', kind: 'postgres', url: PRIMARY_URL, options: {}},
    {name: 'bouncer', kind: 'pgbouncer', url: bouncerUrl, options: {}},
    // Each instance's own /metrics endpoint: three targets, one app with three instances.
    ...apps.map((a, i): TargetSpec => ({name: `app-${i}`, kind: 'prometheus', url: `${a.url}/metrics`, options: {}})),
  ]
  const {report} = await runAudit({targets, windowSeconds: 0, failOn: 'critical', config: {skipProbes: SKIP}})
  return report
}

describe('pool-chain advisor over a real stack: app instances (pg Pool gauges) -> PgBouncer -> PostgreSQL', () => {
  const apps: MetricsApp[] = []
  beforeAll(async () => {
    // Three instances, each with a node-postgres Pool of max 4, through the shared PgBouncer (pool_size 5).
    for (let i = 0; i < 3; i++) apps.push(await startMetricsApp({pool: {url: PGBOUNCER_APP_URL, max: 4}}))
  })
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()))
  })

  it('3 instances x 4 > PgBouncer pool 5: proposes PgBouncer 12 within PostgreSQL 100 - 3 reserved', async () => {
    const report = await auditStack(apps, PGBOUNCER_STATS_URL)
    const chain = report.findings.find((f) => f.rule === 'pool/chain-budget')
    expect(chain, JSON.stringify(report.skipped)).toBeDefined()
    expect(chain!.severity).toBe('warning')
    expect(chain!.message).toContain('3 instances x 4 app pool = 12 > PgBouncer pool 5')
    const remedy = chain!.remedies[0]
    expect(remedy).toMatchObject({
      kind: 'pool-size',
      instances: 3,
      appPoolSize: 4,
      pgbouncerPoolSize: 12,
      maxConnections: 100,
      reserved: 3,
      usable: 97,
      waitSits: 'pgbouncer',
      waitObserved: false,
      current: {appPoolSize: 4, pgbouncerPoolSize: 5, appDemand: 12},
    })
    expect(remedy.summary).toContain('set PgBouncer pool_size 5 -> 12')
    expect((remedyOfKind([remedy], 'pool-size')?.sizingHint as {formula: string}).formula).toMatch(/core_count \* 2 \+ effective_spindle_count/)
  })

  it('within budget (1 instance x 4 <= 5 <= 97) and nothing waiting: no chain finding', async () => {
    const report = await auditStack(apps.slice(0, 1), PGBOUNCER_STATS_URL)
    expect(report.findings.filter((f) => f.rule === 'pool/chain-budget')).toEqual([])
  })
})

describe('pool-chain advisor: the wait observed at a one-connection PgBouncer', () => {
  let bouncer: PgBouncerServer
  let app: MetricsApp
  beforeAll(async () => {
    bouncer = await startPgBouncer({poolSize: 1})
    app = await startMetricsApp({pool: {url: bouncer.appUrl, max: 1}})
  })
  afterAll(async () => {
    await app?.stop()
    await bouncer?.stop()
  })

  it('clients queued in PgBouncer while the app fits (1 x 1 <= 1): warning, waitSits pgbouncer', async () => {
    const clients = await Promise.all(Array.from({length: 3}, async () => {
      const c = new pg.Client({connectionString: bouncer.appUrl})
      c.on('error', () => {})
      await c.connect()
      return c
    }))
    const running = clients.map((c) => c.query('SELECT pg_sleep(1.5)').catch(() => {}))
    try {
      for (let i = 0; i < 100; i++) {
        const s = new pg.Client({connectionString: bouncer.statsUrl})
        await s.connect()
        const rows = (await s.query('SHOW POOLS')).rows
        await s.end()
        if (rows.some((r) => r.database === 'appdb' && Number(r.cl_waiting) >= 2)) break
        await new Promise((r) => setTimeout(r, 50))
      }
      const report = await auditStack([app], bouncer.statsUrl)
      const chain = report.findings.find((f) => f.rule === 'pool/chain-budget')
      expect(chain?.severity).toBe('warning')
      expect(chain?.message).toMatch(/requests are waiting at: pgbouncer although the chain is within budget/)
      expect(chain?.remedies[0]).toMatchObject({waitSits: 'pgbouncer', waitObserved: true, instances: 1, appPoolSize: 1, current: {pgbouncerPoolSize: 1}})
      expect(chain?.evidence.pgbouncerWaiting).toBeGreaterThanOrEqual(2)
    } finally {
      await Promise.all(running)
      await Promise.all(clients.map((c) => c.end().catch(() => {})))
    }
  })
})
