/**
 * What bench/watch-steady makes of its samples: the process metrics read from a watch process's own /metrics,
 * steady-state CPU from the counter's deltas, and whether memory grows (first against last third, and the slope of
 * a least-squares line). Kept apart from run.ts so that the arithmetic is tested without a ten-minute run.
 */

export interface Sample {
  /** Seconds since the watch process was started. */
  atSeconds: number
  rssBytes: number
  heapUsedBytes: number
  /** nodejs_external_memory_bytes: ArrayBuffers outside the JS heap, libpg-query's WebAssembly memory among them. */
  externalBytes: number
  cpuSeconds: number
  /** Audits finished so far (the count of chokepoint_audit_duration_seconds). */
  audits: number
  /** Targets with chokepoint_up 1. */
  targetsUp: number
}

/** The value of an unlabelled series (or the sum over a metric's series) in Prometheus text exposition format. */
export function metricValue(text: string, name: string): number | undefined {
  let total: number | undefined
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (!match || match[1] !== name) continue
    const value = Number(match[3])
    if (Number.isFinite(value)) total = (total ?? 0) + value
  }
  return total
}

/** A sample from one scrape; undefined when a process metric is missing (not a prom-client default registry). */
export function sampleFromMetrics(text: string, atSeconds: number): Sample | undefined {
  const rssBytes = metricValue(text, 'process_resident_memory_bytes')
  const heapUsedBytes = metricValue(text, 'nodejs_heap_size_used_bytes')
  const cpuSeconds = metricValue(text, 'process_cpu_seconds_total')
  if (rssBytes === undefined || heapUsedBytes === undefined || cpuSeconds === undefined) return undefined
  const externalBytes = metricValue(text, 'nodejs_external_memory_bytes') ?? 0
  return {atSeconds, rssBytes, heapUsedBytes, externalBytes, cpuSeconds, audits: metricValue(text, 'chokepoint_audit_duration_seconds_count') ?? 0, targetsUp: metricValue(text, 'chokepoint_up') ?? 0}
}

/** Least-squares slope of y over x; 0 with fewer than two distinct x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  let sxx = 0
  let sxy = 0
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2
    sxy += (x - mx) * (y - my)
  }
  return sxx === 0 ? 0 : sxy / sxx
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length
const MB = 1024 * 1024
const r = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

export interface MemorySeries {
  medianMB: number
  minMB: number
  maxMB: number
  firstThirdMeanMB: number
  lastThirdMeanMB: number
  /** (last third − first third) / first third. */
  lastOverFirstThird: number
  slopeMBPerMinute: number
  /** The fitted line's rise over the whole run, as a share of the median. */
  fittedRiseShare: number
}

export interface SteadyState {
  samples: number
  spanMinutes: number
  /** CPU seconds per wall second between the first and the last sample, in % of one core. */
  cpuPercentOfCore: number
  /** Same, per interval between samples: its median and maximum show whether a few audits dominate. */
  cpuPercentPerStep: {median: number; max: number}
  rss: MemorySeries
  heapUsed: MemorySeries
  external: MemorySeries
  /** True when both tests say so for RSS, the heap or external memory: the last third above the first by more than `growthTolerance` and the fitted line rising by more than that over the run. */
  memoryGrows: boolean
}

/** The share by which the last third may exceed the first before memory is said to grow (GC timing moves the heap by a few percent between samples). */
export const GROWTH_TOLERANCE = 0.05

function memorySeries(samples: Sample[], pick: (s: Sample) => number): MemorySeries {
  const values = samples.map(pick)
  const third = Math.max(1, Math.floor(samples.length / 3))
  const first = mean(values.slice(0, third))
  const last = mean(values.slice(-third))
  const perMinute = slope(samples.map((s) => [s.atSeconds / 60, pick(s)]))
  const spanMinutes = (samples.at(-1)!.atSeconds - samples[0].atSeconds) / 60
  const mid = median(values)
  return {
    medianMB: r(mid / MB), minMB: r(Math.min(...values) / MB), maxMB: r(Math.max(...values) / MB),
    firstThirdMeanMB: r(first / MB), lastThirdMeanMB: r(last / MB), lastOverFirstThird: r((last - first) / first, 4),
    slopeMBPerMinute: r(perMinute / MB, 4), fittedRiseShare: r((perMinute * spanMinutes) / mid, 4),
  }
}

const grows = (m: MemorySeries) => m.lastOverFirstThird > GROWTH_TOLERANCE && m.fittedRiseShare > GROWTH_TOLERANCE

/** Steady state over the samples given (the caller drops the warm-up); needs at least three. */
export function steadyState(samples: Sample[]): SteadyState {
  if (samples.length < 3) throw new Error(`steadyState: ${samples.length} samples, at least 3 needed (run longer or with a shorter --interval)`)
  const first = samples[0]
  const last = samples.at(-1)!
  const wall = last.atSeconds - first.atSeconds
  const steps = samples.slice(1).map((s, i) => (100 * (s.cpuSeconds - samples[i].cpuSeconds)) / (s.atSeconds - samples[i].atSeconds))
  const rss = memorySeries(samples, (s) => s.rssBytes)
  const heapUsed = memorySeries(samples, (s) => s.heapUsedBytes)
  const external = memorySeries(samples, (s) => s.externalBytes)
  return {
    samples: samples.length, spanMinutes: r(wall / 60), cpuPercentOfCore: r((100 * (last.cpuSeconds - first.cpuSeconds)) / wall, 3),
    cpuPercentPerStep: {median: r(median(steps), 3), max: r(Math.max(...steps), 3)}, rss, heapUsed, external, memoryGrows: grows(rss) || grows(heapUsed) || grows(external),
  }
}
