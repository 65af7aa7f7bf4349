import type {DiagnosisEntry, Finding, NotReadEntry, Remedy, Report, Severity} from '../core/types.js'

export const SEVERITY_ORDER: Severity[] = ['critical', 'warning', 'info']

export function gateLine(report: Report): string {
  const {gate, summary} = report
  const counts = `${summary.critical} critical, ${summary.warning} warning, ${summary.info} info`
  if (!gate.passed) return `gate failed (--fail-on ${gate.failOn}): ${counts}`
  if (gate.incomplete) return `${incompleteText(report)}; ${counts}`
  return `gate passed (--fail-on ${gate.failOn}): ${counts}`
}

/** "audit incomplete: target rabbit not read, 1 probe failed (see Not read)": what an incomplete audit is missing. */
export function incompleteText(report: Report): string {
  const unread = report.targets.filter((t) => t.status !== 'ok').map((t) => t.name)
  const failed = report.skipped.filter((s) => s.status === 'error').length
  const parts = []
  if (unread.length) parts.push(`${unread.length === 1 ? 'target' : 'targets'} ${unread.join(', ')} not read`)
  if (failed) parts.push(`${failed} ${failed === 1 ? 'probe or advisor' : 'probes or advisors'} failed`)
  return `audit incomplete: ${parts.join(', ') || 'some targets or probes could not be read'} (see Not read)`
}

/**
 * What a report says when nothing fired. Never "every rule is inside its target band" about an audit that could not
 * read everything: an incomplete audit, or one whose probes or advisors had to leave input out, says so instead.
 */
export function noFindingsLine(report: Report): string {
  if (report.gate.incomplete) return `No findings in what was read, but the audit is incomplete: ${incompleteText(report).replace(/^audit incomplete: /, '')}.`
  const gaps = report.notRead?.length ?? 0
  if (gaps > 0) return `No findings in what was read; ${gaps} ${gaps === 1 ? 'input was' : 'inputs were'} read only in part (see Not read).`
  return 'No findings: every rule is inside its target band.'
}

/** "statement texts: 12 of 15 not read: other users' statements show '<insufficient privilege>'". */
export function gapText(entry: NotReadEntry): string {
  const count = typeof entry.missing === 'number' ? ` ${entry.missing}${typeof entry.of === 'number' ? ` of ${entry.of}` : ''} not read:` : ''
  return `${entry.what}:${count} ${entry.reason}`
}

/** The threshold a finding was judged against, as a person reads it. */
export function thresholdText(finding: Finding): string {
  const parts = []
  if (finding.threshold.target) parts.push(`target ${finding.threshold.target}`)
  if (finding.threshold.action) parts.push(`act ${finding.threshold.action}`)
  return parts.join(', ')
}

export function remedyCode(remedy: {sql?: string; command?: string}): string | undefined {
  return remedy.sql ?? remedy.command
}

/** "123 checks of 41 rules: 118 ok, 3 warning, 1 critical, 1 not evaluated (+40 passing not listed)". */
export function checksLine(report: Report): string {
  const checks = report.checks ?? []
  const counts = new Map<string, number>()
  for (const c of checks) counts.set(c.status, (counts.get(c.status) ?? 0) + 1)
  const omitted = (report.checksOmitted ?? []).reduce((sum, o) => sum + o.ok, 0)
  const order = ['ok', 'info', 'warning', 'critical', 'not-evaluated'] as const
  const parts = order.filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${s === 'not-evaluated' ? 'not evaluated' : s}`)
  const rules = new Set(checks.map((c) => c.rule)).size
  return `${checks.length + omitted} checks of ${rules} rules: ${parts.join(', ') || 'none'}${omitted ? ` (+${omitted} passing not listed)` : ''}`
}

/** A finding as the human reports list it: causes first, each followed by the findings it explains, indented. */
export interface DisplayedFinding {
  finding: Finding
  /** 0 for a finding on its own or a root cause; 1 and more for the findings a cause explains. */
  depth: number
  /** 1-based number in the display order: the [n] the remedies refer to. */
  number: number
}

/**
 * The display order: the diagnosis' causes by rank, then every other finding that has no cause (in the report's
 * order), each followed by the findings it explains (depth first). A causeId that names no finding of the report
 * is ignored (the finding stands on its own), and nothing is listed twice.
 */
export function displayOrder(report: Report): DisplayedFinding[] {
  const byId = new Map(report.findings.map((f) => [f.id, f]))
  const children = new Map<string, Finding[]>()
  for (const f of report.findings) {
    if (f.causeId && byId.has(f.causeId) && f.causeId !== f.id) children.set(f.causeId, [...(children.get(f.causeId) ?? []), f])
  }
  const ranked = (report.diagnosis ?? []).map((d) => byId.get(d.cause)).filter((f): f is Finding => f !== undefined)
  const roots = [...ranked, ...report.findings.filter((f) => !f.causeId || !byId.has(f.causeId) || f.causeId === f.id)]
  const out: DisplayedFinding[] = []
  const seen = new Set<string>()
  const visit = (f: Finding, depth: number) => {
    if (seen.has(f.id)) return
    seen.add(f.id)
    out.push({finding: f, depth, number: out.length + 1})
    for (const child of children.get(f.id) ?? []) visit(child, depth + 1)
  }
  for (const root of roots) visit(root, 0)
  // A loop of causeIds (only in a hand-edited file) has no root: list what is left on its own.
  for (const f of report.findings) visit(f, 0)
  return out
}

/** "62.0% of database time" / "1500 of 1520 waiting jobs" / "not measured". */
export function shareText(entry: DiagnosisEntry): string {
  if (entry.share === null) return 'share not measured'
  const what = entry.weight.basis === 'database-time' ? 'of database time' : entry.weight.basis === 'queue-wait' ? 'of queue wait' : 'of its measure'
  return `${(entry.share * 100).toFixed(1)}% ${what}`
}

/** Where each remedy id is first shown: the finding number and the remedy, for "see [n]" references. */
export function remedyIndex(order: DisplayedFinding[]): Map<string, {number: number; remedy: Remedy}> {
  const index = new Map<string, {number: number; remedy: Remedy}>()
  for (const d of order) for (const r of d.finding.remedies) if (!index.has(r.id)) index.set(r.id, {number: d.number, remedy: r})
  return index
}
