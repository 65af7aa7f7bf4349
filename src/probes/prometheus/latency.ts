import {definePromqlProbe} from './define.js'
import {latencyCandidates} from './queries.js'

const QUANTILES = [
  {metric: 'http.latency.p95', key: 'latencyP95', q: 0.95},
  {metric: 'http.latency.p99', key: 'latencyP99', q: 0.99},
] as const

/**
 * p95 and p99 request duration per service, from the request-duration histogram:
 * histogram_quantile(q, sum by (le, <group>) (rate(<histogram>_bucket[window]))). The first histogram
 * convention that has series is used (prom-client, OTel stable in seconds, OTel older in milliseconds,
 * converted) and named in evidence.matched. A group with no requests in the window gives no value.
 */
export const latencyProbe = definePromqlProbe({
  id: 'prometheus.latency',
  description: 'Request latency p95 and p99 per service from the request-duration histogram (histogram_quantile over rate)',
  needs: 'http.latency',
  per: 'service',
  queries: () => QUANTILES.map(({metric, key, q}) => ({metric, key, candidates: latencyCandidates(q), evidence: {quantile: q}})),
})
