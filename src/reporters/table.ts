import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'
import type {Report, Severity} from '../core/types.js'
import {checksLine, displayOrder, displayWidth, fleetFindingText, fleetText, gapText, gateLine, incompleteText, noFindingsLine, remedyCode, remedyIndex, shareText, shortTargetNames,
  pathVerdictText, terminalWidth, thresholdNote, wrapCode, wrapText, type DisplayedFinding} from './format-helpers.js'
import type {Reporter} from '../core/reporter.js'

function paint(chalk: ChalkInstance, severity: Severity): (s: string) => string {
  return severity === 'critical' ? chalk.red.bold : severity === 'warning' ? chalk.yellow : chalk.cyan
}

/** Below this many columns the findings are listed one per line instead of in a bordered table. */
export const COMPACT_BELOW = 120


/** Lines laid out for the terminal: each line wrapped to the width, continuation lines indented. */
class Lines {
  readonly out: string[] = []
  constructor(readonly width: number) {}

  /** Plain text, wrapped; `style` colours each wrapped line whole (colour codes never split). */
  text(text: string, indent = '', style: (s: string) => string = (x) => x, hang = '  '): void {
    for (const line of wrapText(`${indent}${text}`, this.width, `${indent}${hang}`)) this.out.push(style(line))
  }

  /** Already laid out (a table): as it is. */
  raw(block: string): void {
    this.out.push(...block.split('\n'))
  }

  code(code: string, indent: string, shell: boolean, style: (s: string) => string): void {
    for (const line of wrapCode(code, this.width, indent, shell)) this.out.push(style(line))
  }
}

const isShell = (remedy: {sql?: string; command?: string}) => !remedy.sql && Boolean(remedy.command)

/**
 * Remedies, numbered by finding. The same remedy often serves several findings (one index for a costly statement, a
 * seq-scanned table and the workload): it is printed once, with the other findings it serves.
 */
function remedyLines(order: DisplayedFinding[], chalk: ChalkInstance, lines: Lines): void {
  const entries: Array<{findings: number[]; kind: string; summary: string; code?: string; shell: boolean; refs: string[]}> = []
  const byKey = new Map<string, (typeof entries)[number]>()
  for (const {finding: f, number} of order) {
    for (const remedy of f.remedies) {
      const code = remedyCode(remedy)
      const seen = byKey.get(remedy.id)
      if (seen) {
        if (!seen.findings.includes(number)) seen.findings.push(number)
        continue
      }
      const entry = {findings: [number], kind: remedy.kind, summary: remedy.summary, code, shell: isShell(remedy), refs: remedy.refs ?? []}
      byKey.set(remedy.id, entry)
      entries.push(entry)
    }
  }
  if (entries.length === 0) return
  // A reference is shown only as the number of a remedy listed here: one that is not in the report is dropped.
  const index = remedyIndex(order)
  lines.out.push(chalk.bold('Remedies'))
  // A finding with several remedies heads several lines: they are told apart by a letter ([10a], [10b]).
  const heads = new Map<number, number>()
  for (const e of entries) heads.set(e.findings[0], (heads.get(e.findings[0]) ?? 0) + 1)
  const lettered = new Map<number, number>()
  for (const e of entries) {
    const [first, ...others] = e.findings
    const nth = lettered.get(first) ?? 0
    lettered.set(first, nth + 1)
    const label = heads.get(first)! > 1 ? `${first}${String.fromCharCode(97 + Math.min(nth, 25))}` : String(first)
    const refs = e.refs.map((id) => index.get(id)).filter((r) => r !== undefined).map((r) => `[${r.number}] ${r.remedy.kind}`)
    const head = `  [${label}] ${e.kind}: `
    const body = `${e.summary}${refs.length ? ` (see ${refs.join(', ')})` : ''}${others.length ? ` (also for ${others.map((n) => `[${n}]`).join(', ')})` : ''}`
    const wrapped = wrapText(`${head}${body}`, lines.width, '      ')
    // The kind in bold on the first line, the rest as it wrapped.
    lines.out.push(...wrapped.map((l, i) => (i === 0 ? l.replace(`[${label}] ${e.kind}:`, `[${label}] ${chalk.bold(e.kind)}:`) : l)))
    if (e.code) lines.code(e.code, '      ', e.shell, chalk.cyan)
  }
}

/** The chokepoints: each root cause with its share, how it was measured, its one remedy and the findings it explains. */
function diagnosisLines(report: Report, order: DisplayedFinding[], chalk: ChalkInstance, lines: Lines, short: (t: string) => string): void {
  if (!report.diagnosis?.length) return
  const numberOf = new Map(order.map((d) => [d.finding.id, d.number]))
  const byId = new Map(report.findings.map((f) => [f.id, f]))
  const index = remedyIndex(order)
  lines.out.push(chalk.bold('Diagnosis: the chokepoints, by measured share'))
  for (const d of report.diagnosis) {
    const cause = byId.get(d.cause)
    const head = `  ${d.rank}. ${d.severity} ${d.rule} on ${cause?.subject ?? short(d.target)} (${short(d.target)})`
      + `${numberOf.has(d.cause) ? ` [${numberOf.get(d.cause)}]` : ''}: ${shareText(d)}`
    const wrapped = wrapText(head, lines.width, '       ')
    lines.out.push(...wrapped.map((l, i) => (i === 0 ? l.replace(` ${d.severity} ${d.rule}`, ` ${paint(chalk, d.severity)(d.severity)} ${chalk.bold(d.rule)}`) : l)))
    lines.text(d.summary, '     ')
    lines.text(`measured: ${d.weight.measuredBy}`, '     ', chalk.dim)
    const remedy = d.remedy ? index.get(d.remedy) : undefined
    if (remedy) {
      lines.text(`fix: ${remedy.remedy.kind}: ${remedy.remedy.summary}`, '     ')
      const code = remedyCode(remedy.remedy)
      if (code) lines.code(code, '       ', isShell(remedy.remedy), chalk.cyan)
    }
    const explained = d.explains.map((id) => numberOf.get(id)).filter((n) => n !== undefined).sort((a, b) => a - b)
    if (explained.length) lines.text(`explains ${explained.map((n) => `[${n}]`).join(' ')}`, '     ', chalk.dim)
  }
}

/** Cell text pre-wrapped to a column's inner width (cli-table3 would otherwise cut what does not fit). */
function cellText(text: string, colWidth: number): string {
  return wrapText(text, colWidth - 2, '').join('\n')
}

/** Wide layout (120 columns and more): a bordered table, its columns sized to the terminal. */
function wideFindings(order: DisplayedFinding[], chalk: ChalkInstance, style: object, width: number, short: (t: string) => string): string {
  const fixed = [4, 10, 36, 26]
  const colWidths = [...fixed, width - fixed.reduce((a, b) => a + b, 0) - (fixed.length + 2)]
  const table = new Table({head: ['#', 'severity', 'rule', 'subject', 'finding'], style, colWidths, wordWrap: false})
  for (const {finding: f, depth, number} of order) {
    const note = thresholdNote(f)
    // A symptom sits under its cause, indented, not as a peer.
    const rule = depth > 0 ? `${'  '.repeat(depth - 1)}└ ${f.rule}` : f.rule
    const detail = cellText(f.message, colWidths[4]) + (note ? `\n${chalk.dim(cellText(note, colWidths[4]))}` : '')
    table.push([String(number), paint(chalk, f.severity)(f.severity), cellText(rule, colWidths[2]),
      `${cellText(f.subject, colWidths[3])}\n${chalk.dim(cellText(short(f.target), colWidths[3]))}`, detail])
  }
  return table.toString()
}

/** Compact layout (below 120 columns): one entry per finding, "[n] severity subject (target): message", wrapped. */
function compactFindings(order: DisplayedFinding[], chalk: ChalkInstance, lines: Lines, short: (t: string) => string): void {
  lines.out.push(chalk.bold('Findings'))
  for (const {finding: f, depth, number} of order) {
    const note = thresholdNote(f)
    const indent = depth > 0 ? `${'  '.repeat(depth)}└ ` : ''
    const head = `[${number}] ${f.severity} `
    const text = `${indent}${head}${f.subject} (${short(f.target)}): ${f.message}${note ? ` (${note})` : ''} · ${f.rule}`
    const hang = ' '.repeat(Math.min(displayWidth(indent) + 4, 12))
    const wrapped = wrapText(text, lines.width, hang)
    lines.out.push(...wrapped.map((l, i) => (i === 0 ? l.replace(head, `[${number}] ${paint(chalk, f.severity)(f.severity)} `) : l))
      .map((l, i, all) => (i === all.length - 1 ? l.replace(new RegExp(` · ${f.rule.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`), chalk.dim(` · ${f.rule}`)) : l)))
  }
}

/**
 * Terminal report: targets, findings with their remedies, what was skipped and why, and the gate. Laid out for the
 * terminal's width (RenderOptions.width): no line is wider than it (a quoted word of SQL longer than a line aside).
 */
export const renderTable: Reporter = ({report, options: {color, verbose, width: given}}) => {
  const chalk = new Chalk({level: color ? 1 : 0})
  const style = {head: color ? ['bold'] : [], border: color ? ['grey'] : []}
  const width = terminalWidth(given)
  const compact = width < COMPACT_BELOW
  const lines = new Lines(width)
  const names = shortTargetNames(report.targets.map((t) => t.name))
  const short = (name: string) => names.get(name) ?? name
  lines.text(`chokepoint ${report.tool.version}: ${report.source === 'live' ? 'live audit' : 'audit of a snapshot'}`
    + `${report.windowSeconds ? `, ${report.windowSeconds}s window` : ', counters since the last stats reset'}`, '', chalk.bold)

  if (report.fleet) {
    // At the top: in a fleet of hundreds the targets' table is long, and this is what a reader looks for first.
    const fleet = fleetText(report.fleet)
    lines.text(`Fleet: ${fleet.line}`, '', chalk.bold, '    ')
    for (const g of fleet.groups) {
      if (g.line) lines.text(g.line, '  ', chalk.bold, '    ')
      for (const f of g.worst) lines.text(fleetFindingText(f), '    ', paint(chalk, f.severity), '      ')
      if (g.skipped) lines.text(g.skipped, '    ', chalk.red, '      ')
    }
  }
  const statusOf = (t: Report['targets'][number]) => (t.status === 'ok' ? chalk.green('ok') : chalk.red(t.status))
  if (compact) {
    lines.out.push(chalk.bold('Targets'))
    for (const t of report.targets) {
      const head = `  ${short(t.name)} ${t.kind} `
      const wrapped = wrapText(`${head}${t.status} ${t.url}`, width, '      ')
      lines.out.push(...wrapped.map((l, i) => (i === 0 ? l.replace(`${head}${t.status}`, `${head}${statusOf(t)}`) : l)))
    }
  } else {
    const fixed = [30, 12, 8]
    const colWidths = [fixed[0], fixed[1], width - fixed.reduce((a, b) => a + b, 0) - 5, fixed[2]]
    const targets = new Table({head: ['target', 'kind', 'url', 'status'], style, colWidths, wordWrap: false})
    for (const t of report.targets) targets.push([cellText(short(t.name), colWidths[0]), t.kind, cellText(t.url, colWidths[2]), statusOf(t)])
    lines.raw(targets.toString())
  }
  // Each shortened name, once, in full.
  for (const t of report.targets) if (short(t.name) !== t.name) lines.text(`${short(t.name)} = ${t.name}`, '  ', chalk.dim, '    ')
  // Said at the top, not only in the last line: what follows does not cover the whole stack.
  if (report.gate.incomplete) lines.text(incompleteText(report), '', chalk.yellow.bold)

  const path = pathVerdictText(report, short)
  if (path) {
    lines.text(path.headline, '', chalk.bold)
    lines.text(`because ${path.because}`, '  ', (x) => x, '    ')
    lines.text(`would change: ${path.wouldChange}`, '  ', chalk.dim, '    ')
  }
  if (report.findings.length === 0) {
    const line = noFindingsLine(report)
    lines.text(line, '', report.gate.incomplete || report.notRead?.length ? chalk.yellow : chalk.green)
  } else {
    const order = displayOrder(report)
    diagnosisLines(report, order, chalk, lines, short)
    if (compact) compactFindings(order, chalk, lines, short)
    else lines.raw(wideFindings(order, chalk, style, width, short))
    remedyLines(order, chalk, lines)
  }

  const unreadTargets = report.targets.filter((t) => t.status !== 'ok')
  const gaps = report.notRead ?? []
  if (report.skipped.length > 0 || unreadTargets.length > 0 || gaps.length > 0) {
    lines.out.push(chalk.bold('Not read'))
    for (const t of unreadTargets) lines.text(`${short(t.name)}: skipped: ${t.error ?? t.status}`, '  ', chalk.red, '    ')
    for (const g of gaps) {
      lines.text(`${short(g.target)} ${g.probe}: ${gapText(g)}`, '  ', (x) => x, '    ')
      if (g.fix) lines.code(`fix: ${g.fix}`, '      ', false, chalk.cyan)
    }
    for (const s of report.skipped) lines.text(`${short(s.target)} ${s.probe}: ${s.status === 'error' ? 'failed' : 'skipped'}: ${s.reason}`, '  ', s.status === 'error' ? chalk.red : (x) => x, '    ')
  }
  if (verbose && report.overhead) {
    lines.out.push(chalk.bold('Commands and queries issued'))
    for (const entry of report.overhead) {
      lines.text(`${short(entry.target)}: ${entry.roundTrips} round trips`, '  ')
      for (const c of entry.commands) lines.text(`${c.probe} x${c.count}: ${c.text}`, '    ', (x) => x, '    ')
    }
  }
  lines.text(checksLine(report), '', chalk.dim)
  const line = gateLine(report)
  lines.text(line, '', report.gate.passed ? (report.gate.incomplete ? chalk.yellow : chalk.green) : chalk.red.bold)
  return `${lines.out.join('\n')}\n`
}
