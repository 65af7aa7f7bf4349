import type {Finding, Report} from '../core/types.js'
import {checksLine, displayOrder, fleetFindingText, fleetText, gapText, gateLine, incompleteText, noFindingsLine, pathVerdictText, remedyCode, remedyIndex, shareText, thresholdText, type DisplayedFinding} from './format-helpers.js'
import type {Reporter} from '../core/reporter.js'

const ICON = {critical: '🔴', warning: '🟠', info: '🔵'} as const

/** Table cells must not break the table: pipes escaped, newlines folded. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')
}

/** Inline code (in list items, not table cells) that a backtick in it cannot close early: a longer backtick run. */
function codeSpan(text: string): string {
  const line = text.replace(/\r?\n/g, ' ')
  const longest = Math.max(0, ...(line.match(/`+/g) ?? []).map((run) => run.length))
  const ticks = '`'.repeat(longest + 1)
  const pad = longest > 0 || line.startsWith('`') || line.endsWith('`') ? ' ' : ''
  return `${ticks}${pad}${line}${pad}${ticks}`
}

function fence(code: string, lang: string): string {
  const ticks = code.includes('```') ? '````' : '```'
  return `${ticks}${lang}\n${code}\n${ticks}`
}

function remediesBlock(f: Finding, index: ReturnType<typeof remedyIndex>): string {
  const lines = f.remedies.map((r) => {
    const code = remedyCode(r)
    // References name a remedy listed in this report by its finding's number, or are dropped.
    const refs = (r.refs ?? []).map((id) => index.get(id)).filter((x) => x !== undefined).map((x) => `#${x.number} ${x.remedy.kind}`)
    return `- **${r.kind}**: ${r.summary}${refs.length ? ` (see ${refs.join(', ')})` : ''}${code ? `\n\n${fence(code, r.sql ? 'sql' : 'sh').split('\n').map((l) => `  ${l}`).join('\n')}` : ''}`
  })
  return lines.join('\n')
}

/** The chokepoints first: rank, cause, share and how it was measured, the one fix and the findings it explains. */
function diagnosisBlock(report: Report, order: DisplayedFinding[]): string[] {
  if (!report.diagnosis?.length) return []
  const numberOf = new Map(order.map((d) => [d.finding.id, d.number]))
  const byId = new Map(report.findings.map((f) => [f.id, f]))
  const index = remedyIndex(order)
  const out = ['### Diagnosis: the chokepoints', '']
  for (const d of report.diagnosis) {
    const cause = byId.get(d.cause)
    const explained = d.explains.map((id) => numberOf.get(id)).filter((n) => n !== undefined).sort((a, b) => a - b)
    out.push(`${d.rank}. ${ICON[d.severity]} **\`${d.rule}\`** on ${cell(cause?.subject ?? d.target)} (${cell(d.target)}), #${numberOf.get(d.cause) ?? '?'}: **${shareText(d)}**`)
    out.push(`   ${cell(d.summary)}`)
    out.push(`   <sub>measured: ${cell(d.weight.measuredBy)}</sub>`)
    const remedy = d.remedy ? index.get(d.remedy) : undefined
    if (remedy) {
      const code = remedyCode(remedy.remedy)
      out.push(`   Fix: **${remedy.remedy.kind}**: ${cell(remedy.remedy.summary)}${code ? ` \`${code.replace(/`/g, "'").replace(/\r?\n/g, ' ')}\`` : ''}`)
    }
    if (explained.length) out.push(`   Explains ${explained.map((n) => `#${n}`).join(', ')}`)
  }
  out.push('')
  return out
}

/** GitHub-flavoured Markdown, sized for $GITHUB_STEP_SUMMARY: a summary, a findings table, remedies folded. */
export const renderMarkdown: Reporter = ({report}) => {
  const status = !report.gate.passed ? '❌' : report.gate.incomplete ? '⚠️' : '✅'
  const out: string[] = [`## ${status} chokepoint: ${gateLine(report)}`, '']
  // A failed gate heads the report; that the audit is also incomplete must not wait for the Not read section.
  if (!report.gate.passed && report.gate.incomplete) out.push(`> ⚠️ ${cell(incompleteText(report))}`, '')
  if (report.fleet) {
    const fleet = fleetText(report.fleet)
    out.push(`**Fleet: ${cell(fleet.line)}**`, '')
    for (const g of fleet.groups) {
      if (g.line) out.push(`- **${cell(g.label)}**: ${cell(g.line.slice(g.label.length + 2))}`)
      const indent = g.line ? '  ' : ''
      for (const f of g.worst) out.push(`${indent}- ${ICON[f.severity]} ${cell(fleetFindingText(f))}`)
      if (g.skipped) out.push(`${indent}- ⚠️ ${cell(g.skipped)}`)
    }
    out.push('')
  }
  out.push(`| target | kind | status |`, `| --- | --- | --- |`)
  for (const t of report.targets) out.push(`| ${cell(t.name)} | ${t.kind} | ${cell(t.status === 'ok' ? 'ok' : `${t.status}: ${t.error ?? ''}`)} |`)
  out.push('')
  const path = pathVerdictText(report)
  if (path) out.push(`**${cell(path.headline)}**: ${cell(path.because)}. <sub>Would change: ${cell(path.wouldChange)}</sub>`, '')
  if (report.findings.length === 0) {
    out.push(cell(noFindingsLine(report)), '')
  } else {
    const order = displayOrder(report)
    out.push(...diagnosisBlock(report, order))
    out.push('| # | | severity | rule | subject | finding | threshold |', '| --- | --- | --- | --- | --- | --- | --- |')
    for (const {finding: f, depth, number} of order) {
      // A symptom is listed under its cause, marked as explained by it, not as a peer.
      const rule = depth > 0 ? `${'&nbsp;&nbsp;'.repeat(depth - 1)}↳ \`${f.rule}\`` : `\`${f.rule}\``
      out.push(`| ${number} | ${ICON[f.severity]} | ${f.severity} | ${rule} | ${cell(f.subject)} | ${cell(f.message)} | ${cell(thresholdText(f))} |`)
    }
    out.push('')
    const withRemedies = order.filter((d) => d.finding.remedies.length > 0)
    if (withRemedies.length > 0) {
      const index = remedyIndex(order)
      out.push('### Remedies', '')
      for (const {finding: f, number} of withRemedies) {
        out.push(`<details><summary>#${number} ${ICON[f.severity]} <code>${f.rule}</code> on ${cell(f.subject)}</summary>`, '', remediesBlock(f, index), '', '</details>', '')
      }
    }
  }
  out.push(checksLine(report), '')
  const unreadTargets = report.targets.filter((t) => t.status !== 'ok')
  const gaps = report.notRead ?? []
  if (report.skipped.length > 0 || unreadTargets.length > 0 || gaps.length > 0) {
    out.push('### Not read', '')
    for (const t of unreadTargets) out.push(`- **${cell(t.name)}** (${t.kind}): ${t.status === 'error' ? 'error' : 'not read'}: ${cell(t.error ?? t.status)}`)
    for (const g of gaps) out.push(`- ${cell(g.target)} ${codeSpan(g.probe)}: ${cell(gapText(g))}${g.fix ? `; fix: ${codeSpan(g.fix)}` : ''}`)
    for (const s of report.skipped) out.push(`- ${cell(s.target)} ${codeSpan(s.probe)}: ${s.status === 'error' ? 'failed' : 'skipped'}: ${cell(s.reason)}`)
    out.push('')
  }
  out.push(`<sub>chokepoint ${report.tool.version}, ${report.source === 'live' ? 'live audit' : 'from a snapshot'} at ${report.generatedAt}</sub>`, '')
  return out.join('\n')
}
