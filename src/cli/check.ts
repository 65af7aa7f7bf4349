import {checkOutputFile, writeOutput} from '../core/snapshot-io.js'
import {SEVERITY_RANK, type Report, type Severity} from '../core/types.js'
import {gapText, gateLine} from '../reporters/format-helpers.js'
import type {CliContext} from './context.js'
import {withBaseline} from './diff.js'
import {auditAndRender, evaluate, type AuditRunFlags} from './run.js'

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

export async function runCheck(flags: AuditRunFlags & {format?: string; baseline?: string}, ctx: CliContext): Promise<Report> {
  // A baseline re-gates the report before any format renders it (gate.baseline says how many known findings it ignored).
  const rebase = flags.baseline ? async (report: Report) => (await withBaseline(report, flags.baseline!, flags, ctx)).report : undefined
  if (flags.json || (flags.format && flags.format !== 'terse')) {
    return auditAndRender(flags, flags.json ? 'json' : flags.format!, ctx, rebase)
  }
  checkOutputFile(flags.output)
  let report = await evaluate(flags, ctx)
  let only: Set<string> | undefined
  if (flags.baseline) ({report, fresh: only} = await withBaseline(report, flags.baseline, flags, ctx))
  writeOutput(renderTerse(report, only), flags.output, ctx.secrets)
  process.exitCode = report.gate.exitCode
  return report
}
