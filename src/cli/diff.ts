import {readFileSync} from 'node:fs'
import {analyseSnapshot} from '../core/audit.js'
import {applyBaseline, diffReports, type ReportDiff} from '../core/diff.js'
import {ConfigError, UsageError} from '../core/errors.js'
import {readSavedDocument} from '../core/snapshot-io.js'
import type {FailOn, Report} from '../core/types.js'
import {DIFF_FORMATS, renderDiff} from '../reporters/diff.js'
import {renderHtmlDiff} from '../reporters/html/diff-page.js'
import {renderSarifDiff} from '../reporters/sarif.js'
import type {CliContext} from './context.js'
import {resolveRun, useColor, type CommonFlags} from './options.js'
import {checkOutputs, parseOutputs, runFiles, writeRendered, type OutputFlags, type OutputSpec} from './outputs.js'

/** Whether a parsed file is a diff (`chokepoint diff --format json`), which is neither a report nor a snapshot. */
function isDiffDocument(file: string): boolean {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
    return typeof doc === 'object' && doc !== null && 'changes' in doc && 'verdict' in doc
  } catch {
    return false
  }
}

/**
 * A saved report as it is, or a snapshot analysed with the current rules and config (as `chokepoint report` does):
 * both sides of a diff are judged by the same rules when they are snapshots.
 */
export async function savedReport(file: string, flags: CommonFlags, ctx: CliContext, failOn: FailOn): Promise<Report> {
  if (isDiffDocument(file)) throw new ConfigError(`${file} is a diff, not a report or snapshot: pass the files the diff was made from`)
  const doc = readSavedDocument(file)
  if (doc.kind === 'report') return doc.report
  const run = await resolveRun(flags, {needTargets: false}, ctx)
  // Dated when the state was read, not when it was analysed: what a reader of the diff compares.
  return {...await analyseSnapshot(doc.snapshot, {...ctx, config: run.config, failOn, source: 'snapshot'}), generatedAt: doc.snapshot.capturedAt}
}

export interface DiffFlags extends CommonFlags, OutputFlags {}

export async function runDiff(oldFile: string, newFile: string, flags: DiffFlags, ctx: CliContext): Promise<ReportDiff> {
  const given = flags.format === undefined ? [] : [flags.format].flat()
  if (given.some((f) => f.split('=')[0].trim() === 'junit')) {
    throw new UsageError(`--format junit: chokepoint diff renders ${DIFF_FORMATS.join(', ')}; a diff is no test run: \`chokepoint check --from-snapshot NEW --baseline OLD --format junit\` gives the JUnit of what is new or worse`)
  }
  const outputs = parseOutputs(flags, 'table', [...DIFF_FORMATS])
  checkOutputs(outputs)
  const failOn = (flags['fail-on'] ?? 'critical') as FailOn
  const oldReport = await savedReport(oldFile, flags, ctx, failOn)
  const newReport = await savedReport(newFile, flags, ctx, failOn)
  const diff = diffReports(oldReport, newReport, {failOn, oldFile, newFile})
  const render = (spec: OutputSpec): string => {
    if (spec.format === 'html') return renderHtmlDiff(diff)
    if (spec.format === 'sarif') return sarifOfDiff(oldReport, newReport, diff, failOn, flags, ctx)
    const toFile = spec.path !== undefined
    const width = toFile ? undefined : process.stdout.columns || Number(process.env.COLUMNS) || undefined
    return renderDiff(diff, spec.format as 'table' | 'markdown' | 'json', {color: useColor(flags, toFile), width})
  }
  writeRendered(outputs.map((spec) => ({spec, text: render(spec)})), ctx)
  process.exitCode = diff.gate.exitCode
  return diff
}

/**
 * The diff as SARIF: NEW judged against OLD as `check --baseline OLD` would (so each result has its baselineState),
 * and OLD's resolved findings as "absent" results. The rules of both reports describe them.
 */
function sarifOfDiff(oldReport: Report, newReport: Report, diff: ReportDiff, failOn: FailOn, flags: DiffFlags, ctx: CliContext): string {
  const {report} = applyBaseline({...newReport, gate: {...newReport.gate, failOn}}, oldReport, diff.old.file ?? 'old')
  const resolvedIds = new Set(diff.changes.filter((c) => c.change === 'resolved').map((c) => c.id))
  const ruleIds = new Set((newReport.rules ?? []).map((r) => r.id))
  const rules = [...(newReport.rules ?? []), ...(oldReport.rules ?? []).filter((r) => !ruleIds.has(r.id))]
  const warn = (line: string) => process.stderr.write(`${ctx.secrets.scrub(line)}\n`)
  return renderSarifDiff({report, rules, options: {color: false, verbose: false, files: runFiles(flags, flags.config), warn}},
    oldReport.findings.filter((f) => resolvedIds.has(f.id)))
}

/** `check --baseline FILE`: the report, its gate judging only what is new or worse than in the baseline. */
export async function withBaseline(report: Report, file: string, flags: CommonFlags, ctx: CliContext): Promise<{report: Report; fresh: Set<string>}> {
  const baseline = await savedReport(file, flags, ctx, report.gate.failOn)
  const {report: gated, fresh} = applyBaseline(report, baseline, file)
  return {report: gated, fresh}
}
