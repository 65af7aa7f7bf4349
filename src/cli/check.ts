import {SEVERITY_RANK, type Report, type Severity} from '../core/types.js'
import {gapText, gateLine} from '../reporters/format-helpers.js'
import type {CliContext} from './context.js'
import {auditAndRender, type AuditRunFlags} from './run.js'

/** Terse CI output: the failing findings, what could not be read, and the verdict; nothing else. */
export function renderTerse(report: Report): string {
  const failOn = report.gate.failOn
  const lines: string[] = []
  for (const f of report.findings) {
    if (failOn === 'never' || SEVERITY_RANK[f.severity] < SEVERITY_RANK[failOn as Severity]) continue
    lines.push(`${f.severity.toUpperCase()} ${f.rule} ${f.target} ${f.subject}: ${f.message}`)
  }
  for (const t of report.targets.filter((x) => x.status !== 'ok')) lines.push(`SKIPPED ${t.name}: ${t.error ?? t.status}`)
  for (const s of report.skipped.filter((x) => x.status === 'error')) lines.push(`SKIPPED ${s.target} ${s.probe}: ${s.reason}`)
  for (const g of report.notRead ?? []) lines.push(`NOT READ ${g.target} ${g.probe}: ${gapText(g)}${g.fix ? `; fix: ${g.fix}` : ''}`)
  lines.push(gateLine(report))
  return `${lines.join('\n')}\n`
}

export async function runCheck(flags: AuditRunFlags, ctx: CliContext): Promise<Report> {
  // The terse lines stay on stdout when every --format names a file: the CI log keeps the verdict.
  return auditAndRender(flags, 'terse', ctx, {formats: ['terse'], render: (format, report) => (format === 'terse' ? renderTerse(report) : undefined), fallbackOnStdout: true})
}
