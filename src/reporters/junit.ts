import type {Check} from '../core/checks.js'
import type {Reporter} from '../core/reporter.js'
import {SEVERITY_RANK, type FailOn, type Finding, type Report, type Severity} from '../core/types.js'
import {gapText, knownInBaseline, remedyCode, thresholdText} from './format-helpers.js'

/**
 * JUnit XML for CI test reports (Jenkins, GitLab, Azure, CircleCI...): one testsuite per target, one testcase per
 * check of the report (passing ones included), classname `chokepoint.<area>`, a name unique in its suite per rule x
 * subject (GitLab collapses duplicates). A finding at or above --fail-on is a failure (message and remedy); a check
 * that was not evaluated is skipped with the reason; a target that could not be read, or a reading or advisor that
 * failed, is an error (the audit is incomplete). With check --baseline, a finding the baseline already had is not a
 * failure: the JUnit failures are exactly what failed the gate. The shape is schemas/junit.xsd.
 */
export const renderJunit: Reporter = ({report, rules}) => {
  const areaOf = new Map(rules.map((r) => [r.id, r.area]))
  const findings = new Map(report.findings.map((f) => [f.id, f]))
  const suites = new Map<string, Suite>()
  const suite = (target: string): Suite => {
    let s = suites.get(target)
    if (!s) suites.set(target, s = {name: target, cases: [], names: new Set(), tests: 0, failures: 0, errors: 0, skipped: 0, out: [], properties: []})
    return s
  }
  for (const t of report.targets) {
    const s = suite(t.name)
    s.properties.push(['kind', t.kind], ['url', t.url], ['status', t.status])
    if (report.gate.baseline) s.properties.push(['baseline', report.gate.baseline.file])
  }
  const failOn = report.gate.failOn as FailOn
  const covered = new Set<string>()
  for (const check of report.checks ?? []) {
    const finding = check.finding ? findings.get(check.finding) : undefined
    if (finding) covered.add(finding.id)
    addCheck(suite(check.target), check, finding, areaOf, failOn, report)
  }
  // A report without checks (version 1) still gives each finding its testcase.
  for (const f of report.findings) {
    if (covered.has(f.id)) continue
    addCheck(suite(f.target), {rule: f.rule, target: f.target, subject: f.subject, status: f.severity, value: f.value, threshold: f.threshold, finding: f.id}, f, areaOf, failOn, report)
  }
  for (const t of report.targets.filter((x) => x.status !== 'ok')) {
    addCase(suite(t.name), 'chokepoint.target', `${t.name} read`, {kind: 'error', type: t.status, message: `target ${t.name} not read: ${t.error ?? t.status}`})
  }
  for (const r of report.skipped.filter((x) => x.status === 'error')) {
    addCase(suite(r.target), 'chokepoint.probe', `${r.probe} read`, {kind: 'error', type: 'error', message: `${r.probe} failed: ${r.reason}`})
  }
  for (const g of report.notRead ?? []) suite(g.target).out.push(`not read: ${g.probe}: ${gapText(g)}${g.fix ? `; fix: ${g.fix}` : ''}`)
  for (const o of report.checksOmitted ?? []) suite(o.target).properties.push([`checksOmitted:${o.rule}`, String(o.ok)])

  const all = [...suites.values()]
  const sum = (k: 'tests' | 'failures' | 'errors' | 'skipped') => all.reduce((n, s) => n + s[k], 0)
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="chokepoint" tests="${sum('tests')}" failures="${sum('failures')}" errors="${sum('errors')}" skipped="${sum('skipped')}">`]
  for (const s of all) {
    lines.push(`  <testsuite name="${attr(s.name)}" tests="${s.tests}" failures="${s.failures}" errors="${s.errors}" skipped="${s.skipped}" timestamp="${attr(report.generatedAt)}">`)
    if (s.properties.length) {
      lines.push('    <properties>')
      for (const [name, value] of s.properties) lines.push(`      <property name="${attr(name)}" value="${attr(value)}"/>`)
      lines.push('    </properties>')
    }
    lines.push(...s.cases)
    if (s.out.length) lines.push(`    <system-out>${text(s.out.join('\n'))}</system-out>`)
    lines.push('  </testsuite>')
  }
  lines.push('</testsuites>')
  return `${lines.join('\n')}\n`
}

interface Suite {
  name: string
  cases: string[]
  names: Set<string>
  tests: number
  failures: number
  errors: number
  skipped: number
  out: string[]
  properties: Array<[string, string]>
}

interface Outcome {
  kind: 'failure' | 'error' | 'skipped' | 'out'
  type?: string
  message: string
  body?: string
}

function addCheck(s: Suite, check: Check, finding: Finding | undefined, areaOf: Map<string, string>, failOn: FailOn, report: Report): void {
  const area = finding?.area ?? areaOf.get(check.rule) ?? check.rule.split('/')[0]
  const name = `${check.rule} ${check.subject}`
  if (check.status === 'not-evaluated') {
    addCase(s, `chokepoint.${area}`, name, {kind: 'skipped', message: check.reason ?? 'not evaluated'})
    return
  }
  if (check.status === 'ok') {
    addCase(s, `chokepoint.${area}`, name, check.reason ? {kind: 'out', message: check.reason} : undefined)
    return
  }
  const severity = check.status as Severity
  const message = finding ? `${severity}: ${finding.message}` : `${severity}: ${check.rule} ${check.subject}`
  const fails = failOn !== 'never' && SEVERITY_RANK[severity] >= SEVERITY_RANK[failOn]
  const baseline = report.gate.baseline
  if (fails && finding && baseline && knownInBaseline(report, finding.id)) {
    // Skipped, not passed: GitLab's merge request widget and Jenkins' test report count and list skipped cases with
    // their message, so a known critical stays in sight without failing the pipeline; as a pass it would sink among
    // the hundreds of passing checks. Neither counts a skipped case as a failure, so the failures match the gate.
    addCase(s, `chokepoint.${area}`, name, {kind: 'skipped', type: severity, message: `known in baseline ${baseline.file}: ${message}`, body: findingBody(finding)})
    return
  }
  addCase(s, `chokepoint.${area}`, name, {kind: fails ? 'failure' : 'out', type: severity, message, body: finding ? findingBody(finding) : message})
}

/** The failure's text: what was measured against what, and each remedy with what to paste. */
function findingBody(f: Finding): string {
  const lines = [f.message]
  const threshold = thresholdText(f)
  if (f.value !== null || threshold) lines.push(`value: ${f.value ?? 'n/a'}${threshold ? ` (${threshold})` : ''}`)
  if (f.causeId) lines.push(`cause: finding ${f.causeId}`)
  lines.push(`finding: ${f.id}`)
  for (const r of f.remedies) {
    lines.push(`remedy [${r.id}] ${r.kind}: ${r.summary}`)
    const code = remedyCode(r)
    if (code) lines.push(...code.split('\n').map((l) => `  ${l}`))
  }
  return lines.join('\n')
}

function addCase(s: Suite, classname: string, wanted: string, outcome: Outcome | undefined): void {
  let name = wanted
  for (let n = 2; s.names.has(name); n++) name = `${wanted} #${n}`
  s.names.add(name)
  s.tests++
  const open = `    <testcase classname="${attr(classname)}" name="${attr(name)}" time="0"`
  if (!outcome) {
    s.cases.push(`${open}/>`)
    return
  }
  const type = outcome.type ? ` type="${attr(outcome.type)}"` : ''
  let inner: string
  if (outcome.kind === 'out') inner = `<system-out>${text(outcome.body ?? outcome.message)}</system-out>`
  else {
    if (outcome.kind === 'failure') s.failures++
    else if (outcome.kind === 'error') s.errors++
    else s.skipped++
    inner = `<${outcome.kind}${type} message="${attr(outcome.message)}"${outcome.body ? `>${text(outcome.body)}</${outcome.kind}>` : '/>'}`
  }
  s.cases.push(`${open}>\n      ${inner}\n    </testcase>`)
}

/** Characters XML 1.0 cannot carry at all (controls, lone surrogates, U+FFFE/FFFF) become U+FFFD. */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu

function text(value: string): string {
  return value.replace(NOT_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function attr(value: string): string {
  return text(value).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;')
}
