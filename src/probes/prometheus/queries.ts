import {ProbeSkip} from '../../core/errors.js'
import type {ProbeContext} from '../../core/probe.js'
import type {PrometheusSession, PromSample} from '../../drivers/prometheus.js'

/**
 * The names of the configurable queries (target option `queries`, config `options.prometheus.queries`).
 * A custom query must return the canonical unit: seconds for latency, a 0..1 ratio for the others.
 * `{{window}}` is replaced by the range window and `{{by}}` by the grouping labels.
 */
export type QueryName = 'latencyP95' | 'latencyP99' | 'errorRate' | 'cpu' | 'memory'
  | 'poolActive' | 'poolTotal' | 'poolIdle' | 'poolWaiting' | 'poolMax'

export interface Candidate {
  /** Which instrumentation this query fits; recorded in evidence as `matched`. */
  name: string
  query: string
  /** Multiplies the result into the canonical unit (OTel's older histograms are in milliseconds). */
  factor?: number
}

export interface PromSettings {
  window: string
  /** Labels the HTTP metrics are grouped by: each value is a subject. */
  by: string
  /** Labels the resource metrics (CPU, memory) are grouped by: per instance by default. */
  resourceBy: string
  queries: Partial<Record<QueryName, string>>
}

function stringOption(options: Record<string, unknown>, key: string): string | undefined {
  const v = options[key]
  return typeof v === 'string' && v.trim() ? v.trim() : undefined
}

export function settings(ctx: ProbeContext): PromSettings {
  const queries = (ctx.options.queries && typeof ctx.options.queries === 'object' ? ctx.options.queries : {}) as PromSettings['queries']
  return {
    window: stringOption(ctx.options, 'window') ?? '5m',
    by: stringOption(ctx.options, 'groupBy') ?? 'job',
    resourceBy: stringOption(ctx.options, 'resourceGroupBy') ?? 'job, instance',
    queries,
  }
}

export function render(template: string, s: PromSettings, by = s.by): string {
  return template.replace(/\{\{\s*window\s*\}\}/g, s.window).replace(/\{\{\s*by\s*\}\}/g, by)
}

/** The subject of a series: the values of the grouping labels, joined by "/". */
export function subjectOf(sample: PromSample, by: string, fallback: string): string {
  const parts = by.split(',').map((l) => l.trim()).filter(Boolean).map((l) => sample.labels[l]).filter((v) => v !== undefined && v !== '')
  return parts.length > 0 ? parts.join('/') : fallback
}

export interface Matched {
  matched: string
  query: string
  factor: number
  samples: PromSample[]
}

/**
 * The user's query if configured, else each default candidate in order until one returns series.
 * Returns undefined when nothing matched; `tried` lists what was asked, for the reason.
 */
export async function firstMatching(session: PrometheusSession, s: PromSettings, key: QueryName, candidates: Candidate[], by = s.by): Promise<Matched | {tried: string[]}> {
  const custom = s.queries[key]
  const list: Candidate[] = custom ? [{name: `options.queries.${key}`, query: custom}] : candidates
  for (const candidate of list) {
    const query = render(candidate.query, s, by)
    const samples = await session.query(query)
    if (samples.length > 0) return {matched: candidate.name, query, factor: candidate.factor ?? 1, samples}
  }
  return {tried: list.map((c) => c.name)}
}

/** The error that makes a reading 'error' (audit incomplete) when a metric the rules need has no series. */
export function noSeries(metric: string, key: QueryName, tried: string[]): Error {
  return new Error(`query for ${metric} returned no series (tried ${tried.join('; ')}): set options.prometheus.queries.${key}`)
}

/** PromQL needs a server: a bare /metrics endpoint has no history to take rates over. */
export function requireServer(session: PrometheusSession, metric: string): void {
  if (session.mode !== 'server') {
    throw new ProbeSkip(`${metric} needs rates over a window: point the target at a Prometheus server, not a /metrics endpoint`)
  }
}

/** A finite number, or null for NaN (no traffic in the window: 0/0) and infinities. */
export function finiteOrNull(value: number, factor = 1): number | null {
  return Number.isFinite(value) ? value * factor : null
}

// ---------------------------------------------------------------------------------------------------------
// Default candidates. Order matters: the first that returns series wins.

/** Request-duration histograms: prom-client's convention, OTel's stable semconv (seconds), OTel's older one (ms). */
export const LATENCY_HISTOGRAMS: Array<{name: string; bucket: string; factor: number}> = [
  {name: 'prom-client http_request_duration_seconds', bucket: 'http_request_duration_seconds_bucket', factor: 1},
  {name: 'OpenTelemetry http_server_request_duration_seconds', bucket: 'http_server_request_duration_seconds_bucket', factor: 1},
  // @opentelemetry/exporter-prometheus (JS, 0.2xx) writes no unit suffix; the unit of the stable semconv is still seconds.
  {name: 'OpenTelemetry (JS exporter, no unit suffix) http_server_request_duration', bucket: 'http_server_request_duration_bucket', factor: 1},
  // The older OTel semantic conventions (http.server.duration) measure milliseconds.
  {name: 'OpenTelemetry (pre-1.23 semconv) http_server_duration_milliseconds', bucket: 'http_server_duration_milliseconds_bucket', factor: 0.001},
  {name: 'OpenTelemetry (pre-1.23 semconv, no unit suffix) http_server_duration', bucket: 'http_server_duration_bucket', factor: 0.001},
]

export function latencyCandidates(quantile: number): Candidate[] {
  return LATENCY_HISTOGRAMS.map((h) => ({
    name: h.name,
    query: `histogram_quantile(${quantile}, sum by (le, {{by}}) (rate(${h.bucket}[{{window}}])))`,
    factor: h.factor,
  }))
}

/** Request counters and the label that carries the HTTP status in each convention. */
export const STATUS_COUNTERS: Array<{name: string; counter: string; label: string}> = [
  {name: 'prom-client http_request_duration_seconds_count{status_code}', counter: 'http_request_duration_seconds_count', label: 'status_code'},
  {name: 'prom-client http_request_duration_seconds_count{code}', counter: 'http_request_duration_seconds_count', label: 'code'},
  {name: 'http_requests_total{code}', counter: 'http_requests_total', label: 'code'},
  {name: 'http_requests_total{status_code}', counter: 'http_requests_total', label: 'status_code'},
  {name: 'http_requests_total{status}', counter: 'http_requests_total', label: 'status'},
  {name: 'OpenTelemetry http_server_request_duration_seconds_count{http_response_status_code}', counter: 'http_server_request_duration_seconds_count', label: 'http_response_status_code'},
  {name: 'OpenTelemetry (JS exporter) http_server_request_duration_count{http_response_status_code}', counter: 'http_server_request_duration_count', label: 'http_response_status_code'},
  {name: 'OpenTelemetry (pre-1.23) http_server_duration_milliseconds_count{http_status_code}', counter: 'http_server_duration_milliseconds_count', label: 'http_status_code'},
  {name: 'OpenTelemetry (pre-1.23) http_server_duration_count{http_status_code}', counter: 'http_server_duration_count', label: 'http_status_code'},
]

/**
 * 5xx share of requests. The denominator selects only series that carry the status label, so a counter with a
 * different label convention returns nothing (and the next candidate is tried) instead of a silent 0.
 * `or ... * 0` gives a group with no 5xx series at all an explicit 0 instead of no result.
 */
export function errorRateCandidates(): Candidate[] {
  return STATUS_COUNTERS.map((c) => {
    const all = `sum by ({{by}}) (rate(${c.counter}{${c.label}!=""}[{{window}}]))`
    return {
      name: c.name,
      query: `(sum by ({{by}}) (rate(${c.counter}{${c.label}=~"5.."}[{{window}}])) or ${all} * 0) / ${all}`,
    }
  })
}
