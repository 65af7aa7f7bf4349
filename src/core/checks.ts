/**
 * Every check in the report: each enabled rule, for each target it applies to and each subject measured, with its
 * value and status — not only the failures. JUnit and SARIF reporters list passing checks from here, and "why is
 * this rule silent?" has an answer (not evaluated: the probe was skipped, and why).
 */
import {conditionsHold} from './engine.js'
import type {EffectiveRule, RuleDefinition} from './rules.js'
import type {Finding, Reading, Snapshot, Threshold} from './types.js'

export type CheckStatus = 'ok' | 'warning' | 'critical' | 'info' | 'not-evaluated'

export interface Check {
  rule: string
  target: string
  /** What was measured (a table, a queue, a key pattern); the target's name for whole-target checks. */
  subject: string
  status: CheckStatus
  value: number | null
  threshold: Threshold
  /** The finding this check raised, when it is not ok. */
  finding?: string
  /** Why it was not evaluated (probe skipped or failed, no value), or why an ok check has no value. */
  reason?: string
  /** The history the value covers, for metrics read over a rule's lookback (Prometheus). */
  lookback?: CheckLookback
}

export interface CheckLookback {
  /** The lookback the value was read over, and how much of it the server had history for (null: not measured). */
  seconds: number
  coveredSeconds: number | null
  /** "over 5 min", "over the 40 s Prometheus has of the 5 min lookback". */
  over: string
  /** Set when the rule now asks for another lookback than the snapshot's value covers (a snapshot analysed later). */
  ruleSeconds?: number
}

/** The lookback recorded in a metric's evidence (lookback.seconds ...), compared with the one its rule asks for. */
export function checkLookback(rule: EffectiveRule, evidence: Record<string, unknown> | undefined): CheckLookback | undefined {
  const raw = evidence?.lookback as Record<string, unknown> | undefined
  if (!raw || typeof raw !== 'object' || typeof raw.seconds !== 'number') return undefined
  const covered = typeof raw.coveredSeconds === 'number' ? raw.coveredSeconds : null
  const over = typeof raw.over === 'string' ? raw.over : `over ${raw.seconds} s`
  const differs = rule.lookbackSeconds !== null && rule.lookbackSeconds !== raw.seconds
  return {seconds: raw.seconds, coveredSeconds: covered, over, ...(differs ? {ruleSeconds: rule.lookbackSeconds!} : {})}
}

/** Passing checks are capped per rule and target; failures never are. */
export const MAX_OK_CHECKS_PER_RULE = 20

export interface OmittedChecks {
  rule: string
  target: string
  /** Passing checks not listed beyond MAX_OK_CHECKS_PER_RULE. */
  ok: number
  /** Subjects outside the rule's scope (its `when` conditions) not listed beyond the same cap. */
  notApplicable?: number
}

export interface RuleInfo {
  id: string
  title: string
  area: string
  description: string
  docs: string
  source?: string
  kind: 'threshold' | 'advisor'
  metric?: string
  advisor?: string
  unit?: string
  thresholds: Threshold
  severity?: string
  /** A cause rule: which rules' findings its findings explain (src/core/diagnosis.ts). */
  explains?: Array<{rule: string; match: string}>
  /** The history the rule's value covers by default ("5m"), and whether its action threshold must hold through it. */
  lookback?: string
  sustained?: boolean
}

export function ruleInfo(rule: RuleDefinition): RuleInfo {
  return {
    id: rule.id,
    title: rule.title,
    area: rule.area,
    description: rule.description,
    docs: rule.docs,
    ...(rule.source ? {source: rule.source} : {}),
    kind: rule.evaluator === 'metric' ? 'threshold' : 'advisor',
    ...(rule.metric ? {metric: rule.metric} : {}),
    ...(rule.advisor ? {advisor: rule.advisor} : {}),
    ...(rule.unit ? {unit: rule.unit} : {}),
    thresholds: {target: rule.target, action: rule.action},
    ...(rule.severity ? {severity: rule.severity} : {}),
    ...(rule.explains?.length ? {explains: rule.explains} : {}),
    ...(rule.lookback ? {lookback: rule.lookback} : {}),
    ...(rule.sustained ? {sustained: true} : {}),
  }
}

export interface CheckScope {
  /** The metric names each probe of a target kind emits, and the advisors that run on a kind. */
  probeMetrics(kind: string): Record<string, string[]>
  advisorKinds(advisorId: string): string[] | 'stack'
}

/**
 * The checks of one audit. Threshold rules: one check per metric subject a reading measured; a rule whose probe did
 * not read gives one not-evaluated check saying why. Advisor rules: the findings they raised, or one ok check per
 * target they ran on.
 */
export function collectChecks(snapshot: Snapshot, findings: Finding[], rulesFor: (target: string) => EffectiveRule[], scope: CheckScope,
  advisorFailures: Array<{target: string; advisor: string; reason: string}> = []): {checks: Check[]; omitted: OmittedChecks[]} {
  const checks: Check[] = []
  const omitted: OmittedChecks[] = []
  const findingByKey = new Map(findings.map((f) => [`${f.rule}\u0000${f.target}\u0000${f.subject}`, f]))
  for (const target of snapshot.targets) {
    const rules = rulesFor(target.name).filter((r) => r.enabled)
    const readings = snapshot.readings.filter((r) => r.target === target.name)
    const probeMetrics = scope.probeMetrics(target.kind)
    for (const rule of rules) {
      const threshold = {target: rule.target, action: rule.action}
      const push = (c: Omit<Check, 'rule' | 'target' | 'threshold'>) => checks.push({rule: rule.id, target: target.name, threshold, ...c})
      if (rule.evaluator === 'metric') {
        const probes = Object.entries(probeMetrics).filter(([, metrics]) => metrics.includes(rule.metric!)).map(([probe]) => probe)
        if (probes.length === 0) continue
        if (target.status !== 'ok') {
          push({subject: target.name, status: 'not-evaluated', value: null, reason: `target not read: ${target.error ?? target.status}`})
          continue
        }
        const measured = readings.filter((r) => probes.includes(r.probe)).flatMap((r) => r.metrics.filter((m) => m.name === rule.metric))
        if (measured.length === 0) {
          const unread = notReadReason(readings, probes)
          // A probe that read and reported no subject found nothing to judge: e.g. no session idle in transaction.
          push(unread ? {subject: target.name, status: 'not-evaluated', value: null, reason: unread}
            : {subject: target.name, status: 'ok', value: null, reason: 'nothing to judge: the probe read and found no such subject'})
          continue
        }
        let ok = 0
        let notApplicable = 0
        for (const metric of measured) {
          const subject = metric.subject ?? target.name
          const finding = findingByKey.get(`${rule.id}\u0000${target.name}\u0000${subject}`)
          const lookback = checkLookback(rule, metric.evidence)
          const covers = lookback ? {lookback} : {}
          if (finding) {
            push({subject, status: finding.severity, value: metric.value, finding: finding.id, ...covers})
            continue
          }
          if (metric.value === null || Number.isNaN(metric.value)) {
            push({subject, status: 'not-evaluated', value: null, reason: 'no value measured', ...covers})
            continue
          }
          // A subject outside the rule's scope (e.g. a statement with fewer calls than the rule asks for) is not
          // a pass: it was not judged. Such checks are as many as passing ones, so they share the cap.
          const applies = conditionsHold(rule.whenCmp, metric.evidence)
          if (applies) {
            if (ok++ < MAX_OK_CHECKS_PER_RULE) push({subject, status: 'ok', value: metric.value, ...covers})
          } else if (notApplicable++ < MAX_OK_CHECKS_PER_RULE) {
            push({subject, status: 'not-evaluated', value: metric.value, reason: `outside the rule's scope: ${whenText(rule)} does not hold`})
          }
        }
        if (ok > MAX_OK_CHECKS_PER_RULE || notApplicable > MAX_OK_CHECKS_PER_RULE) {
          omitted.push({rule: rule.id, target: target.name, ok: Math.max(0, ok - MAX_OK_CHECKS_PER_RULE),
            ...(notApplicable > MAX_OK_CHECKS_PER_RULE ? {notApplicable: notApplicable - MAX_OK_CHECKS_PER_RULE} : {})})
        }
      } else {
        const kinds = scope.advisorKinds(rule.advisor ?? '')
        const raised = findings.filter((f) => f.rule === rule.id && f.target === target.name)
        if (raised.length > 0) {
          for (const f of raised) push({subject: f.subject, status: f.severity, value: f.value, finding: f.id})
          continue
        }
        if (kinds === 'stack' || !kinds.includes(target.kind)) continue
        const failure = advisorFailures.find((a) => a.target === target.name && a.advisor === rule.advisor)
        if (target.status !== 'ok') push({subject: target.name, status: 'not-evaluated', value: null, reason: `target not read: ${target.error ?? target.status}`})
        else if (failure) push({subject: target.name, status: 'not-evaluated', value: null, reason: `advisor failed: ${failure.reason}`})
        else push({subject: target.name, status: 'ok', value: null})
      }
    }
  }
  // Stack-wide advisor rules (pool chain, workers): one check for the stack, or the findings they raised.
  const stackRules = new Map<string, EffectiveRule>()
  for (const target of snapshot.targets) {
    for (const rule of rulesFor(target.name)) {
      if (rule.enabled && rule.evaluator === 'advisor' && scope.advisorKinds(rule.advisor ?? '') === 'stack') stackRules.set(rule.id, rule)
    }
  }
  // With no target read, a stack-wide advisor had nothing to reason over: that is no pass.
  const noneRead = snapshot.targets.length > 0 && snapshot.targets.every((t) => t.status !== 'ok')
  for (const rule of stackRules.values()) {
    if (findings.some((f) => f.rule === rule.id)) continue
    const failure = advisorFailures.find((a) => a.target === 'stack' && a.advisor === rule.advisor)
    checks.push({rule: rule.id, target: 'stack', subject: 'stack', threshold: {target: rule.target, action: rule.action},
      ...(failure ? {status: 'not-evaluated', value: null, reason: `advisor failed: ${failure.reason}`}
        : noneRead ? {status: 'not-evaluated', value: null, reason: 'no target was read'} : {status: 'ok', value: null})})
  }
  return {checks, omitted}
}

/** Why none of these probes' readings could judge the rule, or undefined when one of them read fine. */
function whenText(rule: EffectiveRule): string {
  return Object.entries(rule.when ?? {}).map(([field, cond]) => `${field} ${cond}`).join(' and ')
}

function notReadReason(readings: Reading[], probes: string[]): string | undefined {
  const read = readings.filter((r) => probes.includes(r.probe))
  if (read.length === 0) return `${probes.join(', ')} did not run (skipProbes)`
  if (read.some((r) => r.status === 'ok')) return undefined
  const failed = read[0]
  return `${failed.probe} ${failed.status === 'skipped' ? 'skipped' : 'failed'}: ${failed.reason ?? 'no reason recorded'}`
}
