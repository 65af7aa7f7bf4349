import {collectDefaultMetrics, Gauge, Histogram, Registry} from 'prom-client'
import type {Check} from './checks.js'
import type {Instrumentation} from './instrumentation.js'
import {shortText} from './units.js'
import type {WatchAudit} from './watch.js'

/** A check's status as chokepoint_check_status reports it: the worst over the rule's subjects on a target. */
const CHECK_STATUS_VALUE: Record<string, number | undefined> = {ok: 0, info: 0, warning: 1, critical: 2}

/** chokepoint_metric_value keeps this many subjects per rule and target, the worst first; the rest are counted. */
export const MAX_VALUE_SUBJECTS_PER_RULE = 10

/** A subject label is cut to this many characters (a missing index's subject lists columns and a predicate). */
const SUBJECT_LABEL_CHARS = 120

/**
 * Subjects named by something that lives for one session or one transaction (a pid, a prepared transaction's gid)
 * would start a new series each time one comes and goes: they are folded into one subject per kind, which carries
 * the worst value among them. Tables, indexes, queues, key patterns and statement fingerprints stay as named.
 */
const EPHEMERAL_SUBJECTS: Array<[RegExp, string]> = [
  [/^pid \d+$/, 'sessions'],
  [/^prepared transaction .*$/s, 'prepared transactions'],
]

export interface WatchMetricsOptions {
  /** Masks registered secrets in label values taken from what targets report (subjects). */
  scrub?: (text: string) => string
}

/**
 * The watch mode's Prometheus metrics (docs/watch.md lists them). Labels are target, group, rule, severity and
 * probe names, and on chokepoint_metric_value the breaching subjects: at most MAX_VALUE_SUBJECTS_PER_RULE per rule and
 * target, session-lived names folded (EPHEMERAL_SUBJECTS), so the number of series stays bounded by the config and
 * the rule set.
 */
export class WatchMetrics {
  readonly registry = new Registry()
  private readonly up = new Gauge({name: 'chokepoint_up', help: 'Whether the target was reached and read in the last audit (1) or is down (0).', labelNames: ['target', 'group'], registers: [this.registry]})
  private readonly findings = new Gauge({name: 'chokepoint_findings', help: 'Findings of the last audit, per target, rule and severity.', labelNames: ['target', 'group', 'rule', 'severity'], registers: [this.registry]})
  private readonly checkStatus = new Gauge({name: 'chokepoint_check_status', help: 'Worst status of a rule over its subjects on a target in the last audit: 0 ok, 1 warning, 2 critical.', labelNames: ['target', 'group', 'rule'], registers: [this.registry]})
  private readonly probeDuration = new Histogram({name: 'chokepoint_probe_duration_seconds', help: 'Time one probe took to collect, per target and probe.', labelNames: ['target', 'group', 'probe'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry]})
  private readonly auditDuration = new Histogram({name: 'chokepoint_audit_duration_seconds', help: 'Time one audit round took (collects, rules and advisors), not counting the interval.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [this.registry]})
  private readonly lastAudit = new Gauge({name: 'chokepoint_last_audit_timestamp_seconds', help: 'When the last audit round finished (Unix time).', registers: [this.registry]})
  private readonly metricValue = new Gauge({name: 'chokepoint_metric_value', help: `Value measured for a subject that breached a rule in the last audit (warning or critical), in the rule's unit; at most ${MAX_VALUE_SUBJECTS_PER_RULE} subjects per rule and target, the worst first.`,
    labelNames: ['target', 'group', 'rule', 'subject'], registers: [this.registry]})
  private readonly valueSubjectsOmitted = new Gauge({name: 'chokepoint_metric_value_omitted_subjects', help: `Breaching subjects of a rule and target beyond the ${MAX_VALUE_SUBJECTS_PER_RULE} chokepoint_metric_value shows.`,
    labelNames: ['target', 'group', 'rule'], registers: [this.registry]})
  private readonly scrub: (text: string) => string

  /** Each target's fleet group (config `group:`): a target with none has no group label. */
  private readonly groups = new Map<string, string>()

  constructor(options: WatchMetricsOptions = {}) {
    this.scrub = options.scrub ?? ((text) => text)
    collectDefaultMetrics({register: this.registry})
  }

  /** The targets' groups, set before the first round so its probe durations carry them too. */
  setGroups(targets: ReadonlyArray<{name: string; group?: string}>): void {
    this.groups.clear()
    for (const t of targets) if (t.group !== undefined) this.groups.set(t.name, t.group)
  }

  /** The labels of a target's series: its name, and its group when it has one. */
  private labels(target: string): {target: string; group?: string} {
    const group = this.groups.get(target)
    return group === undefined ? {target} : {target, group}
  }

  /** Probe durations, as the capture reports them. */
  instrumentation(): Instrumentation {
    return {probeEnd: (event) => this.probeDuration.observe({...this.labels(event.target), probe: event.probe}, event.durationMs / 1000)}
  }

  /** The gauges describe the last audit only: a finding that went away leaves no stale series behind. */
  record(audit: WatchAudit): void {
    const {report} = audit
    this.setGroups(report.targets ?? [])
    this.up.reset()
    for (const [target, isUp] of audit.up) this.up.set(this.labels(target), isUp ? 1 : 0)
    this.findings.reset()
    const counts = new Map<string, {target: string; rule: string; severity: string; count: number}>()
    for (const f of report.findings) {
      const key = `${f.target}\u0000${f.rule}\u0000${f.severity}`
      const entry = counts.get(key) ?? {target: f.target, rule: f.rule, severity: f.severity, count: 0}
      entry.count += 1
      counts.set(key, entry)
    }
    for (const {count, ...labels} of counts.values()) this.findings.set({...labels, ...this.labels(labels.target)}, count)
    this.checkStatus.reset()
    const worst = new Map<string, {target: string; rule: string; value: number}>()
    for (const check of report.checks ?? []) {
      const value = CHECK_STATUS_VALUE[check.status]
      if (value === undefined) continue
      const key = `${check.target}\u0000${check.rule}`
      const seen = worst.get(key)
      if (!seen || seen.value < value) worst.set(key, {target: check.target, rule: check.rule, value})
    }
    for (const {value, ...labels} of worst.values()) this.checkStatus.set({...labels, ...this.labels(labels.target)}, value)
    this.recordValues(report.checks ?? [])
    this.auditDuration.observe(audit.durationMs / 1000)
    this.lastAudit.set(audit.finishedAt / 1000)
  }

  /** The breaching checks' values, per rule and target: session-lived subjects folded, the worst first, capped. */
  private recordValues(checks: Check[]): void {
    this.metricValue.reset()
    this.valueSubjectsOmitted.reset()
    const byRule = new Map<string, {target: string; rule: string; subjects: Map<string, BreachingValue>}>()
    for (const check of checks) {
      if ((check.status !== 'warning' && check.status !== 'critical') || check.value === null || !Number.isFinite(check.value)) continue
      const key = `${check.target}\u0000${check.rule}`
      const entry = byRule.get(key) ?? {target: check.target, rule: check.rule, subjects: new Map()}
      byRule.set(key, entry)
      const subject = shortText(this.scrub(seriesSubject(check.subject)), SUBJECT_LABEL_CHARS)
      const candidate = {value: check.value, critical: check.status === 'critical', lowerIsWorse: lowerIsWorse(check)}
      const seen = entry.subjects.get(subject)
      if (!seen || worseFirst(candidate, seen) < 0) entry.subjects.set(subject, candidate)
    }
    for (const {target, rule, subjects} of byRule.values()) {
      const ranked = [...subjects].sort(([, a], [, b]) => worseFirst(a, b))
      for (const [subject, {value}] of ranked.slice(0, MAX_VALUE_SUBJECTS_PER_RULE)) this.metricValue.set({...this.labels(target), rule, subject}, value)
      this.valueSubjectsOmitted.set({...this.labels(target), rule}, Math.max(0, ranked.length - MAX_VALUE_SUBJECTS_PER_RULE))
    }
  }
}

interface BreachingValue {
  value: number
  critical: boolean
  lowerIsWorse: boolean
}

/** The subject as a series names it: session-lived identifiers folded into their kind. */
export function seriesSubject(subject: string): string {
  for (const [pattern, folded] of EPHEMERAL_SUBJECTS) if (pattern.test(subject)) return folded
  return subject
}

/**
 * Whether the rule breaches downwards (a hit ratio): its action threshold is a "<" ("< 90%"), or, without one, its
 * target band is a ">" (the band is where a value is ok).
 */
function lowerIsWorse(check: Check): boolean {
  const {action, target} = check.threshold
  if (action) return action.trim().startsWith('<')
  return (target ?? '').trim().startsWith('>')
}

/** Critical before warning, then the value further past the threshold's side first. */
function worseFirst(a: BreachingValue, b: BreachingValue): number {
  if (a.critical !== b.critical) return a.critical ? -1 : 1
  return a.lowerIsWorse ? a.value - b.value : b.value - a.value
}
