import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runAudit} from '../../../src/index.js'
import type {Report, Snapshot, TargetSpec} from '../../../src/core/types.js'
import {drive, startMetricsApp, type MetricsApp} from '../../helpers/metrics-app.js'
import {PRIMARY_URL} from '../../helpers/pg.js'
import {startPrometheus, type PrometheusServer} from '../../helpers/prometheus-server.js'


const promTarget = (url: string, options: Record<string, unknown> = {}, name = 'prom'): TargetSpec => ({name, kind: 'prometheus', url, options})
const audit = (targets: TargetSpec[], skipProbes: string[] = []) => runAudit({targets, windowSeconds: 0, failOn: 'critical', config: {skipProbes}})

function reading(snapshot: Snapshot, probe: string, target = 'prom') {
  const r = snapshot.readings.find((x) => x.probe === probe && x.target === target)
  if (!r) throw new Error(`no ${probe} reading; have ${snapshot.readings.map((x) => x.probe).join(', ')}`)
  return r
}

function finding(report: Report, rule: string, subject: string) {
  return report.findings.find((f) => f.rule === rule && f.subject === subject)
}

/**
 * A series born after the traffic it counts has a rate of 0 over its first samples; so each route is hit once,
 * scraped, and only then loaded. Then we wait until two scrapes have seen the final counts.
 */
async function settle(prom: PrometheusServer, job: string, routes: Record<string, number>, metric = 'http_request_duration_seconds_count', routeLabel = 'route') {
  for (const [route, count] of Object.entries(routes)) {
    const selector = `${metric}{job="${job}",${routeLabel}="${route}"}`
    await prom.waitFor(selector, (v) => v >= count, `${count} requests to ${route}`)
    // At least two samples at the final count, so the last scrape holds everything driven.
    await prom.waitFor(`count_over_time((${selector} >= ${count})[1m:1s])`, (v) => v >= 2, `two scrapes of ${route}`)
  }
}

describe('Prometheus service metrics from a prom-client app (real Prometheus)', () => {
  let app: MetricsApp
  let prom: PrometheusServer

  beforeAll(async () => {
    // The app also runs a real node-postgres Pool of 2 and exports HikariCP-named gauges of a saturated JVM pool.
    app = await startMetricsApp({pool: {url: PRIMARY_URL, max: 2}, hikari: {pool: 'HikariPool-1', active: 10, idle: 0, pending: 4, max: 10}})
    prom = await startPrometheus(app.hostPort)
    for (const route of ['/fast', '/slow', '/fail']) await drive(app, route, 1)
    await settle(prom, 'app', {'/fast': 1, '/slow': 1, '/fail': 1})
    await drive(app, '/fast', 60, 4)
    // 10 at 600 ms and 3 at 1.2 s: p95 and p99 of /slow land in the (1 s, 2.5 s] bucket.
    await drive(app, '/slow', 10, 5)
    await drive(app, '/slow?ms=1200', 3, 3)
    await drive(app, '/fail', 10, 4)
    await settle(prom, 'app', {'/fast': 61, '/slow': 14, '/fail': 11})
  }, 120_000)

  afterAll(async () => {
    await prom?.stop()
    await app?.stop()
  })

  it('slow route: p95 and p99 critical; 500 route: error rate critical; fast route quiet (grouped by route)', async () => {
    const {report, snapshot} = await audit([promTarget(prom.url, {groupBy: 'route', window: '1m'})], ['prometheus.app-pools'])
    const p95 = finding(report, 'latency/p95', '/slow')
    const p99 = finding(report, 'latency/p99', '/slow')
    expect(p95?.severity).toBe('critical')
    expect(p99?.severity).toBe('critical')
    expect(p95?.evidence.matched).toBe('prom-client http_request_duration_seconds')
    expect(finding(report, 'errors/error-rate', '/fail')?.severity).toBe('critical')
    expect(finding(report, 'errors/error-rate', '/fail')?.value).toBe(1)
    for (const rule of ['latency/p95', 'latency/p99', 'errors/error-rate']) expect(finding(report, rule, '/fast')).toBeUndefined()
    const fastP95 = reading(snapshot, 'prometheus.latency').metrics.find((m) => m.name === 'http.latency.p95' && m.subject === '/fast')
    expect(fastP95?.value).toBeLessThan(0.2)
    expect(reading(snapshot, 'prometheus.errors').metrics.find((m) => m.subject === '/slow')?.value).toBe(0)
    // CPU of the process over one core: a test app is nowhere near it.
    const cpu = reading(snapshot, 'prometheus.cpu')
    expect(cpu.status).toBe('ok')
    expect(cpu.metrics[0].subject).toBe(`app/${app.hostPort}`)
    expect(cpu.metrics[0].evidence?.matched).toMatch(/process_cpu_seconds_total/)
    // Only process memory is scraped: no denominator, so skipped with the fix, and the audit stays complete.
    const memory = reading(snapshot, 'prometheus.memory')
    expect(memory.status).toBe('skipped')
    expect(memory.reason).toMatch(/no denominator.*memoryLimitBytes/)
    expect(report.gate.incomplete).toBe(false)
    expect(report.gate.exitCode).toBe(1)
  })

  it('memory against options.memoryLimitBytes: over a tight limit critical, under a roomy one quiet', async () => {
    const tight = await audit([promTarget(prom.url, {memoryLimitBytes: 32 * 1024 * 1024})], ['prometheus.latency', 'prometheus.errors', 'prometheus.cpu', 'prometheus.app-pools'])
    const memTight = tight.report.findings.find((f) => f.rule === 'resources/memory')
    expect(memTight?.severity).toBe('critical')
    expect(memTight?.evidence.matched).toMatch(/process_resident_memory_bytes/)
    const roomy = await audit([promTarget(prom.url, {memoryLimitBytes: 64 * 1024 ** 3})], ['prometheus.latency', 'prometheus.errors', 'prometheus.cpu', 'prometheus.app-pools'])
    expect(reading(roomy.snapshot, 'prometheus.memory').status).toBe('ok')
    expect(roomy.report.findings).toEqual([])
  })

  it('app pools: node-postgres Pool with queued requests and a saturated HikariCP pool fire; through the server and from /metrics', async () => {
    // Five requests hold pg_sleep on a Pool of 2: two run, three wait in the pool.
    const held = drive(app, '/db?sleep=4', 5, 5)
    try {
      await prom.waitFor('pg_pool_waiting{job="app"}', (v) => v >= 3, 'three waiting pool clients')
      for (const [name, target] of [['server', promTarget(prom.url)], ['scrape', promTarget(`${app.url}/metrics`)]] as const) {
        const {report, snapshot} = await audit([target], ['prometheus.latency', 'prometheus.errors', 'prometheus.cpu', 'prometheus.memory'])
        const pg = name === 'server' ? `app pool app main/${app.hostPort}` : `app pool main/${app.hostPort}`
        const hikari = name === 'server' ? `app pool app HikariPool-1/${app.hostPort}` : `app pool HikariPool-1/${app.hostPort}`
        expect(finding(report, 'pool/utilization', pg)?.severity, name).toBe('critical')
        expect(finding(report, 'pool/utilization', pg)?.evidence).toMatchObject({inUse: 2, max: 2, flavour: 'node-postgres pg_pool_*'})
        expect(finding(report, 'pool/clients-waiting', pg)?.value, name).toBeGreaterThanOrEqual(3)
        expect(finding(report, 'pool/utilization', hikari)?.severity, name).toBe('critical')
        expect(finding(report, 'pool/clients-waiting', hikari)?.value, name).toBe(4)
        expect(reading(snapshot, 'prometheus.app-pools').data).toMatchObject({matched: ['node-postgres pg_pool_*', 'HikariCP (Micrometer) hikaricp_connections_*']})
      }
    } finally {
      await held
    }
  })

  it('a bare /metrics endpoint cannot give rates: the PromQL probes are skipped with the reason, pools still read', async () => {
    const {report, snapshot} = await audit([promTarget(`${app.url}/metrics`)])
    expect(reading(snapshot, 'prometheus.latency').status).toBe('skipped')
    expect(reading(snapshot, 'prometheus.latency').reason).toMatch(/Prometheus server, not a \/metrics endpoint/)
    expect(reading(snapshot, 'prometheus.app-pools').status).toBe('ok')
    expect(report.targets[0].facts?.mode).toBe('scrape')
  })
})

describe('Prometheus: a healthy service, and a query with no series', () => {
  let app: MetricsApp
  let prom: PrometheusServer

  beforeAll(async () => {
    app = await startMetricsApp({hikari: {pool: 'HikariPool-1', active: 2, idle: 8, pending: 0, max: 10}})
    prom = await startPrometheus(app.hostPort)
    await drive(app, '/fast', 1)
    await settle(prom, 'app', {'/fast': 1})
    await drive(app, '/fast', 40, 4)
    await settle(prom, 'app', {'/fast': 41})
  }, 120_000)

  afterAll(async () => {
    await prom?.stop()
    await app?.stop()
  })

  it('is quiet: no findings, memory skipped for want of a denominator, exit 0', async () => {
    const {report, snapshot} = await audit([promTarget(prom.url)])
    expect(report.findings).toEqual([])
    const p95 = reading(snapshot, 'prometheus.latency').metrics.find((m) => m.name === 'http.latency.p95')
    expect(p95?.subject).toBe('app')
    expect(p95?.value).toBeLessThan(0.2)
    expect(reading(snapshot, 'prometheus.errors').metrics[0].value).toBe(0)
    expect(reading(snapshot, 'prometheus.app-pools').metrics.find((m) => m.name === 'pool.utilization')?.value).toBe(0.2)
    expect(report.gate.exitCode).toBe(0)
  })

  it('a query that returns no series: the reading is an error naming the option, the rest completes, exit 3', async () => {
    const {report, snapshot} = await audit([promTarget(prom.url, {
      queries: {latencyP95: 'histogram_quantile(0.95, sum by (le, {{by}}) (rate(no_such_histogram_bucket[{{window}}])))'},
    })])
    const latency = reading(snapshot, 'prometheus.latency')
    expect(latency.status).toBe('error')
    expect(latency.reason).toBe('query for http.latency.p95 returned no series (tried options.queries.latencyP95): set options.prometheus.queries.latencyP95')
    // p99 still came from the default candidates, and the other probes ran.
    expect(latency.metrics.some((m) => m.name === 'http.latency.p99')).toBe(true)
    expect(reading(snapshot, 'prometheus.errors').status).toBe('ok')
    expect(report.skipped.find((s) => s.probe === 'prometheus.latency')?.status).toBe('error')
    expect(report.gate.exitCode).toBe(3)
  })

  it('credentials in the URL are sent as basic auth and never appear in the report or snapshot', async () => {
    const url = new URL(prom.url)
    url.username = 'reader'
    url.password = 'prom-url-secret'
    const {report, snapshot} = await audit([promTarget(url.toString(), {}, 'prom')])
    expect(report.targets[0].status).toBe('ok')
    expect(JSON.stringify({report, snapshot})).not.toContain('prom-url-secret')
    expect(report.targets[0].url).toContain('<password removed>')
  })
})
