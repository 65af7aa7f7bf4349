import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PrometheusSession} from '../../drivers/prometheus.js'
import {finiteOrNull, firstMatching, latencyCandidates, noSeries, requireServer, settings, subjectOf, type QueryName} from './queries.js'

const QUANTILES: Array<{metric: string; key: QueryName; q: number}> = [
  {metric: 'http.latency.p95', key: 'latencyP95', q: 0.95},
  {metric: 'http.latency.p99', key: 'latencyP99', q: 0.99},
]

/**
 * p95 and p99 request duration per service, from the request-duration histogram:
 * histogram_quantile(q, sum by (le, <group>) (rate(<histogram>_bucket[window]))). The first histogram
 * convention that has series is used (prom-client, OTel stable in seconds, OTel older in milliseconds,
 * converted) and named in evidence.matched. A group with no requests in the window gives no value.
 */
export const latencyProbe: Probe<PrometheusSession> = {
  id: 'prometheus.latency',
  kind: 'prometheus',
  description: 'Request latency p95 and p99 per service from the request-duration histogram (histogram_quantile over rate)',
  async collect(session, ctx): Promise<ProbeOutput> {
    requireServer(session, 'http.latency')
    const s = settings(ctx)
    const metrics: Metric[] = []
    const failures: string[] = []
    const matches: Record<string, unknown> = {}
    for (const {metric, key, q} of QUANTILES) {
      const found = await firstMatching(session, s, key, latencyCandidates(q))
      if ('tried' in found) {
        failures.push(noSeries(metric, key, found.tried).message)
        continue
      }
      matches[metric] = {matched: found.matched, query: found.query}
      for (const sample of found.samples) {
        const value = finiteOrNull(sample.value, found.factor)
        metrics.push({
          name: metric,
          subject: subjectOf(sample, s.by, ctx.target.name),
          value,
          evidence: {matched: found.matched, query: found.query, window: s.window, quantile: q, ...(value === null ? {noTraffic: true} : {})},
        })
      }
    }
    return {data: {window: s.window, groupBy: s.by, matches}, metrics, ...(failures.length ? {status: 'error' as const, reason: failures.join('; ')} : {})}
  },
}
