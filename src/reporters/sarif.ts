import {isAbsolute, relative, resolve, sep} from 'node:path'
import {pathToFileURL} from 'node:url'
import type {RuleInfo} from '../core/checks.js'
import type {Reporter, ReporterContext, RunFiles} from '../core/reporter.js'
import {SEVERITY_RANK, type BaselineChange, type Finding, type Report, type Severity} from '../core/types.js'
import {baselineChange, gapText, incompleteText, thresholdText} from './format-helpers.js'

/**
 * SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer). One run; one rule per rule of the report, one
 * result per finding. GitHub rejects a result without a physical location, so each is anchored to a file of the
 * repository: the --queries file and line a statement finding's statement came from (evidence.origin), else the
 * config file the run used, else the --sarif-anchor file (chokepoint.config.yaml or README.md), line 1.
 */

/** GitHub code scanning accepts at most this many results per run (docs: "SARIF support for code scanning", limits). */
export const SARIF_MAX_RESULTS = 25_000
/** The base every location is relative to; originalUriBaseIds says where it was on the machine that ran. */
export const SRCROOT = 'SRCROOT'
/** The partialFingerprints key: the finding id, a hash of rule + target + subject, the same in every run. */
export const FINGERPRINT_KEY = 'chokepointFindingId/v1'

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {critical: 'error', warning: 'warning', info: 'note'}

type BaselineState = 'new' | 'unchanged' | 'updated' | 'absent'
/**
 * SARIF 2.1.0 §3.27.24 baselineState. A severity that moved either way is "updated" (the spec: present in both, changed
 * in a way the tool considers significant); the result's properties.baselineChange says which way, and only "new"
 * and worse ones counted towards the gate.
 */
const BASELINE_STATE: Record<BaselineChange, BaselineState> = {new: 'new', unchanged: 'unchanged', worse: 'updated', better: 'updated'}

type Json = Record<string, unknown>

export const renderSarif: Reporter = (ctx) => sarifText(ctx, [])

/**
 * `chokepoint diff --format sarif`: the NEW report's results, re-gated against OLD (applyBaseline) so each carries its
 * baselineState, and each finding OLD had and NEW has not as a result with baselineState "absent", as SARIF viewers
 * compare runs. `rules` should cover both reports' rules.
 */
export function renderSarifDiff(ctx: ReporterContext, resolved: Finding[]): string {
  return sarifText(ctx, resolved)
}

function sarifText({report, rules, options}: ReporterContext, absent: Finding[]): string {
  const files = options.files ?? {root: resolve('.'), cwd: resolve('.'), anchor: resolve('README.md')}
  const ruleList = driverRules([...report.findings, ...absent], rules)
  const ruleIndex = new Map(ruleList.map((r, i) => [r.id as string, i]))
  const bySeverity = (a: Finding, b: Finding) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]
  const changeOf = new Map<Finding, BaselineChange | 'resolved'>()
  for (const f of report.findings) {
    const change = baselineChange(report, f.id)
    if (change) changeOf.set(f, change)
  }
  for (const f of absent) changeOf.set(f, 'resolved')
  // What is present comes before what is gone: past GitHub's limit, the absent ones are cut first.
  const ordered = [...[...report.findings].sort(bySeverity), ...[...absent].sort(bySeverity)]
  const kept = ordered.slice(0, SARIF_MAX_RESULTS)
  const cut = ordered.slice(SARIF_MAX_RESULTS)
  const notifications: Json[] = executionNotifications(report)
  const {baseline, ...gate} = report.gate
  const properties: Json = {gate, summary: report.summary, source: report.source, windowSeconds: report.windowSeconds}
  // The path verdict is not a result (nothing to anchor or fix in a file): the run says it, for tools that read runs.
  if (report.verdict) properties.scalingPath = {path: report.verdict.path, headline: report.verdict.headline, target: report.verdict.target, decidedBy: report.verdict.decidedBy}
  if (baseline) properties.baseline = baselineSummary(report, absent.length)
  if (cut.length > 0) {
    const bySeverity = {critical: 0, warning: 0, info: 0}
    for (const f of cut) bySeverity[f.severity]++
    const text = `${cut.length} of ${ordered.length} findings left out of the SARIF (${bySeverity.critical} critical, ${bySeverity.warning} warning, ${bySeverity.info} info): GitHub accepts at most ${SARIF_MAX_RESULTS} results per run; the least severe were cut, the JSON report has them all.`
    properties.resultsOmitted = {count: cut.length, of: ordered.length, ...bySeverity, limit: SARIF_MAX_RESULTS}
    notifications.unshift({level: 'warning', message: {text}, descriptor: {id: 'results-omitted'}})
    options.warn?.(`sarif: ${text}`)
  }
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{
      tool: {driver: {name: 'chokepoint', semanticVersion: report.tool.version, version: report.tool.version, rules: ruleList}},
      originalUriBaseIds: {[SRCROOT]: {uri: directoryUri(files.root)}},
      invocations: [{
        executionSuccessful: !report.gate.incomplete,
        endTimeUtc: report.generatedAt,
        ...(notifications.length ? {toolExecutionNotifications: notifications} : {}),
      }],
      results: kept.map((f) => result(f, ruleIndex, files, changeOf.get(f))),
      properties,
    }],
  }
  return `${JSON.stringify(sarif, null, 2)}\n`
}

/**
 * The run's baseline in numbers: `known` are the findings the gate ignored (unchanged or better), `failing` the new or
 * worse ones at or above --fail-on; `absent` the baseline's findings this run no longer has (a diff only lists them).
 */
function baselineSummary(report: Report, absent: number): Json {
  const baseline = report.gate.baseline!
  const tally: Record<BaselineChange, number> = {new: 0, worse: 0, better: 0, unchanged: 0}
  for (const change of Object.values(baseline.changes ?? {})) tally[change]++
  return {file: baseline.file, known: baseline.ignored, failing: baseline.failing, ...tally, absent}
}

/** The report's rules, plus a bare entry for a finding's rule the report does not describe (an old report). */
function driverRules(findings: Finding[], rules: RuleInfo[]): Json[] {
  const out = rules.map(driverRule)
  const known = new Set(rules.map((r) => r.id))
  for (const f of findings) {
    if (known.has(f.rule)) continue
    known.add(f.rule)
    const text = `${f.rule}: this report does not describe the rule; \`chokepoint rules show ${f.rule}\` does.`
    out.push({id: f.rule, name: friendlyName(f.rule), shortDescription: {text: sentence(f.rule)}, fullDescription: {text}, help: {text, markdown: text},
      properties: {tags: ['chokepoint', f.area]}})
  }
  return out
}

function driverRule(rule: RuleInfo): Json {
  const thresholds = [rule.thresholds.target ? `target ${rule.thresholds.target}` : '', rule.thresholds.action ? `act ${rule.thresholds.action}` : ''].filter(Boolean).join(', ')
  const docs = rule.docs?.trim() ?? ''
  const markdown = [
    `**${rule.title}** (\`${rule.id}\`, ${rule.kind === 'advisor' ? `advisor \`${rule.advisor}\`` : `metric \`${rule.metric}\``})`,
    rule.description,
    thresholds ? `Thresholds: ${thresholds}${rule.unit ? ` (${rule.unit})` : ''}.` : '',
    docs,
    rule.source ? `Source: ${rule.source}` : '',
    `\`chokepoint rules show ${rule.id}\` prints the rule as it applies, with a config file's overrides.`,
  ].filter(Boolean)
  return {
    id: rule.id,
    name: friendlyName(rule.id),
    shortDescription: {text: sentence(rule.title)},
    fullDescription: {text: sentence(rule.description || rule.title)},
    help: {text: markdown.join('\n\n').replace(/\*\*|`/g, ''), markdown: markdown.join('\n\n')},
    defaultConfiguration: {level: rule.severity && rule.severity in LEVEL ? LEVEL[rule.severity as Severity] : 'warning'},
    properties: {tags: ['chokepoint', rule.area], kind: rule.kind, ...(rule.unit ? {unit: rule.unit} : {}), thresholds: rule.thresholds, ...(rule.source ? {source: rule.source} : {})},
  }
}

function result(f: Finding, ruleIndex: Map<string, number>, files: RunFiles, change: BaselineChange | 'resolved' | undefined): Json {
  const where = locationOf(f, files)
  const state = change === undefined ? undefined : change === 'resolved' ? 'absent' : BASELINE_STATE[change]
  return {
    ruleId: f.rule,
    ...(ruleIndex.has(f.rule) ? {ruleIndex: ruleIndex.get(f.rule)} : {}),
    level: LEVEL[f.severity],
    ...(state ? {baselineState: state} : {}),
    message: {text: sentence(`${f.target}: ${f.message}`)},
    locations: [{
      physicalLocation: {artifactLocation: {uri: where.uri, uriBaseId: SRCROOT}, region: {startLine: where.line}},
      logicalLocations: [{name: f.subject, fullyQualifiedName: `${f.target}/${f.subject}`, kind: 'resource'}],
    }],
    partialFingerprints: {[FINGERPRINT_KEY]: f.id},
    properties: {
      findingId: f.id,
      severity: f.severity,
      area: f.area,
      target: f.target,
      subject: f.subject,
      metric: f.metric,
      value: f.value,
      threshold: thresholdText(f) || null,
      ...(f.causeId ? {causeId: f.causeId} : {}),
      remedies: f.remedies.map((r) => ({id: r.id, kind: r.kind, summary: r.summary, ...(r.sql ? {sql: r.sql} : {}), ...(r.command ? {command: r.command} : {})})),
      ...(where.origin ? {anchoredTo: where.origin} : {}),
      ...(change ? {baselineChange: change} : {}),
    },
  }
}

/**
 * Where a finding points: its statement's line in the --queries file it came from, else the config file, else the
 * anchor. Only files inside the repository root count (GitHub takes relative paths); the anchor is used as named
 * when it is outside.
 */
export function locationOf(f: Finding, files: RunFiles): {uri: string; line: number; origin?: 'queries' | 'config' | 'anchor'} {
  const origin = f.evidence?.origin as {file?: unknown; line?: unknown} | undefined
  if (origin && typeof origin.file === 'string' && typeof origin.line === 'number' && Number.isInteger(origin.line) && origin.line >= 1) {
    const uri = repoUri(resolve(files.cwd, origin.file), files.root)
    if (uri) return {uri, line: origin.line, origin: 'queries'}
  }
  if (files.config) {
    const uri = repoUri(resolve(files.cwd, files.config), files.root)
    if (uri) return {uri, line: 1, origin: 'config'}
  }
  const anchor = resolve(files.cwd, files.anchor)
  return {uri: repoUri(anchor, files.root) ?? encodePath(files.anchor.split(sep).filter((s) => s && s !== '..').join('/')), line: 1, origin: 'anchor'}
}

/** A path inside the root as a relative URI reference ("db/queries.sql", segments percent-encoded); else undefined. */
function repoUri(path: string, root: string): string | undefined {
  const rel = relative(root, path)
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return undefined
  return encodePath(rel.split(sep).join('/'))
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}

function directoryUri(dir: string): string {
  const href = pathToFileURL(dir).href
  return href.endsWith('/') ? href : `${href}/`
}

/** What the run could not do, as the invocation's notifications: unread targets, failed readings, gaps. */
function executionNotifications(report: Report): Json[] {
  const out: Json[] = []
  if (report.gate.incomplete) out.push({level: 'error', message: {text: sentence(incompleteText(report))}, descriptor: {id: 'audit-incomplete'}})
  for (const t of report.targets.filter((x) => x.status !== 'ok')) {
    out.push({level: 'error', message: {text: sentence(`target ${t.name} not read: ${t.error ?? t.status}`)}, descriptor: {id: 'target-not-read'}})
  }
  for (const s of report.skipped.filter((x) => x.status === 'error')) {
    out.push({level: 'error', message: {text: sentence(`${s.target} ${s.probe} failed: ${s.reason}`)}, descriptor: {id: 'reading-failed'}})
  }
  for (const g of report.notRead ?? []) {
    out.push({level: 'warning', message: {text: sentence(`${g.target} ${g.probe}: ${gapText(g)}${g.fix ? `; fix: ${g.fix}` : ''}`)}, descriptor: {id: 'not-read'}})
  }
  return out
}

/** "database/missing-index" -> "DatabaseMissingIndex": SARIF's friendly rule name. */
function friendlyName(id: string): string {
  return id.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('')
}

/** SARIF messages are sentences: they end with a period (the multitool's SARIF2001). */
function sentence(text: string): string {
  const t = text.trim()
  return /[.!?]$/.test(t) ? t : `${t}.`
}
