import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'
import type {Report, Severity} from '../core/types.js'
import {checksLine, displayOrder, gapText, gateLine, incompleteText, noFindingsLine, remedyCode, remedyIndex, shareText, thresholdText, type DisplayedFinding} from './format-helpers.js'
import type {Reporter} from '../core/reporter.js'

function paint(chalk: ChalkInstance, severity: Severity): (s: string) => string {
  return severity === 'critical' ? chalk.red.bold : severity === 'warning' ? chalk.yellow : chalk.cyan
}

const columns = () => Math.max(80, Math.min(process.stdout.columns || 120, 160))

/**
 * Remedies, numbered by finding. The same remedy often serves several findings (one index for a costly statement, a
 * seq-scanned table and the workload): it is printed once, with the other findings it serves.
 */
function remedyLines(order: DisplayedFinding[], chalk: ChalkInstance): string[] {
  const entries: Array<{findings: number[]; kind: string; summary: string; code?: string; refs: string[]}> = []
  const byKey = new Map<string, (typeof entries)[number]>()
  for (const {finding: f, number} of order) {
    for (const remedy of f.remedies) {
      const code = remedyCode(remedy)
      const seen = byKey.get(remedy.id)
      if (seen) {
        if (!seen.findings.includes(number)) seen.findings.push(number)
        continue
      }
      const entry = {findings: [number], kind: remedy.kind, summary: remedy.summary, code, refs: remedy.refs ?? []}
      byKey.set(remedy.id, entry)
      entries.push(entry)
    }
  }
  if (entries.length === 0) return []
  // A reference is shown only as the number of a remedy listed here: one that is not in the report is dropped.
  const index = remedyIndex(order)
  const lines = [chalk.bold('Remedies')]
  for (const e of entries) {
    const [first, ...others] = e.findings
    const refs = e.refs.map((id) => index.get(id)).filter((r) => r !== undefined).map((r) => `[${r.number}] ${r.remedy.kind}`)
    lines.push(`  [${first}] ${chalk.bold(e.kind)}: ${e.summary}${refs.length ? ` (see ${refs.join(', ')})` : ''}`
      + `${others.length ? chalk.dim(` (also for ${others.map((n) => `[${n}]`).join(', ')})`) : ''}`)
    if (e.code) lines.push(`      ${chalk.cyan(e.code.split('\n').join('\n      '))}`)
  }
  return lines
}

/** The chokepoints: each root cause with its share, how it was measured, its one remedy and the findings it explains. */
function diagnosisLines(report: Report, order: DisplayedFinding[], chalk: ChalkInstance): string[] {
  if (!report.diagnosis?.length) return []
  const numberOf = new Map(order.map((d) => [d.finding.id, d.number]))
  const byId = new Map(report.findings.map((f) => [f.id, f]))
  const index = remedyIndex(order)
  const lines = [chalk.bold('Diagnosis: the chokepoints, by measured share')]
  for (const d of report.diagnosis) {
    const cause = byId.get(d.cause)
    lines.push(`  ${d.rank}. ${paint(chalk, d.severity)(d.severity)} ${chalk.bold(d.rule)} on ${cause?.subject ?? d.target} (${d.target})`
      + `${numberOf.has(d.cause) ? ` [${numberOf.get(d.cause)}]` : ''}: ${shareText(d)}`)
    lines.push(`     ${d.summary}`)
    lines.push(chalk.dim(`     measured: ${d.weight.measuredBy}`))
    const remedy = d.remedy ? index.get(d.remedy) : undefined
    if (remedy) {
      lines.push(`     fix: ${chalk.bold(remedy.remedy.kind)}: ${remedy.remedy.summary}`)
      const code = remedyCode(remedy.remedy)
      if (code) lines.push(`       ${chalk.cyan(code.split('\n').join('\n       '))}`)
    }
    const explained = d.explains.map((id) => numberOf.get(id)).filter((n) => n !== undefined).sort((a, b) => a - b)
    if (explained.length) lines.push(chalk.dim(`     explains ${explained.map((n) => `[${n}]`).join(' ')}`))
  }
  return lines
}

/** Terminal report: targets, findings with their remedies, what was skipped and why, and the gate. */
export const renderTable: Reporter = ({report, options: {color, verbose}}) => {
  const chalk = new Chalk({level: color ? 1 : 0})
  const style = {head: color ? ['bold'] : [], border: color ? ['grey'] : []}
  const out: string[] = []
  const width = columns()
  out.push(chalk.bold(`chokepoint ${report.tool.version}: ${report.source === 'live' ? 'live audit' : 'audit of a snapshot'}`
    + `${report.windowSeconds ? `, ${report.windowSeconds}s window` : ', counters since the last stats reset'}`))

  const targets = new Table({head: ['target', 'kind', 'url', 'status'], style})
  for (const t of report.targets) targets.push([t.name, t.kind, t.url, t.status === 'ok' ? chalk.green('ok') : chalk.red(t.status)])
  out.push(targets.toString())
  // Said at the top, not only in the last line: what follows does not cover the whole stack.
  if (report.gate.incomplete) out.push(chalk.yellow.bold(incompleteText(report)))

  if (report.findings.length === 0) {
    const line = noFindingsLine(report)
    out.push(report.gate.incomplete || report.notRead?.length ? chalk.yellow(line) : chalk.green(line))
  } else {
    const order = displayOrder(report)
    out.push(...diagnosisLines(report, order, chalk))
    const findings = new Table({head: ['#', 'severity', 'rule', 'subject', 'finding'], style, wordWrap: true,
      colWidths: [4, 10, 34, 26, Math.max(48, width - 82)]})
    for (const {finding: f, depth, number} of order) {
      // Most messages already state their thresholds; repeat them only when the message does not.
      const threshold = thresholdText(f)
      const stated = f.threshold.action ? f.message.includes(f.threshold.action) : !threshold
      const detail = `${f.message}${threshold && !stated ? `\n${chalk.dim(threshold)}` : ''}`
      // A symptom sits under its cause, indented, not as a peer.
      const rule = depth > 0 ? `${'  '.repeat(depth - 1)}└ ${f.rule}` : f.rule
      findings.push([String(number), paint(chalk, f.severity)(f.severity), rule, `${f.subject}\n${chalk.dim(f.target)}`, detail])
    }
    out.push(findings.toString())
    out.push(...remedyLines(order, chalk))
  }

  const unreadTargets = report.targets.filter((t) => t.status !== 'ok')
  const gaps = report.notRead ?? []
  if (report.skipped.length > 0 || unreadTargets.length > 0 || gaps.length > 0) {
    out.push(chalk.bold('Not read'))
    for (const t of unreadTargets) out.push(`  ${chalk.red(t.name)}: skipped: ${t.error ?? t.status}`)
    for (const g of gaps) {
      out.push(`  ${g.target} ${g.probe}: ${chalk.yellow(gapText(g))}`)
      if (g.fix) out.push(`      fix: ${chalk.cyan(g.fix)}`)
    }
    for (const s of report.skipped) out.push(`  ${s.target} ${s.probe}: ${s.status === 'error' ? chalk.red('failed') : 'skipped'}: ${s.reason}`)
  }
  if (verbose && report.overhead) {
    out.push(chalk.bold('Commands and queries issued'))
    for (const entry of report.overhead) {
      out.push(`  ${entry.target}: ${entry.roundTrips} round trips`)
      for (const c of entry.commands) out.push(`    ${c.probe} x${c.count}: ${c.text}`)
    }
  }
  out.push(chalk.dim(checksLine(report)))
  const line = gateLine(report)
  out.push(report.gate.passed ? (report.gate.incomplete ? chalk.yellow(line) : chalk.green(line)) : chalk.red.bold(line))
  return `${out.join('\n')}\n`
}
