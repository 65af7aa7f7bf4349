import {SEVERITY_RANK, type Report, type Severity} from '../core/types.js'
import {gapText, gateLine} from '../reporters/format-helpers.js'
import type {CliContext} from './context.js'
import {withBaseline} from './diff.js'
import {auditAndRender, type AuditRunFlags} from './run.js'

/**
 * Terse CI output: the failing findings, what could not be read, and the verdict; nothing else. With a baseline
 * (`only`: the ids of the findings new or worse than in it), only those can fail, so only those are listed.
 */
export function renderTerse(report: Report, only?: Set<string>): string {
  const failOn = report.gate.failOn
  const lines: string[] = []
  for (const f of report.findings) {
    if (failOn === 'never' || SEVERITY_RANK[f.severity] < SEVERITY_RANK[failOn as Severity]) continue
    if (only && !only.has(f.id)) continue
    lines.push(`${f.severity.toUpperCase()} ${f.rule} ${f.target} ${f.subject}: ${f.message}`)
  }
  for (const t of report.targets.filter((x) => x.status !== 'ok')) lines.push(`SKIPPED ${t.name}: ${t.error ?? t.status}`)
  for (const s of report.skipped.filter((x) => x.status === 'error')) lines.push(`SKIPPED ${s.target} ${s.probe}: ${s.reason}`)
  for (const g of report.notRead ?? []) lines.push(`NOT READ ${g.target} ${g.probe}: ${gapText(g)}${g.fix ? `; fix: ${g.fix}` : ''}`)
  lines.push(gateLine(report))
  return `${lines.join('\n')}\n`
}

export async function runCheck(flags: AuditRunFlags & {baseline?: string}, ctx: CliContext): Promise<Report> {
  // A baseline re-gates the report before any format renders it (gate.baseline says how many known findings it
  // ignored), and the terse lines then list only the findings new or worse than in it.
  let only: Set<string> | undefined
  const regate = flags.baseline
    ? async (report: Report) => {
      const rebased = await withBaseline(report, flags.baseline!, flags, ctx)
      only = rebased.fresh
      return rebased.report
    }
    : undefined
  // The terse lines stay on stdout when every --format names a file: the CI log keeps the verdict.
  return auditAndRender(flags, 'terse', ctx, {formats: ['terse'], render: (format, report) => (format === 'terse' ? renderTerse(report, only) : undefined), fallbackOnStdout: true}, regate)
}
