import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'
import type {Severity} from '../core/types.js'
import {gateLine, remedyCode, thresholdText} from './format-helpers.js'
import type {Reporter} from './types.js'

function paint(chalk: ChalkInstance, severity: Severity): (s: string) => string {
  return severity === 'critical' ? chalk.red.bold : severity === 'warning' ? chalk.yellow : chalk.cyan
}

const columns = () => Math.max(80, Math.min(process.stdout.columns || 120, 160))

/** Terminal report: targets, findings with their remedies, what was skipped and why, and the gate. */
export const renderTable: Reporter = (report, {color, verbose}) => {
  const chalk = new Chalk({level: color ? 1 : 0})
  const style = {head: color ? ['bold'] : [], border: color ? ['grey'] : []}
  const out: string[] = []
  const width = columns()
  out.push(chalk.bold(`chokepoint ${report.tool.version}: ${report.source === 'live' ? 'live audit' : 'audit of a snapshot'}`
    + `${report.windowSeconds ? `, ${report.windowSeconds}s window` : ', counters since the last stats reset'}`))

  const targets = new Table({head: ['target', 'kind', 'url', 'status'], style})
  for (const t of report.targets) targets.push([t.name, t.kind, t.url, t.status === 'ok' ? chalk.green('ok') : chalk.red(t.status)])
  out.push(targets.toString())

  if (report.findings.length === 0) {
    out.push(chalk.green('No findings: every rule is inside its target band.'))
  } else {
    const findings = new Table({head: ['#', 'severity', 'rule', 'subject', 'finding'], style, wordWrap: true,
      colWidths: [4, 10, 26, 28, Math.max(30, width - 76)]})
    report.findings.forEach((f, i) => {
      const detail = `${f.message}${thresholdText(f) ? `\n${chalk.dim(thresholdText(f))}` : ''}`
      findings.push([String(i + 1), paint(chalk, f.severity)(f.severity), f.rule, `${f.subject}\n${chalk.dim(f.target)}`, detail])
    })
    out.push(findings.toString())
    const withRemedies = report.findings.map((f, i) => ({f, i})).filter(({f}) => f.remedies.length > 0)
    if (withRemedies.length > 0) {
      out.push(chalk.bold('Remedies'))
      for (const {f, i} of withRemedies) {
        for (const remedy of f.remedies) {
          out.push(`  [${i + 1}] ${chalk.bold(remedy.kind)}: ${remedy.summary}`)
          const code = remedyCode(remedy)
          if (code) out.push(`      ${chalk.cyan(code.split('\n').join('\n      '))}`)
        }
      }
    }
  }

  const unreadTargets = report.targets.filter((t) => t.status !== 'ok')
  if (report.skipped.length > 0 || unreadTargets.length > 0) {
    out.push(chalk.bold('Not read'))
    for (const t of unreadTargets) out.push(`  ${chalk.red(t.name)}: skipped: ${t.error ?? t.status}`)
    for (const s of report.skipped) out.push(`  ${s.target} ${s.probe}: skipped: ${s.reason}`)
  }
  if (verbose && report.overhead) {
    out.push(chalk.bold('Commands and queries issued'))
    for (const entry of report.overhead) {
      out.push(`  ${entry.target}: ${entry.roundTrips} round trips`)
      for (const c of entry.commands) out.push(`    ${c.probe} x${c.count}: ${c.text}`)
    }
  }
  const line = gateLine(report)
  out.push(report.gate.passed ? (report.gate.incomplete ? chalk.yellow(line) : chalk.green(line)) : chalk.red.bold(line))
  return `${out.join('\n')}\n`
}
