/**
 * The read-replica advisor's saturation from Prometheus: one app exports node_exporter-shaped CPU counters for two
 * hosts whose busy share the test holds (the database server at 90%, another at 20%), a real Prometheus scrapes it,
 * and the PostgreSQL target names its CPU subject (readReplica.cpuSubject). A lightly loaded, read-only database
 * whose own statement time would never say "saturated" gets replicas when its server's CPU is high, and none when
 * the subject it names is idle.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type pg from 'pg'
import {runAudit} from '../../../src/index.js'
import {remedyOfKind} from '../../../src/core/remedies.js'
import type {Report} from '../../../src/core/types.js'
import {startMetricsApp, type MetricsApp} from '../../helpers/metrics-app.js'
import {PRIMARY_URL, adminQuery, connect, withDatabase} from '../../helpers/pg.js'
import {startPrometheus, type PrometheusServer} from '../../helpers/prometheus-server.js'

const DB = 'cp_adv_read_replica_cpu'
const url = withDatabase(PRIMARY_URL, DB)
const RULE = 'database/read-replica'
const POSTGRES_SKIPPED = ['postgres.activity', 'postgres.locks', 'postgres.cache-hit', 'postgres.tables', 'postgres.xid-age',
  'postgres.prepared-xacts', 'postgres.indexes', 'postgres.plans']

describe('read-replica advisor: primary saturation from Prometheus CPU', () => {
  let app: MetricsApp
  let prom: PrometheusServer
  let reader: pg.Client

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE TABLE articles (id int PRIMARY KEY, section int NOT NULL, body text NOT NULL);
      INSERT INTO articles SELECT g, g % 20, repeat('w', 200) FROM generate_series(1, 5000) g; ANALYZE`)
    reader = await connect(url, 'cp-read-replica-cpu')
    app = await startMetricsApp({cpuHosts: {'db-primary': 0.9, 'db-idle': 0.2}})
    prom = await startPrometheus(app.hostPort)
    // The held shares over the rule's 10 s lookback, as the probe reads them (the first scrapes' rates are not yet).
    const busy = (host: string) => `1 - avg by (host) (rate(node_cpu_seconds_total{mode="idle", host="${host}"}[10s]))`
    await prom.waitFor(busy('db-primary'), (v) => v > 0.85, 'the database server held at 90% CPU', 160)
    await prom.waitFor(busy('db-idle'), (v) => v < 0.3, 'the other server held at 20% CPU', 160)
  }, 120_000)

  afterAll(async () => {
    await reader?.end().catch(() => {})
    await prom?.stop()
    await app?.stop()
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  async function audit(cpuSubject: string): Promise<Report> {
    let stop = false
    // One reader with pauses: a few ms of statement time per second, nothing the statement time would call saturated.
    const loop = (async () => {
      for (let n = 0; !stop; n++) {
        await reader.query('SELECT section, count(*) FROM articles WHERE id > $1 GROUP BY section', [n % 100])
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    try {
      const {report} = await runAudit({
        targets: [
          {name: 'pg', kind: 'postgres', url, options: {readReplica: {cpuSubject}}},
          {name: 'prom', kind: 'prometheus', url: prom.url, options: {resourceGroupBy: 'host'}},
        ],
        windowSeconds: 2, failOn: 'never',
        // pg_stat_wal counts the whole cluster's WAL, which other tests on this server write too: not this test's subject.
        config: {rules: {'resources/cpu': {lookback: '10s'}, [RULE]: {heuristic: {highWalBytesPerSecond: 1e12}}},
          skipProbes: [...POSTGRES_SKIPPED, 'prometheus.app-pools', 'prometheus.memory', 'prometheus.latency', 'prometheus.errors']},
      })
      return report
    } finally {
      stop = true
      await loop
    }
  }

  it('proposes replicas when the database server\'s CPU is saturated', async () => {
    const report = await audit('db-primary')
    const finding = report.findings.find((f) => f.rule === RULE)
    expect(finding?.severity).toBe('warning')
    const e = finding!.evidence as any
    expect(e.load.basis).toMatch(/^CPU 9\d(\.\d)?% \(Prometheus prom, db-primary\), outside the resources\/cpu target <= 70%$/)
    expect(e.load.statementBusyCores).toBeLessThan(0.5)
    expect(e.scaling.warranted).toBe(true)
    expect(remedyOfKind(finding!.remedies, 'replica')!.routedStatements).toHaveLength(1)
  }, 60_000)

  // The same workload as above: the only difference is the CPU of the subject named.
  it('proposes none when the server it names is idle', async () => {
    const report = await audit('db-idle')
    expect(report.findings.filter((f) => f.rule === RULE)).toEqual([])
  }, 60_000)
})
