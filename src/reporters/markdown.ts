import type {Finding} from '../core/types.js'
import {checksLine, gapText, gateLine, incompleteText, noFindingsLine, remedyCode, thresholdText} from './format-helpers.js'
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

function remediesBlock(f: Finding): string {
  const lines = f.remedies.map((r) => {
    const code = remedyCode(r)
    return `- **${r.kind}**: ${r.summary}${code ? `\n\n${fence(code, r.sql ? 'sql' : 'sh').split('\n').map((l) => `  ${l}`).join('\n')}` : ''}`
  })
  return lines.join('\n')
}

/** GitHub-flavoured Markdown, sized for $GITHUB_STEP_SUMMARY: a summary, a findings table, remedies folded. */
export const renderMarkdown: Reporter = ({report}) => {
  const status = !report.gate.passed ? '❌' : report.gate.incomplete ? '⚠️' : '✅'
  const out: string[] = [`## ${status} chokepoint: ${gateLine(report)}`, '']
  // A failed gate heads the report; that the audit is also incomplete must not wait for the Not read section.
  if (!report.gate.passed && report.gate.incomplete) out.push(`> ⚠️ ${cell(incompleteText(report))}`, '')
  out.push(`| target | kind | status |`, `| --- | --- | --- |`)
  for (const t of report.targets) out.push(`| ${cell(t.name)} | ${t.kind} | ${cell(t.status === 'ok' ? 'ok' : `${t.status}: ${t.error ?? ''}`)} |`)
  out.push('')
  if (report.findings.length === 0) {
    out.push(cell(noFindingsLine(report)), '')
  } else {
    out.push('| | severity | rule | subject | finding | threshold |', '| --- | --- | --- | --- | --- | --- |')
    for (const f of report.findings) {
      out.push(`| ${ICON[f.severity]} | ${f.severity} | \`${f.rule}\` | ${cell(f.subject)} | ${cell(f.message)} | ${cell(thresholdText(f))} |`)
    }
    out.push('')
    const withRemedies = report.findings.filter((f) => f.remedies.length > 0)
    if (withRemedies.length > 0) {
      out.push('### Remedies', '')
      for (const f of withRemedies) {
        out.push(`<details><summary>${ICON[f.severity]} <code>${f.rule}</code> on ${cell(f.subject)}</summary>`, '', remediesBlock(f), '', '</details>', '')
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
