import {describe, expect, it} from 'vitest'
import {runAudit} from '../../../src/index.js'
import {drive, startMetricsApp} from '../../helpers/metrics-app.js'
import {startPrometheus, type PrometheusServer} from '../../helpers/prometheus-server.js'

/** Waits until every route's request count is scraped at its final value twice (see service.test.ts). */
async function settle(prom: PrometheusServer, counter: string, routes: Record<string, number>) {
  for (const [route, count] of Object.entries(routes)) {
    const selector = `${counter}{http_route="${route}"}`
    await prom.waitFor(selector, (v) => v >= count, `${count} requests to ${route}`)
    await prom.waitFor(`count_over_time((${selector} >= ${count})[1m:1s])`, (v) => v >= 2, `two scrapes of ${route}`)
  }
}

/**
 * The same service instrumented with OpenTelemetry (@opentelemetry/sdk-metrics + @opentelemetry/exporter-prometheus),
 * in both semantic conventions: the stable one (http.server.request.duration, seconds) and the older one
 * (http.server.duration, milliseconds, which must be converted).
 */
describe.each([
  {semconv: 'stable' as const, counter: 'http_server_request_duration_count', matched: /OpenTelemetry \(JS exporter, no unit suffix\) http_server_request_duration/},
  {semconv: 'old' as const, counter: 'http_server_duration_count', matched: /pre-1.23 semconv, no unit suffix\) http_server_duration$/},
])('OpenTelemetry-instrumented service ($semconv semconv), real Prometheus', ({semconv, counter, matched}) => {
  it('slow route p95/p99 critical in seconds, 500 route error rate critical, fast route quiet', async () => {
    const app = await startMetricsApp({otel: semconv})
    const prom = await startPrometheus(app.hostPort)
    try {
      for (const route of ['/fast', '/slow', '/fail']) await drive(app, route, 1)
      await settle(prom, counter, {'/fast': 1, '/slow': 1, '/fail': 1})
      await drive(app, '/fast', 30, 4)
      await drive(app, '/slow', 6, 6)
      await drive(app, '/slow?ms=1200', 2, 2)
      await drive(app, '/fail', 6, 3)
      await settle(prom, counter, {'/fast': 31, '/slow': 9, '/fail': 7})
      const {report, snapshot} = await runAudit({
        targets: [{name: 'prom', kind: 'prometheus', url: prom.url, options: {groupBy: 'http_route', window: '1m'}}],
        windowSeconds: 0,
        failOn: 'critical',
        config: {skipProbes: ['prometheus.cpu', 'prometheus.memory', 'prometheus.app-pools']},
      })
      const p95 = report.findings.find((f) => f.rule === 'latency/p95' && f.subject === '/slow')
      expect(p95?.severity).toBe('critical')
      expect(p95?.evidence.matched).toMatch(matched)
      // Seconds, not milliseconds: the (1 s, 2.5 s] bucket.
      expect(p95?.value).toBeGreaterThan(1)
      expect(p95?.value).toBeLessThanOrEqual(2.5)
      expect(report.findings.find((f) => f.rule === 'latency/p99' && f.subject === '/slow')?.severity).toBe('critical')
      expect(report.findings.find((f) => f.rule === 'errors/error-rate' && f.subject === '/fail')?.severity).toBe('critical')
      expect(report.findings.filter((f) => f.subject === '/fast')).toEqual([])
      const fast = snapshot.readings.find((r) => r.probe === 'prometheus.latency')?.metrics.find((m) => m.name === 'http.latency.p95' && m.subject === '/fast')
      expect(fast?.value).toBeLessThan(0.2)
    } finally {
      await prom.stop()
      await app.stop()
    }
  }, 120_000)
})
