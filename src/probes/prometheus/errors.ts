import {definePromqlProbe} from './define.js'
import {errorRateCandidates} from './queries.js'

/**
 * Share of requests answered with a 5xx per service over the window, from the request counter of the first
 * convention (and status label) that has series. 4xx are the client's errors and are not counted.
 */
export const errorRateProbe = definePromqlProbe({
  id: 'prometheus.errors',
  description: 'HTTP 5xx share of requests per service (rate of 5xx over rate of all requests)',
  needs: 'http.error_rate',
  per: 'service',
  query: () => ({metric: 'http.error_rate', key: 'errorRate', candidates: errorRateCandidates()}),
})
