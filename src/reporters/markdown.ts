import type {Finding} from '../core/types.js'
import {checksLine, gateLine, remedyCode, thresholdText} from './format-helpers.js'
import type {Reporter} from '../core/reporter.js'

const ICON = {critical: '🔴', warning: '🟠', info: '🔵'} as const

/** Table cells must not break the table: pipes escaped, newlines folded. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')
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
  out.push(`| target | kind | status |`, `| --- | --- | --- |`)
  for (const t of report.targets) out.push(`| ${cell(t.name)} | ${t.kind} | ${cell(t.status === 'ok' ? 'ok' : `${t.status}: ${t.error ?? ''}`)} |`)
  out.push('')
  if (report.findings.length === 0) {
    out.push('No findings: every rule is inside its target band.', '')
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
  if (report.skipped.length > 0) {
    out.push('### Not read', '')
    for (const s of report.skipped) out.push(`- ${cell(s.target)} \`${s.probe}\`: skipped: ${cell(s.reason)}`)
    out.push('')
  }
  out.push(`<sub>chokepoint ${report.tool.version}, ${report.source === 'live' ? 'live audit' : 'from a snapshot'} at ${report.generatedAt}</sub>`, '')
  return out.join('\n')
}
