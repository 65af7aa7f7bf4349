/**
 * One vocabulary for every queue system. Each framework probe reads its own layout into QueueState records;
 * this module turns a baseline and a current read into the metrics rules select (queue.depth,
 * queue.latency_seconds, queue.consumers, queue.dead_letter.growth, queue.growth_rate ...) and the
 * QueueSummary records the workers advisor reads back from a snapshot.
 */
import {round} from '../../core/numbers.js'
import {formatValue} from '../../core/units.js'
import type {Metric} from '../../core/types.js'

export type QueueSystem = 'bullmq' | 'sidekiq' | 'celery' | 'rabbitmq' | 'nats'

export interface FailureSample {
  id: string
  reason: string
  /** ISO time of the failure, when the framework records it. */
  at?: string
}

/** What one read of one queue found, in the framework's own terms already mapped onto shared fields. */
export interface QueueState {
  system: QueueSystem
  name: string
  /** Items waiting to be picked up now (ready): not scheduled for later, not in flight. */
  depth: number
  /** Items scheduled for later (BullMQ delayed, Sidekiq schedule): known, but not part of depth. */
  delayed?: number
  /** Seconds since the oldest waiting item was enqueued; null when the layout does not record it. */
  oldestAgeSeconds: number | null
  /** Why the age is null (so reports say "unknown" instead of inventing a number). */
  ageNote?: string
  /** Attached consumers/workers; null when the system does not make them visible. */
  consumers: number | null
  consumersNote?: string
  /** Taken by a consumer but not yet finished or acknowledged. */
  inFlight: number | null
  /** Failed or dead-lettered items currently kept. */
  failed: number | null
  paused?: boolean
  /**
   * Cumulative counters, differenced over --window: arrivals (BullMQ id counter, RabbitMQ publish count,
   * JetStream last_seq), departures (acks/completions) where the system counts them.
   */
  counters: {arrivals?: number; departures?: number}
  /** Per-second rates the system computes itself (RabbitMQ management), used when there is no window. */
  reportedRates?: {arrival?: number; service?: number}
  /**
   * Failures recorded in the last `recentFailureSeconds` by their own timestamps (BullMQ failed, Sidekiq dead and
   * retry): the queue's own recent history, which a short sampling window cannot see.
   */
  recentFailures?: number
  recentFailureSeconds?: number
  /** True when the count stopped at a read limit: at least that many. */
  recentFailuresLowerBound?: boolean
  failureSamples?: FailureSample[]
  /** A command a person can run to look at the failures. */
  inspectCommand?: string
  /** Readings this system could not give here, and why (e.g. "rates need the management plugin"). */
  notes?: string[]
  /** Framework-specific facts worth keeping (keys, retention, dead-letter exchange ...). */
  details?: Record<string, unknown>
  /**
   * A record for figures the framework keeps for all its queues together (Sidekiq retry/dead, Celery unacked)
   * when they cannot be attributed to one queue: it yields failure and in-flight metrics, never depth.
   */
  aggregate?: boolean
}

/** What a snapshot keeps per queue: the state plus what the window made of it. */
export interface QueueSummary extends Omit<QueueState, 'counters' | 'reportedRates'> {
  subject: string
  windowSeconds: number
  /** Items per second entering the queue; null when no counter or reported rate exists. */
  arrivalRate: number | null
  /** Items per second leaving it (completed, acked, or failed). */
  serviceRate: number | null
  /** Change in depth over the window (items); null without a window. */
  netGrowth: number | null
  netGrowthRate: number | null
  /**
   * Failures to judge: those dated within the lookback by their own timestamps where the framework records them
   * (or the window's growth of the failed count when that is larger), else the growth of the failed/dead count
   * over the window.
   */
  deadLetterGrowth: number | null
  deadLetterBasis?: 'window' | 'timestamps'
  /** Recent failures per second over the lookback (timestamps), or the failed count's growth per second over the window. */
  failureRate: number | null
  /** depth / (service - arrival) when the queue drains; null otherwise (see `draining`). */
  drainEtaSeconds: number | null
  draining: boolean | null
  rateSource?: 'window' | 'reported' | 'net-growth'
}

/** The `data` of every queue probe reading; the workers advisor finds queue readings by `kind`. */
export interface QueueReadingData {
  kind: 'queues'
  system: QueueSystem
  queues: QueueSummary[]
  /** Queues found beyond the cap, not read. */
  truncated?: number
  notes?: string[]
}

export function isQueueReadingData(data: unknown): data is QueueReadingData {
  return !!data && typeof data === 'object' && (data as {kind?: unknown}).kind === 'queues' && Array.isArray((data as {queues?: unknown}).queues)
}

export function queueSubject(system: QueueSystem, name: string): string {
  return `${system}:${name}`
}

function delta(now: number | undefined, before: number | undefined): number | undefined {
  if (now === undefined || before === undefined) return undefined
  const d = now - before
  // A counter that went backwards was reset (queue obliterated, broker restarted): no rate from it.
  return d >= 0 ? d : undefined
}

/** Items that are still the queue's business: waiting, in flight and scheduled. */
function backlog(s: QueueState): number {
  return s.depth + (s.inFlight ?? 0) + (s.delayed ?? 0)
}

/**
 * Combines a current read with the baseline read of the same queue. Arrival and service rates come from
 * cumulative counters over the window when they exist; departures without their own counter follow from
 * conservation (arrivals − growth of the backlog); without a window the system's own rates are used.
 */
export function summariseQueue(now: QueueState, before: QueueState | undefined, windowSeconds: number): QueueSummary {
  const {counters, reportedRates, ...rest} = now
  const w = before && windowSeconds > 0 ? windowSeconds : 0
  let arrivalRate: number | null = null
  let serviceRate: number | null = null
  let rateSource: QueueSummary['rateSource']
  let netGrowth: number | null = null
  let deadLetterGrowth: number | null = null
  let deadLetterBasis: QueueSummary['deadLetterBasis']
  if (w > 0 && before) {
    netGrowth = now.depth - before.depth
    let arrivals = delta(counters.arrivals, before.counters.arrivals)
    let departures = delta(counters.departures, before.counters.departures)
    const backlogGrowth = backlog(now) - backlog(before)
    if (departures === undefined && arrivals !== undefined) departures = Math.max(0, arrivals - backlogGrowth)
    // Sidekiq counts what it processed but not what was enqueued: arrivals follow the other way round.
    if (arrivals === undefined && departures !== undefined) arrivals = Math.max(0, departures + backlogGrowth)
    if (arrivals !== undefined) arrivalRate = arrivals / w
    if (departures !== undefined) serviceRate = departures / w
    if (arrivalRate !== null || serviceRate !== null) rateSource = 'window'
    if (now.failed !== null && before.failed !== null) {
      deadLetterGrowth = Math.max(0, now.failed - before.failed)
      deadLetterBasis = 'window'
    }
  }
  if (arrivalRate === null && serviceRate === null && reportedRates) {
    arrivalRate = reportedRates.arrival ?? null
    serviceRate = reportedRates.service ?? null
    if (arrivalRate !== null || serviceRate !== null) rateSource = 'reported'
  }
  let failureRate: number | null = deadLetterGrowth !== null && w > 0 ? deadLetterGrowth / w : null
  // The queue's own history, dated by the framework, covers the window and the minutes before it: a burst of
  // failures a minute before a 5 s window is still growth. The window's count wins only when it saw more (a
  // window longer than the lookback, or a failed set trimmed as it grows).
  if (now.recentFailures !== undefined && (deadLetterGrowth === null || now.recentFailures >= deadLetterGrowth)) {
    deadLetterGrowth = now.recentFailures
    deadLetterBasis = 'timestamps'
    failureRate = now.recentFailureSeconds ? now.recentFailures / now.recentFailureSeconds : null
  }
  const netGrowthRate = netGrowth !== null && w > 0 ? netGrowth / w : null
  let drainEtaSeconds: number | null = null
  let draining: boolean | null = null
  if (arrivalRate !== null && serviceRate !== null) {
    const net = serviceRate - arrivalRate
    draining = net > 0 || now.depth === 0
    drainEtaSeconds = now.depth === 0 ? 0 : net > 0 ? now.depth / net : null
  } else if (netGrowthRate !== null) {
    // No rates, only depth twice: a shrinking queue drains at the observed pace.
    rateSource = 'net-growth'
    draining = netGrowthRate < 0 || now.depth === 0
    drainEtaSeconds = now.depth === 0 ? 0 : netGrowthRate < 0 ? now.depth / -netGrowthRate : null
  }
  return {
    ...rest,
    subject: queueSubject(now.system, now.name),
    windowSeconds: w,
    arrivalRate: arrivalRate === null ? null : round(arrivalRate),
    serviceRate: serviceRate === null ? null : round(serviceRate),
    netGrowth,
    netGrowthRate: netGrowthRate === null ? null : round(netGrowthRate),
    deadLetterGrowth,
    deadLetterBasis,
    failureRate: failureRate === null ? null : round(failureRate, 6),
    drainEtaSeconds: drainEtaSeconds === null ? null : round(drainEtaSeconds, 1),
    draining,
    rateSource,
  }
}

/** The metrics of one queue; every metric carries the evidence a person needs to judge it. */
export function queueMetrics(q: QueueSummary): Metric[] {
  const common = {
    system: q.system,
    queue: q.name,
    depth: q.depth,
    delayed: q.delayed ?? null,
    inFlight: q.inFlight,
    consumers: q.consumers,
    failed: q.failed,
    paused: q.paused ?? false,
    oldestAgeSeconds: q.oldestAgeSeconds,
    arrivalRate: q.arrivalRate,
    serviceRate: q.serviceRate,
    drainEtaSeconds: q.drainEtaSeconds,
    drainEta: q.draining === null ? 'unknown (no window)' : q.draining ? `${q.drainEtaSeconds ?? 0} s` : 'not draining',
    windowSeconds: q.windowSeconds,
  }
  const failureEvidence = {
    ...common,
    basis: q.deadLetterBasis === 'timestamps'
      ? `${q.recentFailuresLowerBound ? 'at least, ' : ''}dated in the last ${formatValue(q.recentFailureSeconds ?? 900, 'seconds')} by the queue's own timestamps`
      : `growth over a ${q.windowSeconds} s window`,
    lookbackSeconds: q.deadLetterBasis === 'timestamps' ? q.recentFailureSeconds ?? null : null,
    failureRate: q.failureRate,
    failuresPerMinute: q.failureRate === null ? null : round(q.failureRate * 60, 2),
    failureSamples: q.failureSamples ?? [],
    failureReasons: (q.failureSamples ?? []).map((s) => s.reason).join(' | ') || 'none sampled',
    inspectCommand: q.inspectCommand ?? null,
  }
  if (q.aggregate) {
    return [
      {name: 'queue.in_flight', value: q.inFlight, subject: q.subject, evidence: common},
      {name: 'queue.failed', value: q.failed, subject: q.subject, evidence: failureEvidence},
      {name: 'queue.dead_letter.growth', value: q.deadLetterGrowth, subject: q.subject, evidence: failureEvidence},
    ]
  }
  const metrics: Metric[] = [
    {name: 'queue.depth', value: q.depth, subject: q.subject, evidence: common},
    {
      name: 'queue.latency_seconds',
      value: q.oldestAgeSeconds === null ? null : round(q.oldestAgeSeconds, 1),
      subject: q.subject,
      evidence: {...common, ageNote: q.ageNote ?? null},
    },
    {
      name: 'queue.consumers',
      value: q.consumers,
      subject: q.subject,
      evidence: {...common, consumersNote: q.consumersNote ?? null},
    },
    {name: 'queue.in_flight', value: q.inFlight, subject: q.subject, evidence: common},
    {name: 'queue.failed', value: q.failed, subject: q.subject, evidence: failureEvidence},
    {name: 'queue.dead_letter.growth', value: q.deadLetterGrowth, subject: q.subject, evidence: failureEvidence},
    {
      name: 'queue.growth_rate',
      value: q.netGrowthRate,
      subject: q.subject,
      evidence: {...common, netGrowth: q.netGrowth, draining: q.draining},
    },
  ]
  return metrics
}

/**
 * Pairs the current states with the baseline by system and name, summarises each and builds the reading.
 * Queues that appeared during the window have no baseline and get no rates.
 */
export function normaliseQueues(
  system: QueueSystem,
  current: QueueState[],
  baseline: QueueState[] | undefined,
  windowSeconds: number,
  extra: {truncated?: number; notes?: string[]} = {},
): {data: QueueReadingData; metrics: Metric[]} {
  const before = new Map((baseline ?? []).map((s) => [queueSubject(s.system, s.name), s]))
  const queues = current.map((s) => summariseQueue(s, before.get(queueSubject(s.system, s.name)), windowSeconds))
  const data: QueueReadingData = {kind: 'queues', system, queues}
  if (extra.truncated) data.truncated = extra.truncated
  if (extra.notes?.length) data.notes = extra.notes
  return {data, metrics: queues.flatMap(queueMetrics)}
}

/** Epoch timestamps in seconds (float, older Sidekiq/Celery) or milliseconds (BullMQ, Sidekiq 8), told apart by magnitude. */
export function epochToMs(value: number): number {
  // 1e11 ms is 1973; 1e11 s is the year 5138: anything above is milliseconds.
  return value > 1e11 ? value : value * 1000
}

export function ageSeconds(enqueuedAtMs: number, nowMs = Date.now()): number {
  return Math.max(0, (nowMs - enqueuedAtMs) / 1000)
}
