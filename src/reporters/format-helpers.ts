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
