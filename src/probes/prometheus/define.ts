/**
 * The shape every PromQL probe shares: it needs a server (rates over a window), tries the user's query or each
 * default candidate until one returns series, and turns each series into one metric whose subject is its grouping
 * labels and whose evidence names the convention that matched and the query that was sent.
 */
import type {Metric} from '../../core/types.js'
import type {Probe, ProbeContext, ProbeOutput} from '../../core/probe.js'
import type {PrometheusSession} from '../../drivers/prometheus.js'
import {countSteps, gaugeMeanQuery, lookbackEvidence, planLookback, promDuration, readStats, seriesKey, statsQuery} from './lookback.js'
import {finiteOrNull, firstMatching, noSeries, render, requireServer, settings, subjectOf, type Candidate, type PromSettings, type QueryName} from './queries.js'

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
  /**
   * Whether the queries take rates over {{window}} (the lookback); a gauge's (memory) value is its mean over the
   * lookback instead. Either way data and evidence record the lookback each value covers (lookback.ts).
   */
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
      const base = settings(ctx)
      const by = def.per === 'service' ? base.by : base.resourceBy
      const single = 'query' in def
      const queries = 'query' in def ? [def.query(ctx)] : def.queries(ctx)
      const metrics: Metric[] = []
      const failures: string[] = []
      const matches: Record<string, {matched: string; query: string; lookback: {seconds: number; basis: string; rangeSeconds: number; stepSeconds: number}}> = {}
      let window: string | undefined
      for (const q of queries) {
        const plan = planLookback(ctx, q.metric)
        // {{window}} is the lookback in the value's query, the short range in the held-level series.
        const s: PromSettings = {...base, window: promDuration(plan.seconds)}
        window ??= s.window
        const custom = s.queries[q.key]
        const found = await firstMatching(session, s, q.key, q.candidates, by)
        if ('tried' in found) {
          if (single) {
            await def.beforeNoSeries?.(session, s, by)
            throw noSeries(q.metric, q.key, found.tried)
          }
          failures.push(noSeries(q.metric, q.key, found.tried).message)
          continue
        }
        const candidate = (custom ? {query: custom} : q.candidates.find((c) => c.name === found.matched))!
        let current = false
        if (!windowed) {
          // A gauge's value is its mean through the lookback; a Prometheus younger than one step has only its current value.
          const meanQuery = gaugeMeanQuery(found.query, plan)
          const mean = await session.query(meanQuery)
          if (mean.length > 0) Object.assign(found, {query: meanQuery, samples: mean})
          else current = true
        }
        const held = statsQuery(render(candidate.query, {...s, window: promDuration(plan.rangeSeconds)}, by), plan)
        const read = current ? {error: 'no history yet'} : await readStats(session, held)
        // Not one step of the short-range series: Prometheus is younger than a step, or scrapes too seldom for the
        // range. The value's own query through the lookback tells the two apart (it needs only two scrapes in it).
        let wide: Map<string, number> | undefined
        if (windowed && 'stats' in read && ![...read.stats.values()].some((x) => x.count > 0)) {
          wide = await countSteps(session, found.query, plan)
        }
        matches[q.metric] = {matched: found.matched, query: found.query,
          lookback: {seconds: plan.seconds, basis: plan.basis, rangeSeconds: plan.rangeSeconds, stepSeconds: plan.stepSeconds}}
        for (const sample of found.samples) {
          const value = finiteOrNull(sample.value, found.factor)
          const stats = 'stats' in read ? read.stats.get(seriesKey(sample.labels)) : undefined
          const scaled = stats && {...stats, min: stats.min === null ? null : stats.min * found.factor, max: stats.max === null ? null : stats.max * found.factor}
          metrics.push({
            name: q.metric,
            subject: subjectOf(sample, by, ctx.target.name),
            value,
            evidence: {matched: found.matched, query: found.query, window: s.window, ...q.evidence,
              lookback: lookbackEvidence(plan, held, scaled, {statsError: 'error' in read ? read.error : undefined, current,
                wideSteps: wide ? wide.get(seriesKey(sample.labels)) ?? 0 : undefined}),
              ...(def.per === 'service' && value === null ? {noTraffic: true} : {})},
          })
        }
      }
      const common = {window: window ?? promDuration(planLookback(ctx, queries[0].metric).seconds), groupBy: by}
      if (single) return {data: {...common, ...Object.values(matches)[0]}, metrics}
      return {data: {...common, matches}, metrics, ...(failures.length ? {status: 'error' as const, reason: failures.join('; ')} : {})}
    },
  }
}
