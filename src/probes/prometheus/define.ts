/**
 * The shape every PromQL probe shares: it needs a server (rates over a window), tries the user's query or each
 * default candidate until one returns series, and turns each series into one metric whose subject is its grouping
 * labels and whose evidence names the convention that matched and the query that was sent.
 */
import type {Metric} from '../../core/types.js'
import type {Probe, ProbeContext, ProbeOutput} from '../../core/probe.js'
import type {PrometheusSession} from '../../drivers/prometheus.js'
import {finiteOrNull, firstMatching, noSeries, requireServer, settings, subjectOf, type Candidate, type PromSettings, type QueryName} from './queries.js'

export interface PromqlQuery {
  /** The metric each series becomes. */
  metric: string
  /** The configurable query (options.prometheus.queries.<key>) that replaces the candidates. */
  key: QueryName
  candidates: Candidate[]
  /** Evidence every series of this query carries besides the match (e.g. the quantile). */
  evidence?: Record<string, unknown>
}

interface Common {
  id: string
  description: string
  /** What needs the server, for the skip on a bare /metrics endpoint (e.g. 'http.latency'). */
  needs: string
  /**
   * 'service': request metrics, grouped by options.groupBy; a null value means no requests in the window and is
   * flagged noTraffic. 'instance': resource metrics, grouped by options.resourceGroupBy.
   */
  per: 'service' | 'instance'
  /** Whether the queries take rates over options.window (recorded in data and evidence); gauges do not. */
  windowed?: boolean
  /**
   * Runs before the "no series" error of a single query, to turn it into a skip when the reason is known (memory:
   * only process RSS is scraped, so there is no denominator).
   */
  beforeNoSeries?(session: PrometheusSession, s: PromSettings, by: string): Promise<void>
}

/**
 * One query: no series is an error (the rules need the metric), data is {window, groupBy, matched, query}. Several
 * queries: each that has no series adds to the reason of an 'error' reading while the others still count, and
 * data is {window, groupBy, matches: {<metric>: {matched, query}}}.
 */
export type PromqlProbeDefinition = Common & ({query(ctx: ProbeContext): PromqlQuery} | {queries(ctx: ProbeContext): PromqlQuery[]})

export function definePromqlProbe(def: PromqlProbeDefinition): Probe<PrometheusSession> {
  const windowed = def.windowed ?? true
  return {
    id: def.id,
    kind: 'prometheus',
    description: def.description,
    async collect(session, ctx): Promise<ProbeOutput> {
      requireServer(session, def.needs)
      const s = settings(ctx)
      const by = def.per === 'service' ? s.by : s.resourceBy
      const single = 'query' in def
      const queries = 'query' in def ? [def.query(ctx)] : def.queries(ctx)
      const window = windowed ? {window: s.window} : {}
      const metrics: Metric[] = []
      const failures: string[] = []
      const matches: Record<string, {matched: string; query: string}> = {}
      for (const q of queries) {
        const found = await firstMatching(session, s, q.key, q.candidates, by)
        if ('tried' in found) {
          if (single) {
            await def.beforeNoSeries?.(session, s, by)
            throw noSeries(q.metric, q.key, found.tried)
          }
          failures.push(noSeries(q.metric, q.key, found.tried).message)
          continue
        }
        matches[q.metric] = {matched: found.matched, query: found.query}
        for (const sample of found.samples) {
          const value = finiteOrNull(sample.value, found.factor)
          metrics.push({
            name: q.metric,
            subject: subjectOf(sample, by, ctx.target.name),
            value,
            evidence: {matched: found.matched, query: found.query, ...window, ...q.evidence, ...(def.per === 'service' && value === null ? {noTraffic: true} : {})},
          })
        }
      }
      if (single) return {data: {...window, groupBy: by, ...Object.values(matches)[0]}, metrics}
      return {data: {...window, groupBy: by, matches}, metrics, ...(failures.length ? {status: 'error' as const, reason: failures.join('; ')} : {})}
    },
  }
}
