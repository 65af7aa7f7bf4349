import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'
import type {Report, Severity} from '../core/types.js'
import {checksLine, gapText, gateLine, incompleteText, noFindingsLine, remedyCode, thresholdText} from './format-helpers.js'
import type {Reporter} from '../core/reporter.js'

function paint(chalk: ChalkInstance, severity: Severity): (s: string) => string {
  return severity === 'critical' ? chalk.red.bold : severity === 'warning' ? chalk.yellow : chalk.cyan
}

const columns = () => Math.max(80, Math.min(process.stdout.columns || 120, 160))

/**
 * Remedies, numbered by finding. The same remedy often serves several findings (one index for a costly statement, a
 * seq-scanned table and the workload): it is printed once, with the other findings it serves.
 */
function remedyLines(report: Report, chalk: ChalkInstance): string[] {
  const entries: Array<{findings: number[]; kind: string; summary: string; code?: string}> = []
  const byKey = new Map<string, (typeof entries)[number]>()
  report.findings.forEach((f, i) => {
    for (const remedy of f.remedies) {
      const code = remedyCode(remedy)
      const seen = byKey.get(remedy.id)
      if (seen) {
        if (!seen.findings.includes(i + 1)) seen.findings.push(i + 1)
        continue
      }
      const entry = {findings: [i + 1], kind: remedy.kind, summary: remedy.summary, code}
      byKey.set(remedy.id, entry)
      entries.push(entry)
    }
  })
  if (entries.length === 0) return []
  const lines = [chalk.bold('Remedies')]
  for (const e of entries) {
    const [first, ...others] = e.findings
    lines.push(`  [${first}] ${chalk.bold(e.kind)}: ${e.summary}${others.length ? chalk.dim(` (also for ${others.map((n) => `[${n}]`).join(', ')})`) : ''}`)
    if (e.code) lines.push(`      ${chalk.cyan(e.code.split('\n').join('\n      '))}`)
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
    const findings = new Table({head: ['#', 'severity', 'rule', 'subject', 'finding'], style, wordWrap: true,
      colWidths: [4, 10, 34, 26, Math.max(48, width - 82)]})
    report.findings.forEach((f, i) => {
      // Most messages already state their thresholds; repeat them only when the message does not.
      const threshold = thresholdText(f)
      const stated = f.threshold.action ? f.message.includes(f.threshold.action) : !threshold
      const detail = `${f.message}${threshold && !stated ? `\n${chalk.dim(threshold)}` : ''}`
      findings.push([String(i + 1), paint(chalk, f.severity)(f.severity), f.rule, `${f.subject}\n${chalk.dim(f.target)}`, detail])
    })
    out.push(findings.toString())
    out.push(...remedyLines(report, chalk))
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
