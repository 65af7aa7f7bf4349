import {SEVERITY_RANK, type BaselineChange, type FailOn, type Finding, type Report, type Severity} from './types.js'
import {formatValue, type Unit} from './units.js'
import {toolVersion} from './version.js'

/** Version of the diff document (`schemas/diff.schema.json`); bumped when its shape changes incompatibly. */
export const DIFF_SCHEMA_VERSION = 1

export type ChangeKind = 'new' | 'resolved' | 'worse' | 'better' | 'unchanged'
export const CHANGE_KINDS: ChangeKind[] = ['new', 'worse', 'resolved', 'better', 'unchanged']

/** One finding followed from the old report to the new one. */
export interface FindingChange {
  change: ChangeKind
  /** The finding's id in the new report (the old one's when resolved). */
  id: string
  /** How old and new were paired: by id, or by rule + target + subject when the ids differ (absent when unpaired). */
  matchedBy?: 'id' | 'subject'
  rule: string
  target: string
  subject: string
  severity: {old: Severity | null; new: Severity | null}
  value: {old: number | null; new: number | null; delta: number | null}
  /** The values as a person reads them, in the rule's unit ("12 s -> 30 s"). */
  valueText: string
  /** The new finding's message, or the old one's for a resolved finding. */
  message: string
}

export interface VerdictSide {
  generatedAt: string
  source: Report['source']
  passed: boolean
  incomplete: boolean
  exitCode: number
  failOn: FailOn
  summary: Report['summary']
  /** The chokepoints, rank order: "rule on subject (target)". */
  chokepoints: string[]
  /** The path verdict (report.verdict.path); null for a report written before it existed. */
  scalingPath?: string | null
}

export interface ReportDiff {
  schemaVersion: number
  tool: {name: 'chokepoint'; version: string}
  generatedAt: string
  old: VerdictSide & {file?: string}
  new: VerdictSide & {file?: string}
  verdict: {changed: boolean; text: string; scalingPathChanged?: boolean}
  /** Chokepoints gone and appeared (the diagnosis' root causes, by rule, target and subject). */
  chokepoints: {resolved: string[]; new: string[]}
  counts: Record<ChangeKind, number>
  changes: FindingChange[]
  /** New or worse findings at or above failOn fail the diff; incomplete NEW with nothing failing exits 3. */
  gate: {failOn: FailOn; passed: boolean; failing: number; exitCode: number}
}

/** rule + target + subject, whitespace folded: how a finding is recognised when its id was made differently. */
export function findingKey(f: Pick<Finding, 'rule' | 'target' | 'subject'>): string {
  return [f.rule, f.target, f.subject.replace(/\s+/g, ' ').trim()].join('\u0000')
}

function atOrAbove(severity: Severity | null, failOn: FailOn): boolean {
  return severity !== null && failOn !== 'never' && SEVERITY_RANK[severity] >= SEVERITY_RANK[failOn]
}

function chokepoints(report: Report): string[] {
  const byId = new Map(report.findings.map((f) => [f.id, f]))
  return (report.diagnosis ?? []).map((d) => `${d.rule} on ${byId.get(d.cause)?.subject ?? d.target} (${d.target})`)
}

function side(report: Report, file?: string): VerdictSide & {file?: string} {
  return {
    ...(file ? {file} : {}), generatedAt: report.generatedAt, source: report.source, passed: report.gate.passed, incomplete: report.gate.incomplete,
    exitCode: report.gate.exitCode, failOn: report.gate.failOn, summary: report.summary, chokepoints: chokepoints(report),
    scalingPath: report.verdict?.path ?? null,
  }
}

function verdictWord(s: VerdictSide): string {
  return !s.passed ? 'failed' : s.incomplete ? 'passed, incomplete' : 'passed'
}

function counts(s: VerdictSide): string {
  return `${s.summary.critical} critical, ${s.summary.warning} warning, ${s.summary.info} info`
}

/**
 * Pairs the findings of two reports: by id first (a hash of rule, target and subject, stable across runs), then by
 * rule + target + subject for what is left (a report whose ids were made otherwise). A paired finding whose severity
 * rose is worse, fell is better, else unchanged (its value may still have moved: valueText says by how much).
 */
export function diffReports(oldReport: Report, newReport: Report, options: {failOn?: FailOn; oldFile?: string; newFile?: string} = {}): ReportDiff {
  const failOn = options.failOn ?? newReport.gate.failOn
  const units = new Map<string, Unit | undefined>()
  for (const r of [...(oldReport.rules ?? []), ...(newReport.rules ?? [])]) units.set(r.id, r.unit as Unit | undefined)
  const oldById = new Map(oldReport.findings.map((f) => [f.id, f]))
  const oldByKey = new Map(oldReport.findings.map((f) => [findingKey(f), f]))
  const paired = new Set<Finding>()
  const changes: FindingChange[] = []
  const entry = (change: ChangeKind, oldF: Finding | undefined, newF: Finding | undefined, matchedBy?: 'id' | 'subject'): FindingChange => {
    const f = (newF ?? oldF)!
    const oldValue = oldF?.value ?? null
    const newValue = newF?.value ?? null
    const unit = units.get(f.rule)
    const delta = oldValue !== null && newValue !== null ? newValue - oldValue : null
    const valueText = oldF && newF ? (oldValue === newValue ? formatValue(newValue, unit) : `${formatValue(oldValue, unit)} -> ${formatValue(newValue, unit)}`)
      : formatValue(newF ? newValue : oldValue, unit)
    return {
      change, id: f.id, ...(matchedBy ? {matchedBy} : {}), rule: f.rule, target: f.target, subject: f.subject,
      severity: {old: oldF?.severity ?? null, new: newF?.severity ?? null}, value: {old: oldValue, new: newValue, delta}, valueText, message: f.message,
    }
  }
  for (const f of newReport.findings) {
    let old = oldById.get(f.id)
    let matchedBy: 'id' | 'subject' = 'id'
    if (!old || paired.has(old)) {
      old = oldByKey.get(findingKey(f))
      matchedBy = 'subject'
      if (old && paired.has(old)) old = undefined
    }
    if (!old) {
      changes.push(entry('new', undefined, f))
      continue
    }
    paired.add(old)
    const d = SEVERITY_RANK[f.severity] - SEVERITY_RANK[old.severity]
    changes.push(entry(d > 0 ? 'worse' : d < 0 ? 'better' : 'unchanged', old, f, matchedBy))
  }
  for (const f of oldReport.findings) if (!paired.has(f)) changes.push(entry('resolved', f, undefined))
  const order = new Map(CHANGE_KINDS.map((k, i) => [k, i]))
  changes.sort((a, b) => order.get(a.change)! - order.get(b.change)!
    || SEVERITY_RANK[b.severity.new ?? b.severity.old!] - SEVERITY_RANK[a.severity.new ?? a.severity.old!])
  const tally = Object.fromEntries(CHANGE_KINDS.map((k) => [k, changes.filter((c) => c.change === k).length])) as Record<ChangeKind, number>
  const oldSide = side(oldReport, options.oldFile)
  const newSide = side(newReport, options.newFile)
  const changed = oldSide.passed !== newSide.passed || oldSide.incomplete !== newSide.incomplete || counts(oldSide) !== counts(newSide)
  // Reports written before the path verdict existed have none: no change is claimed from a missing side.
  const scalingPathChanged = oldSide.scalingPath != null && newSide.scalingPath != null && oldSide.scalingPath !== newSide.scalingPath
  const path = scalingPathChanged ? `; scaling path ${oldSide.scalingPath} -> ${newSide.scalingPath}` : ''
  const text = (changed ? `gate ${verdictWord(oldSide)} -> ${verdictWord(newSide)}: ${counts(oldSide)} -> ${counts(newSide)}`
    : `gate ${verdictWord(newSide)} in both: ${counts(newSide)}`) + path
  const failing = changes.filter((c) => (c.change === 'new' || c.change === 'worse') && atOrAbove(c.severity.new, failOn)).length
  return {
    schemaVersion: DIFF_SCHEMA_VERSION,
    tool: {name: 'chokepoint', version: toolVersion()},
    generatedAt: new Date().toISOString(),
    old: oldSide,
    new: newSide,
    verdict: {changed: changed || scalingPathChanged, text, scalingPathChanged},
    chokepoints: {resolved: oldSide.chokepoints.filter((c) => !newSide.chokepoints.includes(c)), new: newSide.chokepoints.filter((c) => !oldSide.chokepoints.includes(c))},
    counts: tally,
    changes,
    gate: {failOn, passed: failing === 0, failing, exitCode: failing > 0 ? 1 : newSide.incomplete ? 3 : 0},
  }
}

/**
 * A check against a baseline, the way linters adopt one: only findings new or worse than in the baseline count
 * towards the gate; the rest are known and ignored (counted). The report keeps every finding; only its gate changes.
 */
export function applyBaseline(report: Report, baseline: Report, file: string): {report: Report; diff: ReportDiff; fresh: Set<string>} {
  const diff = diffReports(baseline, report, {failOn: report.gate.failOn})
  const fresh = new Set(diff.changes.filter((c) => c.change === 'new' || c.change === 'worse').map((c) => c.id))
  const ignored = report.findings.filter((f) => !fresh.has(f.id)).length
  const changes: Record<string, BaselineChange> = {}
  for (const c of diff.changes) if (c.change !== 'resolved') changes[c.id] = c.change
  const passed = diff.gate.passed
  const exitCode = !passed ? 1 : report.gate.incomplete ? 3 : 0
  return {report: {...report, gate: {...report.gate, passed, exitCode, baseline: {file, ignored, failing: diff.gate.failing, changes}}}, diff, fresh}
}
