import {analyseSnapshot, runAudit} from '../core/audit.js'
import {UsageError} from '../core/errors.js'
import {readSavedDocument} from '../core/snapshot-io.js'
import type {Report, Snapshot} from '../core/types.js'
import type {CliContext} from './context.js'
import {resolveRun, runProgress, type CommonFlags} from './options.js'
import {checkOutputs, parseOutputs, writeOutputs, type OutputFlags} from './outputs.js'

export interface AuditRunFlags extends CommonFlags, OutputFlags {
  'from-snapshot'?: string
  verbose?: boolean
  quiet?: boolean
}

/** The evaluation shared by `audit` and `check`: live, or offline from a snapshot with the same rules. */
export async function evaluate(flags: AuditRunFlags, ctx: CliContext): Promise<Report> {
  return (await evaluateWithSnapshot(flags, ctx)).report
}

/** The report, and the snapshot it was made from (reporters may chart its readings). */
export async function evaluateWithSnapshot(flags: AuditRunFlags, ctx: CliContext): Promise<{report: Report; snapshot: Snapshot; configFile?: string}> {
  const {log, progress} = runProgress(flags, ctx)
  const {registry, secrets} = ctx
  if (flags['from-snapshot']) {
    const run = await resolveRun(flags, {needTargets: false}, ctx)
    const doc = readSavedDocument(flags['from-snapshot'])
    if (doc.kind !== 'snapshot') {
      throw new UsageError(`${flags['from-snapshot']} is a report, not a snapshot: render it with \`chokepoint report ${flags['from-snapshot']}\``)
    }
    return {report: await analyseSnapshot(doc.snapshot, {registry, secrets, config: run.config, failOn: run.failOn, source: 'snapshot', log, progress}), snapshot: doc.snapshot, configFile: run.configFile}
  }
  const run = await resolveRun(flags, {needTargets: true}, ctx)
  return {...await runAudit({registry, secrets, config: run.config, targets: run.targets, windowSeconds: run.windowSeconds, failOn: run.failOn, concurrency: run.concurrency, log, progress,
    instrumentation: ctx.instrumentation}), configFile: run.configFile}
}

/**
 * The audit, once, rendered in every format asked for (`--format FORMAT[=PATH]`, repeatable; `fallback` when none).
 * `own` renders the formats the command handles itself (check's terse lines), listed in `ownFormats`; `regate`
 * re-judges the report before any format renders it (check --baseline).
 */
export async function auditAndRender(flags: AuditRunFlags, fallback: string, ctx: CliContext,
  own?: {formats: string[]; render: (format: string, report: Report) => string | undefined; fallbackOnStdout?: boolean},
  regate?: (report: Report) => Promise<Report>): Promise<Report> {
  const outputs = parseOutputs(flags, fallback, ctx.registry.formats(), own?.formats, {fallbackOnStdout: own?.fallbackOnStdout})
  checkOutputs(outputs)
  const evaluated = await evaluateWithSnapshot(flags, ctx)
  const {snapshot, configFile} = evaluated
  const report = regate ? await regate(evaluated.report) : evaluated.report
  await writeOutputs(report, outputs, flags, ctx, {snapshot, configFile, own: own && ((format) => own.render(format, report))})
  process.exitCode = report.gate.exitCode
  return report
}
