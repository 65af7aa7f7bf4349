import {readFileSync} from 'node:fs'
import {analyseSnapshot} from '../core/audit.js'
import {applyBaseline, diffReports, type ReportDiff} from '../core/diff.js'
import {ConfigError, UsageError} from '../core/errors.js'
import {checkOutputFile, readSavedDocument, writeOutput} from '../core/snapshot-io.js'
import type {FailOn, Report} from '../core/types.js'
import {DIFF_FORMATS, renderDiff, type DiffFormat} from '../reporters/diff.js'
import type {CliContext} from './context.js'
import {resolveRun, useColor, type CommonFlags} from './options.js'

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

export interface DiffFlags extends CommonFlags {
  output?: string
}

export async function runDiff(oldFile: string, newFile: string, flags: DiffFlags, ctx: CliContext): Promise<ReportDiff> {
  checkOutputFile(flags.output)
  const format = (flags.json ? 'json' : flags.format ?? 'table') as DiffFormat
  if (!DIFF_FORMATS.includes(format)) throw new UsageError(`--format: chokepoint diff renders ${DIFF_FORMATS.join(', ')}, not "${format}"`)
  const failOn = (flags['fail-on'] ?? 'critical') as FailOn
  const oldReport = await savedReport(oldFile, flags, ctx, failOn)
  const newReport = await savedReport(newFile, flags, ctx, failOn)
  const diff = diffReports(oldReport, newReport, {failOn, oldFile, newFile})
  const toFile = Boolean(flags.output)
  const width = toFile ? undefined : process.stdout.columns || Number(process.env.COLUMNS) || undefined
  writeOutput(renderDiff(diff, format, {color: useColor(flags, toFile), width}), flags.output, ctx.secrets)
  process.exitCode = diff.gate.exitCode
  return diff
}

/** `check --baseline FILE`: the report, its gate judging only what is new or worse than in the baseline. */
export async function withBaseline(report: Report, file: string, flags: CommonFlags, ctx: CliContext): Promise<{report: Report; fresh: Set<string>}> {
  const baseline = await savedReport(file, flags, ctx, report.gate.failOn)
  const {report: gated, fresh} = applyBaseline(report, baseline, file)
  return {report: gated, fresh}
}
