import {Chalk, type ChalkInstance} from 'chalk'
import type {ChangeKind, FindingChange, ReportDiff} from '../core/diff.js'
import type {Severity} from '../core/types.js'
import {shortTargetNames, wrapText} from './format-helpers.js'

/**
 * The formats `chokepoint diff` renders: these three here, html (reporters/html/diff-page.ts) and sarif (the NEW
 * report's results with their baselineState). Not junit: a diff is no test run; `check --baseline` is that gate.
 */
export const DIFF_FORMATS = ['table', 'markdown', 'json', 'html', 'sarif'] as const
export type DiffFormat = (typeof DIFF_FORMATS)[number]

export const HEADING: Record<ChangeKind, string> = {
  new: 'New', worse: 'Worse', resolved: 'Resolved', better: 'Better', unchanged: 'Unchanged',
}

export function severityText(c: FindingChange): string {
  const {old, new: now} = c.severity
  return old && now && old !== now ? `${old} -> ${now}` : (now ?? old)!
}

function paint(chalk: ChalkInstance, severity: Severity | null): (s: string) => string {
  return severity === 'critical' ? chalk.red.bold : severity === 'warning' ? chalk.yellow : chalk.cyan
}

export function gateText(diff: ReportDiff): string {
  const {gate} = diff
  if (gate.failOn === 'never') return 'diff gate: --fail-on never'
  return gate.passed ? `diff passed (--fail-on ${gate.failOn}): nothing new or worse at ${gate.failOn} or above`
    : `diff failed (--fail-on ${gate.failOn}): ${gate.failing} new or worse at ${gate.failOn} or above`
}

export function countsText(diff: ReportDiff): string {
  return (['new', 'worse', 'resolved', 'better', 'unchanged'] as ChangeKind[]).map((k) => `${diff.counts[k]} ${k}`).join(', ')
}

/** Each change on its own lines, wrapped to the terminal: severity, rule, subject (target), value change; the message below. */
function renderTableDiff(diff: ReportDiff, color: boolean, width: number): string {
  const chalk = new Chalk({level: color ? 1 : 0})
  const out: string[] = []
  const put = (text: string, style: (s: string) => string = (x) => x, hang = '    ') => {
    const indent = /^ */.exec(text)![0]
    for (const line of wrapText(text, width, `${indent}${hang}`)) out.push(style(line))
  }
  put(`chokepoint diff: ${diff.old.file ?? 'old'} (${diff.old.generatedAt}) -> ${diff.new.file ?? 'new'} (${diff.new.generatedAt})`, chalk.bold)
  put(`verdict: ${diff.verdict.text}`)
  for (const c of diff.chokepoints.resolved) put(`  chokepoint gone: ${c}`, chalk.green)
  for (const c of diff.chokepoints.new) put(`  new chokepoint: ${c}`, chalk.red)
  put(countsText(diff))
  // Long target names go by one short name, as in the report's table, each listed once in full.
  const names = shortTargetNames([...new Set(diff.changes.map((c) => c.target))])
  const short = (t: string) => names.get(t) ?? t
  for (const [full, name] of names) if (name !== full) put(`  ${name} = ${full}`, chalk.dim)
  for (const kind of ['new', 'worse', 'resolved', 'better'] as ChangeKind[]) {
    const changes = diff.changes.filter((c) => c.change === kind)
    if (changes.length === 0) continue
    put(`${HEADING[kind]} (${changes.length})`, chalk.bold)
    for (const c of changes) {
      put(`  ${severityText(c)} ${c.rule} ${c.subject} (${short(c.target)}): ${c.valueText}`, paint(chalk, c.severity.new ?? c.severity.old))
      put(`      ${c.message}`, chalk.dim, '  ')
    }
  }
  const moved = diff.changes.filter((c) => c.change === 'unchanged' && c.value.delta !== null && c.value.delta !== 0)
  if (moved.length) {
    put(`Same severity, value moved (${moved.length})`, chalk.bold)
    for (const c of moved) put(`  ${c.severity.new} ${c.rule} ${c.subject} (${short(c.target)}): ${c.valueText}`)
  }
  put(gateText(diff), diff.gate.passed ? chalk.green : chalk.red.bold)
  return `${out.join('\n')}\n`
}

function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')
}

function renderMarkdownDiff(diff: ReportDiff): string {
  const out = [`## ${diff.gate.passed ? '✅' : '❌'} chokepoint diff: ${gateText(diff)}`, '']
  out.push(`**Verdict:** ${cell(diff.verdict.text)}`, '')
  for (const c of diff.chokepoints.resolved) out.push(`- chokepoint gone: ${cell(c)}`)
  for (const c of diff.chokepoints.new) out.push(`- new chokepoint: ${cell(c)}`)
  if (diff.chokepoints.resolved.length || diff.chokepoints.new.length) out.push('')
  out.push(countsText(diff), '')
  const listed = diff.changes.filter((c) => c.change !== 'unchanged' || (c.value.delta !== null && c.value.delta !== 0))
  if (listed.length) {
    out.push('| change | severity | rule | target | subject | value | finding |', '| --- | --- | --- | --- | --- | --- | --- |')
    for (const c of listed) {
      out.push(`| ${c.change} | ${severityText(c)} | \`${c.rule}\` | ${cell(c.target)} | ${cell(c.subject)} | ${cell(c.valueText)} | ${cell(c.message)} |`)
    }
    out.push('')
  }
  out.push(`<sub>${cell(diff.old.file ?? 'old')} (${diff.old.generatedAt}) → ${cell(diff.new.file ?? 'new')} (${diff.new.generatedAt})</sub>`, '')
  return out.join('\n')
}

/**
 * Renders a diff in the formats that need only the diff (not html or sarif); the caller scrubs the text with the run's
 * secrets (findings' messages came from the reports).
 */
export function renderDiff(diff: ReportDiff, format: 'table' | 'markdown' | 'json', options: {color?: boolean; width?: number} = {}): string {
  if (format === 'json') return `${JSON.stringify(diff, null, 2)}\n`
  if (format === 'markdown') return renderMarkdownDiff(diff)
  return renderTableDiff(diff, Boolean(options.color), Math.max(40, options.width ?? 120))
}
