import type {Finding, Report, Severity} from '../core/types.js'

export const SEVERITY_ORDER: Severity[] = ['critical', 'warning', 'info']

export function gateLine(report: Report): string {
  const {gate, summary} = report
  const counts = `${summary.critical} critical, ${summary.warning} warning, ${summary.info} info`
  if (!gate.passed) return `gate failed (--fail-on ${gate.failOn}): ${counts}`
  if (gate.incomplete) return `audit incomplete: some targets or probes could not be read; ${counts}`
  return `gate passed (--fail-on ${gate.failOn}): ${counts}`
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
