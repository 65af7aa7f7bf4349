/**
 * `--format html`: one self-contained page for an on-call review, readable offline in any browser. The verdict and
 * the chokepoints first, then the findings grouped under their causes (evidence folded, remedies with a copy
 * button), then charts drawn here as inline SVG, the checks, and what could not be read. Style and script are
 * inline and nothing is fetched; the report itself is embedded as JSON. Every text from a target, a config or a
 * report file is escaped.
 */
import type {Reporter} from '../core/reporter.js'
import type {Finding, Remedy, Report} from '../core/types.js'
import {baselineChange, checksLine, displayOrder, fleetFindingText, fleetText, gapText, gateLine, incompleteText, knownInBaseline, noFindingsLine, pathVerdictText, remedyCode, remedyIndex, shareText, thresholdText, type DisplayedFinding} from './format-helpers.js'
import {STYLE, SCRIPT} from './html/assets.js'
import {buildCharts, type Chart} from './html/charts.js'
import {esc, jsonForScript} from './html/escape.js'

type RemedyIndex = ReturnType<typeof remedyIndex>

/** Evidence values: numbers and short strings as they are, anything else as JSON, cut to stay readable. */
function evidenceValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  const cut = text && text.length > 2000 ? `${text.slice(0, 1999)}…` : text ?? ''
  return typeof value === 'string' && value.length < 200 && !value.includes('\n') ? esc(cut) : `<pre><code>${esc(cut)}</code></pre>`
}

function codeBlock(code: string, lang: string): string {
  return `<div class="code-wrap"><pre><code class="lang-${esc(lang)}">${esc(code)}</code></pre><button class="copy" type="button" aria-label="copy">copy</button></div>`
}

function remedyHtml(r: Remedy, index: RemedyIndex): string {
  const code = remedyCode(r)
  const refs = (r.refs ?? []).map((id) => index.get(id)).filter((x) => x !== undefined).map((x) => `<a href="#finding-${x.number}">[${x.number}] ${esc(x.remedy.kind)}</a>`)
  return `<div class="remedy" id="remedy-${esc(r.id)}"><strong>${esc(r.kind)}</strong>: ${esc(r.summary)}${refs.length ? ` (see ${refs.join(', ')})` : ''}`
    + `${code ? codeBlock(code, r.sql ? 'sql' : 'sh') : ''}</div>`
}

/** With check --baseline: a finding the gate ignored is "known in baseline", one whose severity rose "worse than in baseline". */
function baselineBadge(report: Report, f: Finding): string {
  const change = baselineChange(report, f.id)
  const file = report.gate.baseline?.file ?? ''
  if (knownInBaseline(report, f.id)) return ` <span class="badge known" data-baseline="${esc(change!)}" title="${esc(`already in ${file}: the gate ignored it`)}">known in baseline</span>`
  if (change === 'worse') return ` <span class="badge worse" data-baseline="worse" title="${esc(`less severe in ${file}`)}">worse than in baseline</span>`
  return ''
}

function findingHtml({finding: f, depth, number}: DisplayedFinding, index: RemedyIndex, causeNumber: Map<string, number>, report: Report): string {
  const threshold = thresholdText(f)
  const cause = f.causeId ? causeNumber.get(f.causeId) : undefined
  const evidence = Object.entries(f.evidence ?? {})
  return `<div class="finding depth-${Math.min(depth, 3)}" id="finding-${number}" data-finding="${esc(f.id)}" data-severity="${esc(f.severity)}">`
    + `<div class="head"><span class="num">[${number}]</span><span class="badge ${esc(f.severity)}">${esc(f.severity)}</span> `
    + `${depth > 0 ? '↳ ' : ''}<code>${esc(f.rule)}</code> on <span class="subject">${esc(f.subject)}</span> <span class="muted">(${esc(f.target)})</span>`
    + `${cause ? ` <span class="explained">explained by <a href="#finding-${cause}">[${cause}]</a></span>` : ''}${baselineBadge(report, f)}</div>`
    + `<div class="message">${esc(f.message)}</div>`
    + `${threshold ? `<div class="muted small">threshold: ${esc(threshold)}${f.value === null ? '' : `; value ${esc(f.value)}`}</div>` : ''}`
    + `${evidence.length ? `<details class="evidence"><summary>evidence</summary><table>${evidence.map(([k, v]) => `<tr><td><code>${esc(k)}</code></td><td>${evidenceValue(v)}</td></tr>`).join('')}</table></details>` : ''}`
    + f.remedies.map((r) => remedyHtml(r, index)).join('')
    + '</div>'
}

function verdictHtml(report: Report): string {
  const state = !report.gate.passed ? 'failed' : report.gate.incomplete ? 'incomplete' : 'passed'
  const headline = state === 'failed' ? 'Gate failed' : state === 'incomplete' ? 'Audit incomplete' : 'Gate passed'
  const also = !report.gate.passed && report.gate.incomplete ? `<div>${esc(incompleteText(report))}</div>` : ''
  const {baseline} = report.gate
  const known = baseline ? `<div class="baseline" data-known="${baseline.ignored}" data-failing="${baseline.failing}"><span class="badge known">known in baseline</span> `
    + `${esc(`${baseline.ignored} known finding${baseline.ignored === 1 ? '' : 's'} of ${baseline.file} ignored by the gate; ${baseline.failing} new or worse at --fail-on ${report.gate.failOn} or above`)}</div>` : ''
  return `<section class="verdict ${state}" id="verdict" data-verdict="${state}"><strong>${headline}</strong> <span class="muted">(exit ${report.gate.exitCode})</span>`
    + `<div>${esc(gateLine(report))}</div>${known}${also}</section>`
}

function pathVerdictHtml(report: Report): string {
  const path = pathVerdictText(report)
  if (!path || !report.verdict) return ''
  return `<section class="path" id="path-verdict" data-path="${esc(report.verdict.path)}"><strong>${esc(path.headline)}</strong>`
    + `<div>because ${esc(path.because)}</div><div class="muted small">would change: ${esc(path.wouldChange)}</div></section>`
}

function fleetHtml(report: Report): string {
  if (!report.fleet) return ''
  const fleet = fleetText(report.fleet)
  const groups = fleet.groups.map((g) => `<li${g.label ? ` data-group="${esc(g.label)}"` : ''}>${g.line ? `<strong>${esc(g.line)}</strong>` : ''}`
    + `${g.worst.length || g.skipped ? `<ul>${g.worst.map((f) => `<li class="sev-${esc(f.severity)}">${esc(fleetFindingText(f))}</li>`).join('')}${g.skipped ? `<li class="muted">${esc(g.skipped)}</li>` : ''}</ul>` : ''}</li>`)
  return `<section class="fleet" id="fleet"><h2>Fleet: ${esc(fleet.line)}</h2><ul>${groups.join('')}</ul></section>`
}

function targetsHtml(report: Report): string {
  const rows = report.targets.map((t) => `<tr><td>${esc(t.name)}</td><td>${esc(t.kind)}</td><td><code>${esc(t.url)}</code></td><td>${t.status === 'ok' ? 'ok' : `${esc(t.status)}: ${esc(t.error ?? '')}`}</td></tr>`)
  return `<table class="targets"><thead><tr><th>target</th><th>kind</th><th>url</th><th>status</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function diagnosisHtml(report: Report, order: DisplayedFinding[], index: RemedyIndex): string {
  if (!report.diagnosis?.length) return ''
  const numberOf = new Map(order.map((d) => [d.finding.id, d.number]))
  const byId = new Map(report.findings.map((f) => [f.id, f]))
  const items = report.diagnosis.map((d) => {
    const cause = byId.get(d.cause)
    const n = numberOf.get(d.cause)
    const explained = d.explains.map((id) => numberOf.get(id)).filter((x) => x !== undefined).sort((a, b) => a - b)
    const remedy = d.remedy ? index.get(d.remedy) : undefined
    const code = remedy ? remedyCode(remedy.remedy) : undefined
    return `<li class="diag ${esc(d.severity)}" data-diagnosis="${esc(d.id)}"><div><span class="badge ${esc(d.severity)}">${esc(d.severity)}</span> `
      + `<code>${esc(d.rule)}</code> on <strong>${esc(cause?.subject ?? d.target)}</strong> <span class="muted">(${esc(d.target)})</span>`
      + `${n ? ` <a href="#finding-${n}">[${n}]</a>` : ''}: <span class="share">${esc(shareText(d))}</span></div>`
      + `<div>${esc(d.summary)}</div><div class="muted small">measured: ${esc(d.weight.measuredBy)}</div>`
      + `${remedy ? `<div class="remedy">fix: <strong>${esc(remedy.remedy.kind)}</strong>: ${esc(remedy.remedy.summary)}${code ? codeBlock(code, remedy.remedy.sql ? 'sql' : 'sh') : ''}</div>` : ''}`
      + `${explained.length ? `<div class="muted small">explains ${explained.map((x) => `<a href="#finding-${x}">[${x}]</a>`).join(' ')}</div>` : ''}</li>`
  })
  return `<h2 id="diagnosis">Diagnosis: the chokepoints, by measured share</h2><ol class="diagnosis">${items.join('')}</ol>`
}

/** Findings grouped by cause: each root with everything it explains, then each finding on its own. */
function findingsHtml(report: Report, order: DisplayedFinding[], index: RemedyIndex): string {
  if (report.findings.length === 0) return `<h2 id="findings">Findings</h2><p class="no-findings">${esc(noFindingsLine(report))}</p>`
  const causeNumber = new Map(order.map((d) => [d.finding.id, d.number]))
  const groups: DisplayedFinding[][] = []
  for (const d of order) {
    if (d.depth === 0) groups.push([d])
    else groups[groups.length - 1].push(d)
  }
  const body = groups.map((g) => {
    const root = g[0].finding
    const title = g.length > 1 ? `${esc(root.rule)} on ${esc(root.subject)}: explains ${g.length - 1} more` : ''
    return `<section class="group${g.length > 1 ? ' cause' : ''}">${title ? `<h3>${title}</h3>` : ''}${g.map((d) => findingHtml(d, index, causeNumber, report)).join('')}</section>`
  })
  const counts = (['critical', 'warning', 'info'] as const).map((s) => `${report.summary[s]} ${s}`).join(', ')
  return `<h2 id="findings">Findings <span class="muted small">${esc(counts)}</span></h2>${body.join('')}`
}

function chartHtml(c: Chart): string {
  if (!c.svg) return `<figure data-chart="${esc(c.id)}" data-marks="0"><figcaption>${esc(c.title)}</figcaption><p class="chart-note">${esc(c.note ?? 'No data.')}</p></figure>`
  return `<figure data-chart="${esc(c.id)}" data-marks="${c.marks}"><figcaption>${esc(c.title)}</figcaption>${c.svg}<p class="muted small">${esc(c.caption)}</p></figure>`
}

const LEGEND = '<p class="legend small"><span><i style="background:var(--crit)"></i>critical</span><span><i style="background:var(--warn)"></i>warning</span>'
  + '<span><i style="background:var(--info)"></i>info</span><span><i style="background:var(--ok)"></i>ok</span><span><i style="background:var(--na)"></i>not evaluated</span></p>'

function notReadHtml(report: Report): string {
  const unread = report.targets.filter((t) => t.status !== 'ok')
  const gaps = report.notRead ?? []
  if (unread.length === 0 && gaps.length === 0 && report.skipped.length === 0) return ''
  const items = [
    ...unread.map((t) => `<li><strong>${esc(t.name)}</strong> (${esc(t.kind)}): ${t.status === 'error' ? 'error' : 'not read'}: ${esc(t.error ?? t.status)}</li>`),
    ...gaps.map((g) => `<li>${esc(g.target)} <code>${esc(g.probe)}</code>: ${esc(gapText(g))}${g.fix ? `; fix:${codeBlock(g.fix, 'sql')}` : ''}</li>`),
    ...report.skipped.map((s) => `<li>${esc(s.target)} <code>${esc(s.probe)}</code>: ${s.status === 'error' ? 'failed' : 'skipped'}: ${esc(s.reason)}</li>`),
  ]
  return `<h2 id="not-read">Not read</h2><ul class="not-read">${items.join('')}</ul>`
}

export const renderHtml: Reporter = (ctx) => {
  const {report} = ctx
  const order = displayOrder(report)
  const index = remedyIndex(order)
  const charts = buildCharts(ctx)
  const heat = charts.find((c) => c.id === 'checks-heatmap')!
  const title = `chokepoint: ${gateLine(report)}`
  const source = report.source === 'live' ? 'live audit' : 'from a snapshot'
  const window = report.windowSeconds ? `${report.windowSeconds}s window` : 'counters since the last statistics reset'
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><meta name="generator" content="chokepoint ${esc(report.tool.version)}">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><main>
<h1>chokepoint report</h1>
<p class="muted">${esc(source)}, ${esc(window)}, generated ${esc(report.generatedAt)} by chokepoint ${esc(report.tool.version)}</p>
${verdictHtml(report)}
${pathVerdictHtml(report)}
${fleetHtml(report)}
${targetsHtml(report)}
${diagnosisHtml(report, order, index)}
${findingsHtml(report, order, index)}
<h2 id="charts">Charts</h2>
<div class="charts">${charts.filter((c) => c !== heat).map(chartHtml).join('')}</div>
<h2 id="checks">Checks</h2>
<p>${esc(checksLine(report))}</p>
${chartHtml(heat)}${heat.svg ? LEGEND : ''}
${notReadHtml(report)}
<footer>chokepoint ${esc(report.tool.version)}; the report as JSON is embedded in this page (element #chokepoint-report).</footer>
</main>
<script type="application/json" id="chokepoint-report">${jsonForScript(report)}</script>
<script>${SCRIPT}</script>
</body></html>
`
}
