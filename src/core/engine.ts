import {createHash} from 'node:crypto'
import type {AdvisorFinding} from './advisor.js'
import {lookupPath} from './lookup.js'
import type {EffectiveRule, RemedyTemplate} from './rules.js'
import {renderStructured, renderTemplate, type TemplateScope} from './template.js'
import {compare, parseComparison} from './threshold.js'
import {formatValue} from './units.js'
import type {ApplierWhere} from './registry.js'
import {finishRemedy, type ProposedRemedy, type Remedy, type RemedyKind} from './remedies.js'
import type {Finding, Metric, Severity, Snapshot} from './types.js'

export function findingId(rule: string, target: string, subject: string): string {
  return createHash('sha256').update(`${rule}\u0000${target}\u0000${subject}`).digest('hex').slice(0, 16)
}

/** Whether every `when` condition holds on the metric's evidence (a missing or non-numeric field fails it). */
export function conditionsHold(conds: EffectiveRule['whenCmp'], evidence: Record<string, unknown> | undefined): boolean {
  return conds.every(({path, cmp}) => {
    const raw = lookupPath(evidence, path)
    const value = typeof raw === 'boolean' ? Number(raw) : raw
    return typeof value === 'number' && compare(value, cmp)
  })
}

/**
 * The number a sustained rule's action threshold is compared with: the level held through the lookback, i.e. the
 * lowest value of the short-step series for an upper threshold ("> 80%": it stayed above only if its minimum did),
 * the highest for a lower one. A value without that evidence (a probe or snapshot that did not read it) is compared
 * as it is.
 */
export function heldLevel(rule: EffectiveRule, value: number, evidence?: Record<string, unknown>): number {
  if (!rule.sustained || !rule.actionCmp) return value
  const op = rule.actionCmp.op
  const field = op === '>' || op === '>=' ? 'min' : op === '<' || op === '<=' ? 'max' : undefined
  const held = field ? lookupPath(evidence, `lookback.${field}`) : undefined
  return typeof held === 'number' && Number.isFinite(held) ? held : value
}

/**
 * ok inside the target band; critical past the action threshold; warning in between. A sustained rule compares
 * the action threshold with the level held through its lookback (heldLevel), the target band with the value.
 */
export function classify(rule: EffectiveRule, value: number | null, evidence?: Record<string, unknown>): 'ok' | Severity {
  if (value === null || Number.isNaN(value)) return 'ok'
  if (!conditionsHold(rule.whenCmp, evidence)) return 'ok'
  let level: 'ok' | Severity
  if (rule.targetCmp && compare(value, rule.targetCmp)) level = 'ok'
  else if (rule.actionCmp && compare(heldLevel(rule, value, evidence), rule.actionCmp)) level = 'critical'
  else if (rule.targetCmp || rule.actionCmp) level = rule.targetCmp ? 'warning' : 'ok'
  else level = 'critical'
  if (level === 'ok') return 'ok'
  // A fixed severity (rule default or user override) replaces the banded one for any breach.
  return rule.severity ?? level
}

/** What the engine needs from the run: the rules as they apply to a target, and which applier serves a remedy kind. */
export interface Evaluation {
  rulesFor: (target: string) => EffectiveRule[]
  /** Where the remedy applies (the target's kind, the finding's rule), when known: an applier may serve only some. */
  applierFor: (kind: RemedyKind, where?: ApplierWhere) => string | null
}

function renderRemedies(templates: RemedyTemplate[], scope: TemplateScope, applierFor: Evaluation['applierFor'], where: ApplierWhere = {}): Remedy[] {
  const remedies: Remedy[] = []
  for (const template of templates) {
    const {when, kinds, ...fields} = template
    // A remedy written for some target kinds only (PostgreSQL's SQL, MySQL's KILL): shared rules serve every kind.
    if (Array.isArray(kinds) && !(where.targetKind !== undefined && kinds.includes(where.targetKind))) continue
    if (when) {
      const conds = Object.entries(when).map(([path, text]) => ({path, cmp: parseCond(text)}))
      if (!conditionsHold(conds, scope.evidence)) continue
    }
    const rendered = renderStructured(fields, scope) as ProposedRemedy
    remedies.push(finishRemedy(rendered, applierFor, scope.target, where))
  }
  return remedies
}

// Remedy `when` clauses reuse the comparison grammar of thresholds.
function parseCond(text: string) {
  return parseComparison(text, undefined, 'remedy when')
}

/**
 * Metrics whose meaning is shared across database engines are named db.*; the finding's evidence says which engine
 * (the target's kind) measured it, so one rule serves every database kind.
 */
function withVendor(metric: Metric, targetKind: string | undefined): Record<string, unknown> {
  const evidence = metric.evidence ?? {}
  if (!targetKind || !metric.name.startsWith('db.') || 'vendor' in evidence) return evidence
  return {vendor: targetKind, ...evidence}
}

/**
 * What a value covers, for a message's {{lookback}}: the probe's own phrase (evidence.lookback.over: "over 5 min",
 * or how much of it Prometheus had), else, for a rule with a lookback, that the snapshot did not record one. A
 * sustained rule adds the level held through it ("never below 91%") when the evidence has it.
 */
export function lookbackText(rule: EffectiveRule, evidence: Record<string, unknown> | undefined): string {
  const over = lookupPath(evidence, 'lookback.over')
  const text = typeof over === 'string' && over ? over : rule.lookback ? 'over a period the snapshot does not record' : 'over the window'
  if (!rule.sustained || !rule.actionCmp) return text
  const op = rule.actionCmp.op
  const field = op === '>' || op === '>=' ? 'min' : op === '<' || op === '<=' ? 'max' : undefined
  const held = field ? lookupPath(evidence, `lookback.${field}`) : undefined
  if (typeof held !== 'number' || !Number.isFinite(held)) return text
  return `${text}, never ${field === 'min' ? 'below' : 'above'} ${formatValue(held, rule.unit)}`
}

export function evaluateMetric(rule: EffectiveRule, target: string, metric: Metric, applierFor: Evaluation['applierFor'] = () => null, targetKind?: string): Finding | undefined {
  const severity = classify(rule, metric.value, metric.evidence)
  if (severity === 'ok') return undefined
  const subject = metric.subject ?? target
  const evidence = withVendor(metric, targetKind)
  const scope: TemplateScope = {value: metric.value, unit: rule.unit, subject, target, threshold: {target: rule.target, action: rule.action}, evidence,
    lookback: lookbackText(rule, evidence)}
  return {
    id: findingId(rule.id, target, subject),
    rule: rule.id,
    severity,
    area: rule.area,
    target,
    subject,
    metric: metric.name,
    value: metric.value,
    threshold: {target: rule.target, action: rule.action},
    message: renderTemplate(rule.message, scope),
    evidence,
    remedies: renderRemedies(rule.remedies, scope, applierFor, {rule: rule.id, ...(targetKind ? {targetKind} : {})}),
  }
}

/** Applies the threshold rules to every metric of every successful reading. */
export function evaluateSnapshot(snapshot: Snapshot, {rulesFor, applierFor}: Evaluation): Finding[] {
  const kindOf = new Map(snapshot.targets.map((t) => [t.name, t.kind]))
  const findings: Finding[] = []
  const byTarget = new Map<string, Map<string, EffectiveRule[]>>()
  for (const reading of snapshot.readings) {
    if (reading.status !== 'ok' && reading.metrics.length === 0) continue
    let index = byTarget.get(reading.target)
    if (!index) {
      index = new Map()
      for (const rule of rulesFor(reading.target)) {
        if (!rule.enabled || rule.evaluator !== 'metric' || !rule.metric) continue
        index.set(rule.metric, [...(index.get(rule.metric) ?? []), rule])
      }
      byTarget.set(reading.target, index)
    }
    for (const metric of reading.metrics) {
      for (const rule of index.get(metric.name) ?? []) {
        const finding = evaluateMetric(rule, reading.target, metric, applierFor, kindOf.get(reading.target))
        if (finding) findings.push(finding)
      }
    }
  }
  return findings
}

/** Gives advisor findings their id and area, drops disabled rules and applies severity overrides. */
export function acceptAdvisorFindings(raw: AdvisorFinding[], {rulesFor, applierFor}: Evaluation, kindOf: (target: string) => string | undefined = () => undefined): Finding[] {
  const out: Finding[] = []
  for (const f of raw) {
    const rule = rulesFor(f.target).find((r) => r.id === f.rule)
    if (!rule) throw new Error(`advisor raised a finding for unknown rule ${f.rule}: add rules/${f.rule}.yaml`)
    if (!rule.enabled) continue
    out.push({
      ...f,
      id: findingId(f.rule, f.target, f.subject),
      area: rule.area,
      severity: rule.severity && f.severity !== 'info' ? rule.severity : f.severity,
      threshold: f.threshold ?? {target: rule.target, action: rule.action},
      remedies: f.remedies.map((r) => finishRemedy(r, applierFor, f.target, {rule: f.rule, ...(kindOf(f.target) ? {targetKind: kindOf(f.target)} : {})})),
    })
  }
  return out
}

const ORDER: Record<Severity, number> = {critical: 0, warning: 1, info: 2}

export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity] || a.area.localeCompare(b.area)
    || a.target.localeCompare(b.target) || a.rule.localeCompare(b.rule) || a.subject.localeCompare(b.subject))
}
