import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PrometheusSession} from '../../drivers/prometheus.js'
import {errorRateCandidates, finiteOrNull, firstMatching, noSeries, requireServer, settings, subjectOf} from './queries.js'

/**
 * Share of requests answered with a 5xx per service over the window, from the request counter of the first
 * convention (and status label) that has series. 4xx are the client's errors and are not counted.
 */
export const errorRateProbe: Probe<PrometheusSession> = {
  id: 'prometheus.errors',
  kind: 'prometheus',
  description: 'HTTP 5xx share of requests per service (rate of 5xx over rate of all requests)',
  async collect(session, ctx): Promise<ProbeOutput> {
    requireServer(session, 'http.error_rate')
    const s = settings(ctx)
    const found = await firstMatching(session, s, 'errorRate', errorRateCandidates())
    if ('tried' in found) throw noSeries('http.error_rate', 'errorRate', found.tried)
    return {
      data: {window: s.window, groupBy: s.by, matched: found.matched, query: found.query},
      metrics: found.samples.map((sample) => {
        const value = finiteOrNull(sample.value, found.factor)
        return {
          name: 'http.error_rate',
          subject: subjectOf(sample, s.by, ctx.target.name),
          value,
          evidence: {matched: found.matched, query: found.query, window: s.window, ...(value === null ? {noTraffic: true} : {})},
        }
      }),
    }
  },
}
