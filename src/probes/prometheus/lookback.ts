/**
 * The history a Prometheus-backed value covers. The rules say how long ("lookback: 5m", "sustained: true"); the
 * server keeps the history, so a value is read over it rather than over the audit's sampling window:
 *
 * - the value: the rate (or quantile, or ratio) over the whole lookback, `rate(x[5m])`; for a gauge, its mean over
 *   the lookback, `avg_over_time((g)[5m:30s])`;
 * - the level held: the same expression over a short range (a fifth of the lookback: `rate(x[1m])`) evaluated every
 *   half range through the lookback, as a subquery; its minimum and maximum say whether a level held throughout
 *   (an action threshold "> 80% sustained" holds only if the minimum is above 80%), and the number of steps that
 *   had a value says how much of the lookback Prometheus has history for.
 *
 * min, max and count come back from one query, told apart by a `chokepoint_stat` label.
 */
import {ConnectionLost, DeadlineExceeded, type ProbeContext} from '../../core/probe.js'
import {parseDurationSeconds, formatValue} from '../../core/units.js'
import type {PrometheusSession, PromSample} from '../../drivers/prometheus.js'

export const DEFAULT_LOOKBACK_SECONDS = 300

export interface LookbackPlan {
  seconds: number
  /** Where the lookback came from: the user's rule setting, the target's options.window, the rule file, or the default. */
  basis: 'rule setting' | 'options.window' | 'rule default' | 'default'
  /** Some rule wants the level held through the lookback (see engine.ts heldLevel). */
  sustained: boolean
  rules: string[]
  /** The short range and the subquery step (seconds). */
  rangeSeconds: number
  stepSeconds: number
}

/** A PromQL duration of whole seconds (PromQL 2.x takes no fractions), in minutes or hours when it is whole ones. */
export function promDuration(seconds: number): string {
  const s = Math.max(1, Math.round(seconds))
  if (s % 3600 === 0) return `${s / 3600}h`
  return s % 60 === 0 ? `${s / 60}m` : `${s}s`
}

function durationOption(ctx: ProbeContext, key: string): number | undefined {
  const raw = ctx.options[key]
  if (raw === undefined || raw === null || raw === '') return undefined
  const seconds = parseDurationSeconds(String(raw))
  if (seconds === null || seconds < 1) throw new Error(`options.prometheus.${key}: expected a duration of at least 1s such as "5m", got ${JSON.stringify(String(raw).slice(0, 40))}`)
  return seconds
}

/**
 * The lookback of one metric: a lookback the user set for its rule, else the target's `window` option (which
 * predates per-rule lookbacks), else the rule file's, else 5 minutes.
 */
export function planLookback(ctx: ProbeContext, metric: string): LookbackPlan {
  const asked = ctx.lookbacks?.[metric]
  const window = durationOption(ctx, 'window')
  const [seconds, basis]: [number, LookbackPlan['basis']] = asked?.configured ? [asked.seconds, 'rule setting']
    : window !== undefined ? [window, 'options.window']
      : asked ? [asked.seconds, 'rule default'] : [DEFAULT_LOOKBACK_SECONDS, 'default']
  const range = Math.min(seconds, durationOption(ctx, 'sustainRange') ?? Math.max(2, Math.round(seconds / 5)))
  return {seconds, basis, sustained: asked?.sustained ?? false, rules: asked?.rules ?? [], rangeSeconds: range, stepSeconds: Math.max(1, Math.round(range / 2))}
}

/** The subquery that gives the lowest, highest and number of values of `expr` through the lookback. */
export function statsQuery(expr: string, plan: LookbackPlan): string {
  const sub = `(${expr})[${promDuration(plan.seconds)}:${promDuration(plan.stepSeconds)}]`
  return ['min', 'max', 'count']
    .map((stat) => `label_replace(${stat}_over_time(${sub}), "chokepoint_stat", "${stat}", "", "")`)
    .join(' or ')
}

/** A gauge's value over the lookback: its mean through it. */
export function gaugeMeanQuery(expr: string, plan: LookbackPlan): string {
  return `avg_over_time((${expr})[${promDuration(plan.seconds)}:${promDuration(plan.stepSeconds)}])`
}

export function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'chokepoint_stat' && k !== '__name__').sort(([a], [b]) => a.localeCompare(b)))
}

export interface SeriesStats {
  min: number | null
  max: number | null
  count: number
}

/** Reads the stats query; a query Prometheus refuses (a custom query a subquery cannot wrap) gives `error`. */
export async function readStats(session: PrometheusSession, query: string): Promise<{stats: Map<string, SeriesStats>} | {error: string}> {
  let samples: PromSample[]
  try {
    samples = await session.query(query)
  } catch (error) {
    if (error instanceof DeadlineExceeded || error instanceof ConnectionLost) throw error
    return {error: (error as Error).message}
  }
  const stats = new Map<string, SeriesStats>()
  for (const sample of samples) {
    const key = seriesKey(sample.labels)
    const entry = stats.get(key) ?? {min: null, max: null, count: 0}
    const v = Number.isFinite(sample.value) ? sample.value : null
    const stat = sample.labels.chokepoint_stat
    if (stat === 'min') entry.min = v
    else if (stat === 'max') entry.max = v
    else if (stat === 'count') entry.count = v ?? 0
    stats.set(key, entry)
  }
  return {stats}
}

/** Steps of `expr` through the lookback per series (the value's own query: it needs only two scrapes in the lookback). */
export async function countSteps(session: PrometheusSession, expr: string, plan: LookbackPlan): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  try {
    for (const s of await session.query(`count_over_time((${expr})[${promDuration(plan.seconds)}:${promDuration(plan.stepSeconds)}])`)) {
      out.set(seriesKey(s.labels), Number.isFinite(s.value) ? s.value : 0)
    }
  } catch (error) {
    if (error instanceof DeadlineExceeded || error instanceof ConnectionLost) throw error
  }
  return out
}

export interface LookbackEvidence {
  /** The lookback asked for, in seconds and as read ("5 min"). */
  seconds: number
  text: string
  basis: LookbackPlan['basis']
  /** How much of it Prometheus had history for (seconds); null when that could not be measured. */
  coveredSeconds: number | null
  /** Prometheus has less history than the lookback: the value covers only coveredSeconds. */
  partial: boolean
  /** What the value covers, for messages: "over 5 min", "over the 40 s Prometheus has of the 5 min lookback". */
  over: string
  /** The lowest and highest level of the short-range series through the lookback (the level held). */
  min: number | null
  max: number | null
  sustained: boolean
  rangeSeconds: number
  stepSeconds: number
  rules: string[]
  /** The subquery behind min, max and coveredSeconds. */
  query: string
  /** Why min, max and coveredSeconds are missing. */
  note?: string
}

/**
 * The evidence of one series. Coverage is the number of steps with a value times the step, at most the lookback;
 * a lookback short of more than one step is partial (one step is the edge of the series' first rate).
 */
export interface EvidenceOptions {
  /** Why the stats query failed. */
  statsError?: string
  /** A gauge read as it is now: Prometheus has no step of its history yet. */
  current?: boolean
  /** When the short-range series had no step: the steps of the value's own query through the lookback. */
  wideSteps?: number
}

export function lookbackEvidence(plan: LookbackPlan, query: string, stats: SeriesStats | undefined, {statsError, current, wideSteps}: EvidenceOptions = {}): LookbackEvidence {
  const text = formatValue(plan.seconds, 'seconds')
  const base = {seconds: plan.seconds, text, basis: plan.basis, sustained: plan.sustained, rangeSeconds: plan.rangeSeconds, stepSeconds: plan.stepSeconds, rules: plan.rules, query}
  if (current) {
    return {...base, coveredSeconds: 0, partial: true, over: `now (Prometheus has less than a ${formatValue(plan.stepSeconds, 'seconds')} step of the ${text} lookback)`,
      min: null, max: null, note: 'the gauge\'s current value: Prometheus has no step of its history in the lookback yet'}
  }
  const step = formatValue(plan.stepSeconds, 'seconds')
  const coverage = (steps: number) => {
    const covered = Math.min(plan.seconds, steps * plan.stepSeconds)
    const partial = covered < plan.seconds - plan.stepSeconds
    return {coveredSeconds: covered, partial, over: partial ? `over the ${formatValue(covered, 'seconds')} Prometheus has of the ${text} lookback` : `over ${text}`}
  }
  if (stats && stats.count > 0) return {...base, ...coverage(stats.count), min: stats.min, max: stats.max}
  if (statsError) {
    return {...base, coveredSeconds: null, partial: false, over: `over ${text} (history not measured)`, min: null, max: null,
      note: `the level held and the history covered could not be read: ${statsError}`}
  }
  if (wideSteps !== undefined && wideSteps > 0) {
    return {...base, ...coverage(wideSteps), min: null, max: null,
      note: `the ${promDuration(plan.rangeSeconds)} range of the level held spans fewer than two scrapes: set options.prometheus.sustainRange to at least twice the scrape interval`}
  }
  return {...base, coveredSeconds: null, partial: true, over: `over less than ${step}: all Prometheus has of the ${text} lookback`, min: null, max: null,
    note: `Prometheus has less than one ${step} step of this series' history in the lookback`}
}
