/**
 * `chokepoint diff --format html`: one small self-contained page, with the HTML report's style and escaping. The
 * verdict change first, then the chokepoints gone and new, then one table per change (new, worse, resolved, better,
 * and values that moved at the same severity). The diff itself is embedded as JSON, as the report page embeds its report.
 */
import type {ChangeKind, FindingChange, ReportDiff} from '../../core/diff.js'
import {countsText, gateText, HEADING, severityText} from '../diff.js'
import {STYLE} from './assets.js'
import {esc, jsonForScript} from './escape.js'

function changeTable(kind: ChangeKind | 'moved', title: string, changes: FindingChange[]): string {
  if (changes.length === 0) return ''
  const rows = changes.map((c) => {
    const severity = c.severity.new ?? c.severity.old!
    return `<tr data-change="${esc(c.change)}" data-finding="${esc(c.id)}"><td><span class="badge ${esc(severity)}">${esc(severityText(c))}</span></td>`
      + `<td><code>${esc(c.rule)}</code></td><td>${esc(c.subject)}</td><td>${esc(c.target)}</td><td>${esc(c.valueText)}</td><td>${esc(c.message)}</td></tr>`
  })
  return `<h2 id="${kind}">${esc(title)} <span class="muted small">(${changes.length})</span></h2>`
    + `<table class="changes" data-kind="${kind}"><thead><tr><th>severity</th><th>rule</th><th>subject</th><th>target</th><th>value</th><th>finding</th></tr></thead>`
    + `<tbody>${rows.join('')}</tbody></table>`
}

function sideText(side: ReportDiff['old']): string {
  return `${side.file ?? ''} (${side.generatedAt}): ${!side.passed ? 'failed' : side.incomplete ? 'passed, incomplete' : 'passed'}, `
    + `${side.summary.critical} critical, ${side.summary.warning} warning, ${side.summary.info} info`
}

export function renderHtmlDiff(diff: ReportDiff): string {
  const state = diff.gate.passed ? 'passed' : 'failed'
  const chokepoints = [
    ...diff.chokepoints.resolved.map((c) => `<li data-chokepoint="resolved">gone: ${esc(c)}</li>`),
    ...diff.chokepoints.new.map((c) => `<li data-chokepoint="new">new: ${esc(c)}</li>`),
  ]
  const tables = (['new', 'worse', 'resolved', 'better'] as ChangeKind[]).map((k) => changeTable(k, HEADING[k], diff.changes.filter((c) => c.change === k)))
  const moved = diff.changes.filter((c) => c.change === 'unchanged' && c.value.delta !== null && c.value.delta !== 0)
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><meta name="generator" content="chokepoint ${esc(diff.tool.version)}">
<title>${esc(`chokepoint diff: ${gateText(diff)}`)}</title><style>${STYLE}
.changes .badge{white-space:nowrap}</style></head>
<body><main>
<h1>chokepoint diff</h1>
<p class="muted">before: ${esc(sideText(diff.old))}<br>after: ${esc(sideText(diff.new))}</p>
<section class="verdict ${state}" id="verdict" data-verdict="${state}" data-verdict-changed="${diff.verdict.changed}"><strong>${esc(gateText(diff))}</strong>
<div>verdict: ${esc(diff.verdict.text)}</div><div class="muted small">${esc(countsText(diff))}</div></section>
${chokepoints.length ? `<h2 id="chokepoints">Chokepoints</h2><ul class="chokepoints">${chokepoints.join('')}</ul>` : ''}
${tables.join('\n')}
${changeTable('moved', 'Same severity, value moved', moved)}
<footer>chokepoint ${esc(diff.tool.version)}; the diff as JSON is embedded in this page (element #chokepoint-diff).</footer>
</main>
<script type="application/json" id="chokepoint-diff">${jsonForScript(diff)}</script>
</body></html>
`
}
