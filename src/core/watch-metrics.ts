import {collectDefaultMetrics, Gauge, Histogram, Registry} from 'prom-client'
import type {Instrumentation} from './instrumentation.js'
import type {WatchAudit} from './watch.js'

/** A check's status as chokepoint_check_status reports it: the worst over the rule's subjects on a target. */
const CHECK_STATUS_VALUE: Record<string, number | undefined> = {ok: 0, info: 0, warning: 1, critical: 2}

/**
 * The watch mode's Prometheus metrics (docs/watch.md lists them). Labels are target, rule, severity and probe
 * names only, never subjects, pids or key names: their cardinality is bounded by the config and the rule set.
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

  /** Each target's fleet group (config `group:`): a target with none has no group label. */
  private readonly groups = new Map<string, string>()

  constructor() {
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
    this.auditDuration.observe(audit.durationMs / 1000)
    this.lastAudit.set(audit.finishedAt / 1000)
  }
}
